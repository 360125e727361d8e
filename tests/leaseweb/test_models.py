"""Reading the API's records and error bodies defensively, and the retry arithmetic (no network)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from leaseweb_api import Job, PowerInfo, RetryPolicy, Server, V1Lease
from leaseweb_api.errors import ApiError
from leaseweb_api.retry import parse_retry_after


def test_interface_ip_in_cidr_form_is_split():
    server = Server.from_api(
        {"id": 7, "networkInterfaces": {"public": {"ip": "192.0.2.5/26", "mac": "AA:BB:CC:DD:EE:FF"}}}
    )
    public = server.network_interfaces["public"]
    assert (server.id, public.ip, public.prefix_length) == ("7", "192.0.2.5", 26)
    assert server.to_dict()["public_ip"] == "192.0.2.5"


def test_server_with_null_interfaces_and_no_contract():
    server = Server.from_api(
        {"id": "1", "networkInterfaces": {"public": {"mac": None, "ip": None, "ports": []}, "internal": None}}
    )
    assert (server.reference, server.public_mac, server.macs, server.ips) == (None, None, [], [])
    assert not server.supports("powerCycle")


def test_power_status_in_either_case():
    assert PowerInfo.from_api({"ipmi": {"status": "ON"}, "pdu": {"status": "on"}}).is_on
    assert PowerInfo.from_api({"ipmi": {"status": "off"}, "pdu": {"status": "on"}}).status == "off"
    assert not PowerInfo.from_api({}).is_on


def test_current_task_wrapped_or_not():
    task = {"uuid": "t1", "status": "INPROGRESS", "description": "Install"}
    wrapped = Job.from_api({"uuid": "j", "currentTask": {"task": task}})
    bare = Job.from_api({"uuid": "j", "currentTask": task})
    assert wrapped.current_task == bare.current_task
    assert bare.current_task.description == "Install"


def test_failed_task_prefers_the_failed_one():
    job = Job.from_api(
        {
            "uuid": "j",
            "status": "FAILED",
            "tasks": [
                {"status": "FINISHED"},
                {"status": "FAILED", "errorMessage": "disk"},
                {"status": "CANCELED"},
            ],
        }
    )
    assert job.has_failed and job.is_terminal
    assert job.failed_task().error_message == "disk"


def test_v1_bootfile_prefers_the_ipxe_option():
    lease = V1Lease.from_api(
        {
            "mac": "C8:CB:B8:C5:17:0C",
            "options": [
                {"optionId": "67", "userClass": "", "value": "undionly.kpxe"},
                {"optionId": "67", "userClass": "gPXE", "value": "http://x/boot.ipxe"},
            ],
        }
    )
    assert lease.bootfile == "http://x/boot.ipxe"
    assert V1Lease.from_api({"options": [{"optionId": "67", "value": "pxelinux.0"}]}).bootfile == "pxelinux.0"


def test_error_details_of_any_shape_read_as_lines():
    def details(value):
        return ApiError(
            400, error_code="400", error_message="m", correlation_id=None, error_details=value
        ).detail_messages()

    assert details({"a": ["x", "y"]}) == ["a: x", "a: y"]
    assert details({"a": {"b": ["x"]}}) == ["a.b: x"]
    assert details([1001, 1002]) == ["1001", "1002"]
    assert details({}) == details(None) == []


def test_retry_after_as_seconds_or_a_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_grows_to_its_cap_with_jitter():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0)
    rng = random.Random(1)
    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        delays = {policy.backoff(attempt, rng) for _ in range(20)}
        assert all(step / 2 <= d <= step for d in delays)
        assert len(delays) > 1  # jitter
