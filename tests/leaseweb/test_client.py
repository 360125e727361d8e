"""The client against the simulator over real HTTP: pagination, every retry path, every error shape."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from leaseweb_api import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    LeasewebClient,
    NotFoundError,
    RateLimitError,
    RetryEvent,
    ServerError,
    TransportError,
)
from tests.leaseweb.simulator_process import FAST_RETRY

SERVERS = "/bareMetals/v2/servers"
LEASES = "/bareMetals/v2/servers/10001/leases"


def _calls(sim, method: str, path: str) -> list[dict]:
    return [e for e in sim.exchanges() if e["method"] == method and e["path"] == path]


@pytest.fixture
def retries(sim):
    """A client that records its retries, and the list it records them in."""
    events: list[RetryEvent] = []
    with sim.client(retry=replace(FAST_RETRY, on_retry=events.append)) as api:
        yield api, events


def test_pagination_walks_every_page(sim):
    with sim.client(page_size=2) as api:
        servers = api.list_servers()
    assert [s.id for s in servers] == ["10001", "10002", "10003", "10004", "10005"]
    assert [e["query"] for e in _calls(sim, "GET", SERVERS)] == [
        "limit=2&offset=0",
        "limit=2&offset=2",
        "limit=2&offset=4",
    ]


def test_filters_reach_the_api(client):
    assert [s.id for s in client.list_servers(site="FRA-10")] == ["10003", "10004"]
    assert [s.id for s in client.list_servers(mac_address="52:54:00:10:00:02")] == ["10002"]
    assert [s.id for s in client.list_servers(ip="10.0.1.11")] == ["10001"]
    assert [s.id for s in client.list_servers(reference="db-fra-01")] == ["10004"]
    assert client.list_servers(site="NOWHERE") == []


def test_records_carry_what_the_api_sends(client):
    server = client.get_server("10001")
    assert (server.reference, server.location.site, server.location.rack) == ("edge-ams-01", "AMS-01", "13")
    assert server.public_mac == "52:54:00:10:00:01"
    assert server.ips == ["192.0.2.11", "10.0.1.11", "10.1.1.11"]
    assert server.network_interfaces["public"].ports[0].name == "AMS-01-PUB-SW01"
    assert server.supports("powerCycle") and not client.get_server("10004").supports("powerCycle")


def test_429_with_retry_after_waits_what_the_api_asks(sim, retries):
    api, events = retries
    sim.fault(status=429, retry_after="1", times=2, method="GET", path=SERVERS)
    assert len(api.list_servers()) == 5
    assert [(e.reason, e.delay, e.retry_after) for e in events] == [("HTTP 429", 1.0, 1.0)] * 2
    assert [e["status"] for e in _calls(sim, "GET", SERVERS)] == [429, 429, 200]


def test_429_without_retry_after_backs_off_with_jitter(sim, retries):
    api, events = retries
    sim.fault(status=429, times=3, path=SERVERS)
    api.list_servers()
    assert [e.attempt for e in events] == [1, 2, 3]
    for event in events:
        step = min(FAST_RETRY.backoff_max, FAST_RETRY.backoff_base * 2 ** (event.attempt - 1))
        assert step / 2 <= event.delay <= step
        assert event.retry_after is None


def test_retry_after_beyond_the_cap_is_handed_to_the_caller(sim, retries):
    api, events = retries
    sim.fault(status=429, retry_after="3600", path=SERVERS)
    with pytest.raises(RateLimitError) as caught:
        api.list_servers()
    assert caught.value.retry_after == 3600.0
    assert events == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_reads(sim, retries, status):
    api, events = retries
    sim.fault(status=status, body="html", times=2, path="/bareMetals/v2/servers/10001")
    assert api.get_server("10001").id == "10001"
    assert [e.reason for e in events] == [f"HTTP {status}"] * 2


def test_retries_give_up_with_the_last_error(sim, retries):
    api, events = retries
    sim.fault(status=503, path=SERVERS)
    with pytest.raises(ServerError) as caught:
        api.list_servers()
    assert caught.value.status == 503
    assert caught.value.attempts == FAST_RETRY.max_attempts
    assert caught.value.error_message == "The API is not available at the moment."
    assert len(events) == FAST_RETRY.max_attempts - 1
    assert len(_calls(sim, "GET", SERVERS)) == FAST_RETRY.max_attempts


def test_500_is_not_retried(sim, retries):
    api, events = retries
    sim.fault(status=500, times=1, path=SERVERS)
    with pytest.raises(ServerError):
        api.list_servers()
    assert events == []


def test_connection_refused_is_retried_then_raised():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events: list[RetryEvent] = []
    api = LeasewebClient("key", f"http://127.0.0.1:{port}", retry=replace(FAST_RETRY, on_retry=events.append))
    # Refused before anything was sent, so even a POST is retried.
    with pytest.raises(TransportError) as caught:
        api.power_cycle("10001")
    assert caught.value.attempts == FAST_RETRY.max_attempts
    assert not caught.value.may_have_applied
    assert {e.reason for e in events} == {"ConnectionError"}


def test_a_slow_answer_times_out_and_a_read_is_retried(sim, retries):
    api, events = retries
    api.transport.timeout = (2.0, 0.3)
    sim.fault(delay=1.0, times=1, path="/bareMetals/v2/servers/10001/powerInfo")
    assert api.power_info("10001").is_on
    assert [e.reason for e in events] == ["ReadTimeout"]


def test_post_refused_with_503_is_sent_again(sim, client):
    sim.fault(status=503, times=1, method="POST", path=LEASES)
    client.create_lease("10001", "http://boot.example.net/a.ipxe")
    assert [e["status"] for e in _calls(sim, "POST", LEASES)] == [503, 204]
    assert client.get_lease("10001").bootfile == "http://boot.example.net/a.ipxe"


def test_post_whose_answer_was_lost_is_reconciled_not_repeated(sim, client):
    sim.fault(status=504, apply="true", times=1, method="POST", path=LEASES)
    client.create_lease("10001", "http://boot.example.net/b.ipxe")
    assert [e["status"] for e in _calls(sim, "POST", LEASES)] == [504]
    assert client.get_lease("10001").bootfile == "http://boot.example.net/b.ipxe"


def test_post_that_did_not_apply_is_sent_again_after_reading_state(sim, client):
    sim.fault(status=502, times=1, method="POST", path=LEASES)
    client.create_lease("10001", "http://boot.example.net/c.ipxe")
    assert [e["status"] for e in _calls(sim, "POST", LEASES)] == [502, 204]
    assert len(_calls(sim, "GET", LEASES)) == 1  # the read in between


def test_post_that_never_applied_gives_up_saying_so(sim, client):
    sim.fault(status=502, method="POST", path=LEASES)
    with pytest.raises(ServerError) as caught:
        client.create_lease("10001", "http://boot.example.net/d.ipxe")
    assert not caught.value.may_have_applied
    assert "may have been carried out" not in str(caught.value)
    assert len(_calls(sim, "POST", LEASES)) == FAST_RETRY.max_attempts


def test_power_cycle_with_a_lost_answer_is_raised_not_repeated(sim, client):
    path = "/bareMetals/v2/servers/10001/powerCycle"
    sim.fault(status=504, times=1, method="POST", path=path)
    with pytest.raises(ServerError) as caught:
        client.power_cycle("10001")
    assert caught.value.may_have_applied
    assert "may have been carried out" in str(caught.value)
    assert len(_calls(sim, "POST", path)) == 1


def test_job_start_with_a_lost_answer_returns_the_job_it_started(sim, client):
    path = "/bareMetals/v2/servers/10001/install"
    sim.fault(status=504, apply="true", times=1, method="POST", path=path)
    job = client.install("10001", "DEBIAN_12_64BIT")
    assert job.type == "install" and job.is_running
    assert len(_calls(sim, "POST", path)) == 1
    assert client.list_jobs("10001")[0].uuid == job.uuid


def _fault(client: LeasewebClient, rule: str) -> None:
    client.transport.session.headers["X-Simulator-Fault"] = rule


@pytest.mark.parametrize(
    ("body", "code", "message", "details"),
    [
        ("documented", "500", "The API could not handle your request at this time.", None),
        ("symbol", "APP00800", "The connection with the DB cannot be established.", None),
        ("details-list", "500", "The API could not handle your request at this time.", [1001, 1002]),
        (
            "details-nested",
            "500",
            "The API could not handle",
            {"bootfile": {"format": ["This value is not a valid URL."]}},
        ),
        ("empty-object", None, "Internal Server Error", None),
        ("empty", None, "Internal Server Error", None),
        ("html", None, "Internal Server Error (non-JSON body: <html>", None),
    ],
)
def test_every_error_shape_is_parsed(client, body, code, message, details):
    _fault(client, f"status=500,body={body}")
    with pytest.raises(ServerError) as caught:
        client.get_server("10001")
    error = caught.value
    assert (error.status, error.error_code, error.error_details) == (500, code, details)
    assert error.error_message.startswith(message)
    # From the body when it has one, from the APIGW-CORRELATION-ID header otherwise: always there.
    assert error.correlation_id and len(error.correlation_id) == 36
    assert error.correlation_id in str(error)


def test_symbol_error_carries_user_message_and_reference(client):
    _fault(client, "status=401,body=symbol")
    with pytest.raises(AuthenticationError) as caught:
        client.list_servers()
    assert caught.value.error_code == "ACCESS_DENIED"
    assert caught.value.reference == "https://developer.leaseweb.com/errors/ACCESS_DENIED"
    assert caught.value.user_message


def test_nested_and_list_details_are_flattened_for_people(client):
    _fault(client, "status=500,body=details-nested")
    with pytest.raises(ApiError) as caught:
        client.list_servers()
    assert caught.value.detail_messages() == ["bootfile.format: This value is not a valid URL."]


def test_wrong_key_is_an_authentication_error(sim):
    with (
        LeasewebClient("not-the-key", sim.url, retry=FAST_RETRY) as api,
        pytest.raises(AuthenticationError) as caught,
    ):
        api.list_servers()
    assert caught.value.error_code == "401"
    assert caught.value.error_message == "You are not authorized to view this resource."
    assert "not-the-key" not in str(caught.value)


def test_unknown_server_is_not_found(client):
    with pytest.raises(NotFoundError) as caught:
        client.get_server("99999")
    assert (caught.value.error_code, caught.value.error_message) == ("404", "Resource not found")


def test_bad_body_carries_error_details(client):
    with pytest.raises(BadRequestError) as caught:
        client.install("10001", "NO_SUCH_OS")
    assert caught.value.error_details == {
        "operatingSystemId": ["The operating system 'NO_SUCH_OS' is not available."]
    }
    with pytest.raises(BadRequestError) as caught:
        client.install("10001", "DEBIAN_12_64BIT", raid={"type": "RAID9"}, power_cycle="yes")
    assert caught.value.error_details == {
        "powerCycle": ["This value should be of type boolean."],
        "raid": ["The RAID type must be HW, SW or NONE."],
    }
    with pytest.raises(BadRequestError) as caught:
        client.transport.request("POST", LEASES, json={"bootFileName": "http://x/y"})
    assert caught.value.error_details == {
        "bootfile": ["This value should not be blank."],
        "bootFileName": ["This field was not expected."],
    }


def test_a_second_job_conflicts(client):
    client.rescue_mode("10001")
    with pytest.raises(ConflictError):
        client.install("10001", "DEBIAN_12_64BIT")


def test_key_and_url_from_the_environment(sim, monkeypatch):
    monkeypatch.setenv("LSW_API_KEY", sim.api_key)
    monkeypatch.setenv("LSW_BASE_URL", sim.url)
    with LeasewebClient() as api:
        assert api.get_server("10002").reference == "edge-ams-02"
    monkeypatch.delenv("LSW_API_KEY")
    with pytest.raises(ConfigurationError, match="LSW_API_KEY"):
        LeasewebClient()
    with pytest.raises(ConfigurationError, match="not an http"):
        LeasewebClient("key", "ftp://example.net")


def test_v1_leases_per_mac(sim, client):
    mac = "52:54:00:10:00:01"
    assert client.list_v1_leases("10001") == []
    client.create_v1_lease("10001", "http://boot.example.net/v1.ipxe")
    sent = _calls(sim, "POST", "/v1/bareMetals/10001/leases")[0]
    assert sent["request_body"] == "bootFileName=http%3A%2F%2Fboot.example.net%2Fv1.ipxe"
    (lease,) = client.list_v1_leases("10001")
    assert (lease.mac, lease.bootfile) == (mac, "http://boot.example.net/v1.ipxe")
    assert client.get_v1_lease("10001", mac).bootfile == "http://boot.example.net/v1.ipxe"
    # v1 and v2 show the same reservation.
    assert client.get_lease("10001").bootfile == "http://boot.example.net/v1.ipxe"
    client.delete_v1_lease("10001", mac)
    assert client.get_lease("10001") is None
    with pytest.raises(NotFoundError):
        client.get_v1_lease("10001", mac)
