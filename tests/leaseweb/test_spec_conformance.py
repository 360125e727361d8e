"""The simulator's answers, and the client's requests, against LeaseWeb's official OpenAPI spec."""

from __future__ import annotations

import json
import time

import pytest
import requests

from leaseweb_api import ApiError, LeasewebClient
from tests.leaseweb import openapi_check
from tests.leaseweb.simulator_process import SimulatorProcess


def _exercise_every_endpoint(client: LeasewebClient, sim: SimulatorProcess) -> None:
    """One call (at least) to each v2 operation the client and the simulator implement."""
    client.list_servers()
    client.list_servers(
        site="AMS-01", reference="edge-ams-01", ip="192.0.2.11", mac_address="52:54:00:10:00:01"
    )
    client.get_server("10001")
    client.update_reference("10005", "edge-sin-01")
    client.list_network_interfaces("10001")
    client.list_leases("10003")
    client.create_lease("10001", "http://boot.example.net/10001.ipxe", hostname="edge-ams-01")
    client.delete_lease("10003")
    client.power_info("10001")
    client.power_off("10001")
    client.power_on("10002")
    client.power_cycle("10001")
    job = client.install("10001", "DEBIAN_12_64BIT", hostname="edge-ams-01", ssh_keys="ssh-ed25519 AAAA test")
    client.get_job("10001", job.uuid)
    client.list_jobs("10001", type="install", is_running=True)
    client.cancel_active_job("10001")
    client.rescue_mode("10002", "GRML", power_cycle=True)
    client.expire_active_job("10002")
    client.list_operating_systems()
    client.list_rescue_images()
    for path in ("networkInterfaces/public", "networkInterfaces/close", "networkInterfaces/open"):
        method = "GET" if path.endswith("public") else "POST"
        client.transport.request(method, client._server_path("10001", path))
    for name in ("public/close", "public/open"):
        client.transport.request("POST", client._server_path("10001", "networkInterfaces", name))
    # Documented errors: unknown server, bad body, no key.
    for call in (lambda: client.get_server("99999"), lambda: client.create_lease("10001", "")):
        with pytest.raises(ApiError):
            call()
    requests.get(f"{sim.url}/bareMetals/v2/servers", timeout=5)


def test_every_exchange_validates_against_the_spec(client, sim):
    _exercise_every_endpoint(client, sim)
    exchanges = [e for e in sim.exchanges() if openapi_check.in_spec(e)]
    assert len(exchanges) >= 25
    problems = [p for e in exchanges for p in openapi_check.response_problems(e)]
    # Requests: all but the two deliberately bad ones (a blank bootfile is valid to the spec, so it counts).
    sent_by_client = [e for e in exchanges if e["request_headers"].get("X-LSW-Auth")]
    problems += [p for e in sent_by_client for p in openapi_check.request_problems(e)]
    assert problems == []
    statuses = {e["status"] for e in exchanges}
    assert {200, 202, 204, 400, 401, 404} <= statuses


def test_job_shapes_validate_while_running_and_after(client, sim):
    job = client.install("10001", "UBUNTU_24_04_64BIT")
    client.get_job("10001", job.uuid)
    time.sleep(0.5)
    client.get_job("10001", job.uuid)
    time.sleep(1.2)
    assert client.get_job("10001", job.uuid).is_finished
    problems = [p for e in sim.exchanges() for p in openapi_check.response_problems(e)]
    assert problems == []


def test_the_checker_finds_what_breaks_the_spec(client, sim):
    """The checks above can fail: altered copies of real exchanges are caught."""
    client.get_server("10001")
    client.create_lease("10001", "http://boot.example.net/x.ipxe")
    got, posted = sim.exchanges()
    assert openapi_check.response_problems(got) == openapi_check.request_problems(posted) == []

    server = json.loads(got["response_body"])
    server["networkInterfaces"]["public"]["ip"] = "192.0.2.11/24"  # the live API's CIDR form
    server["rack"]["type"] = "WOODEN"
    (problem,) = openapi_check.response_problems({**got, "response_body": json.dumps(server)})
    assert "'192.0.2.11/24' is not a 'ipv4'" in problem and "'WOODEN' is not one of" in problem

    (problem,) = openapi_check.request_problems({**posted, "request_body": json.dumps({"hostname": "x"})})
    assert "'bootfile' is a required property" in problem
    (problem,) = openapi_check.request_problems({**got, "request_headers": {}})
    assert "X-LSW-Auth" in problem
    assert openapi_check.response_problems({**got, "status": 418}) == [
        "GET /bareMetals/v2/servers/10001 -> 418: status not declared by the operation"
    ]
