"""The simulator's own behaviour: authentication, errors, leases, power, jobs, faults, persistence."""

from __future__ import annotations

import json
import time

import pytest
import requests

from leaseweb_api import ApiError, ConflictError, NotFoundError
from leaseweb_api.simulator.faults import FaultSpecError, parse_rule
from leaseweb_api.simulator.jobs import Job

V2 = "/bareMetals/v2"


def _get(sim, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{sim.url}{path}", headers=headers, timeout=5)


def _wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def test_no_key_is_401_with_the_documented_body(sim):
    response = _get(sim, f"{V2}/servers")
    assert response.status_code == 401
    body = response.json()
    assert body == {
        "correlationId": response.headers["APIGW-CORRELATION-ID"],
        "errorCode": "401",
        "errorMessage": "You are not authorized to view this resource.",
    }


def test_every_answer_has_a_fresh_correlation_id(sim):
    ids = {
        _get(sim, f"{V2}/servers/10001", **{"X-LSW-Auth": sim.api_key}).headers["APIGW-CORRELATION-ID"]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_unknown_server_route_and_method(sim):
    auth = {"X-LSW-Auth": sim.api_key}
    for path in (f"{V2}/servers/nope", f"{V2}/servers/nope/leases", f"{V2}/nothing-here"):
        response = _get(sim, path, **auth)
        assert (response.status_code, response.json()["errorMessage"]) == (404, "Resource not found")
    response = requests.delete(f"{sim.url}{V2}/servers/10001/powerInfo", headers=auth, timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_bad_bodies_are_400_with_error_details(sim):
    auth = {"X-LSW-Auth": sim.api_key, "Content-Type": "application/json"}
    url = f"{sim.url}{V2}/servers/10001/leases"
    cases = [
        (b"{not json", {"body": ["The request body is not valid JSON."]}),
        (b"[]", {"body": ["The request body must be a JSON object."]}),
        (json.dumps({"bootfile": 7}).encode(), {"bootfile": ["This value should be of type string."]}),
        (json.dumps({"bootfile": " "}).encode(), {"bootfile": ["This value should not be blank."]}),
    ]
    for body, details in cases:
        response = requests.post(url, data=body, headers=auth, timeout=5)
        assert response.status_code == 400
        assert response.json()["errorDetails"] == details
        assert response.json()["correlationId"] == response.headers["APIGW-CORRELATION-ID"]


def test_lease_fills_in_the_public_interface_and_is_replaced(client):
    client.create_lease("10001", "http://boot.example.net/one.ipxe")
    client.create_lease("10001", "http://boot.example.net/two.ipxe", hostname="edge-ams-01")
    (lease,) = client.list_leases("10001")
    assert (lease.bootfile, lease.hostname) == ("http://boot.example.net/two.ipxe", "edge-ams-01")
    assert (lease.mac, lease.ip, lease.gateway, lease.netmask, lease.site) == (
        "52:54:00:10:00:01",
        "192.0.2.11",
        "192.0.2.1",
        "255.255.255.0",
        "AMS-01",
    )
    assert lease.last_client_request is None
    client.delete_lease("10001")
    client.delete_lease("10001")  # deleting nothing is fine
    assert client.list_leases("10001") == []


def test_existing_lease_can_be_made_a_conflict(simulator_factory):
    sim = simulator_factory("--on-existing-lease", "conflict")
    with sim.client() as api:
        with pytest.raises(ConflictError):
            api.create_lease("10003", "http://boot.example.net/other.ipxe")
        api.delete_lease("10003")
        api.create_lease("10003", "http://boot.example.net/other.ipxe")


def test_lease_ttl_expires_leases(simulator_factory):
    sim = simulator_factory("--lease-ttl", "0.3")
    with sim.client() as api:
        api.create_lease("10001", "http://boot.example.net/short.ipxe")
        _wait_for(lambda: api.list_leases("10001") == [])


def test_power_changes_show_at_once_and_a_cycle_after_the_delay(client):
    assert client.power_info("10002").status == "off"
    client.power_on("10002")
    assert client.power_info("10002").is_on  # IPMI reports the switched chassis at once
    client.power_cycle("10001")
    # IPMI shows the server down during the cycle, then up again.
    assert client.power_info("10001").ipmi == "off"
    assert _wait_for(lambda: client.power_info("10001").is_on)


def test_booting_with_a_lease_marks_it_used(client):
    client.create_lease("10001", "http://boot.example.net/used.ipxe")
    client.power_cycle("10001")
    lease = client.get_lease("10001")
    assert lease.last_client_request == {"relayAgent": None, "type": "DHCP_REQUEST", "userAgent": "iPXE"}


def test_power_without_the_feature_is_refused(client):
    with pytest.raises(ApiError) as caught:
        client.power_cycle("10004")
    assert caught.value.status == 400
    assert "featureAvailability.powerCycle" in caught.value.error_message


def test_interfaces_open_and_close(client):
    path = client._server_path("10001", "networkInterfaces", "public", "close")
    client.transport.request("POST", path)
    statuses = {nic.type: nic.status for nic in client.list_network_interfaces("10001")}
    assert statuses == {"PUBLIC": "CLOSED", "INTERNAL": "OPEN", "REMOTE_MANAGEMENT": "OPEN"}


def test_jobs_move_through_their_tasks_to_finished(client):
    job = client.install("10001", "DEBIAN_12_64BIT", hostname="edge-ams-01", password="s3cret")
    assert (job.status, job.is_running, job.flow) == ("ACTIVE", True, "main")
    assert job.current_task.status == "INPROGRESS"
    assert "password" not in job.payload and job.payload["hostname"] == "edge-ams-01"
    seen = set()

    def finished():
        current = client.get_job("10001", job.uuid)
        seen.update(task.status for task in current.tasks)
        return current if current.is_finished else None

    done = _wait_for(finished)
    assert {"WAITING", "INPROGRESS", "FINISHED"} <= seen
    assert (done.is_running, done.flow, done.current_task, done.progress["percentage"]) == (
        False,
        "#stop",
        None,
        100,
    )
    assert client.list_jobs("10001", is_running=True) == []
    assert [j.uuid for j in client.list_jobs("10001", type="install", status="FINISHED")] == [job.uuid]


def test_a_job_can_be_made_to_fail(sim, client):
    sim.fault(job="failed", times=1, path=f"{V2}/servers/10001/rescueMode")
    job = client.rescue_mode("10001")
    failed = _wait_for(lambda: (j := client.get_job("10001", job.uuid)).has_failed and j)
    task = failed.failed_task()
    assert (failed.status, task.status, task.description) == ("FAILED", "FAILED", "Boot the rescue image")
    assert task.error_message == "The server did not fetch the rescue image within the timeout"
    assert [t.status for t in failed.tasks] == ["FINISHED", "FINISHED", "FAILED", "SKIPPED"]


def test_cancel_and_expire_stop_the_active_job(client):
    client.install("10001", "DEBIAN_12_64BIT")
    canceled = client.cancel_active_job("10001")
    assert (canceled.status, canceled.current_task.status) == ("CANCELED", "CANCELED")
    client.rescue_mode("10001")
    assert client.expire_active_job("10001").status == "EXPIRED"
    with pytest.raises(NotFoundError):
        client.expire_active_job("10001")


def test_a_new_job_can_replace_the_running_one(simulator_factory):
    sim = simulator_factory("--on-active-job", "replace")
    with sim.client() as api:
        first = api.install("10001", "DEBIAN_12_64BIT")
        api.install("10001", "UBUNTU_24_04_64BIT")
        assert api.get_job("10001", first.uuid).status == "EXPIRED"


def test_automation_off_refuses_jobs(client):
    with pytest.raises(ApiError, match=r"featureAvailability\.automation"):
        client.install("10004", "DEBIAN_12_64BIT")


def test_job_timeline_by_the_clock():
    job = Job.start("install", "1", "aa:bb:cc:dd:ee:ff", now=100.0, step=10.0, payload={}, fail=False)
    assert [t["status"] for t in job.render(125.0)["tasks"]] == ["FINISHED", "FINISHED", "INPROGRESS"] + [
        "WAITING"
    ] * 3
    assert job.render(125.0)["progress"]["percentage"] == 33
    assert job.status(159.9) == "ACTIVE" and job.status(160.0) == "FINISHED"
    job.stop("CANCELED", 135.0)
    rendered = job.render(500.0)
    assert [t["status"] for t in rendered["tasks"]] == ["FINISHED"] * 3 + ["CANCELED", "SKIPPED", "SKIPPED"]
    assert rendered["currentTask"]["statusTimestamps"]["CANCELED"] == "1970-01-01T00:02:15+00:00"


def test_probability_and_times_in_fault_rules():
    rule = parse_rule("status=503,retry_after=2,times=2,method=post,path=/bareMetals/v2/servers/*/powerCycle")
    assert (rule.status, rule.method, rule.times, rule.retry_after) == (503, "POST", 2, "2")
    assert rule.matches("POST", "/bareMetals/v2/servers/1/powerCycle")
    assert not rule.matches("GET", "/bareMetals/v2/servers/1/powerCycle")
    for bad in ("status=200", "body=weird", "nonsense", "color=red", "retry_after=1"):
        with pytest.raises(FaultSpecError):
            parse_rule(bad)


def test_run_wide_faults_from_the_command_line(simulator_factory):
    sim = simulator_factory("--fault", "status=503,method=GET,path=/bareMetals/v2/servers/10002")
    with sim.client() as api:
        with pytest.raises(ApiError) as caught:
            api.get_server("10002")
        assert caught.value.status == 503
        assert api.get_server("10001").id == "10001"
    sim.admin("DELETE", "faults")  # back to the command line's rules: still there
    assert sim.admin("GET", "faults").json()["faults"][0]["status"] == 503


def test_a_bad_fault_header_is_a_400(client):
    client.transport.session.headers["X-Simulator-Fault"] = "status=abc"
    with pytest.raises(ApiError) as caught:
        client.list_servers()
    assert caught.value.status == 400
    assert "X-Simulator-Fault" in caught.value.error_details


def test_the_journal_never_keeps_the_key(sim, client):
    client.list_servers()
    (exchange,) = sim.exchanges()
    assert exchange["request_headers"]["X-LSW-Auth"] == "[redacted]"
    assert sim.api_key not in json.dumps(sim.exchanges())
    assert sim.api_key not in sim.log()


def test_state_file_survives_a_restart(simulator_factory, tmp_path):
    state = tmp_path / "state.json"
    first = simulator_factory("--state", str(state))
    with first.client() as api:
        api.create_lease("10002", "http://boot.example.net/kept.ipxe", hostname="edge-ams-02")
        api.power_on("10002")
        job = api.install("10001", "DEBIAN_12_64BIT")
    assert first.stop() == 0  # SIGTERM: a clean stop
    assert "event=stopped" in first.log()
    saved = json.loads(state.read_text())
    assert next(s for s in saved["servers"] if s["id"] == "10002")["lease"]["bootfile"].endswith("kept.ipxe")
    second = simulator_factory("--state", str(state), seed=None)  # the state wins over any seed
    with second.client() as api:
        assert api.get_lease("10002").hostname == "edge-ams-02"
        assert api.power_info("10002").is_on
        assert api.get_job("10001", job.uuid).type == "install"
        assert api.get_server("10003").reference == "edge-fra-01"


def test_the_packaged_example_seed_serves(simulator_factory):
    sim = simulator_factory(seed=None)
    with sim.client() as api:
        servers = api.list_servers()
    assert [s.reference for s in servers] == ["edge-ams-01", "edge-ams-02", "db-fra-01"]
    assert sim.server_state("83017341")["extra"] == {"role": "edge"}
