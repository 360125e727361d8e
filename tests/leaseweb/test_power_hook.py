"""The power hook: a command gets one JSON event on stdin for every successful power call."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from leaseweb_api import ApiError
from tests.leaseweb import openapi_check

RECORDER = Path(__file__).with_name("record_stdin.py")


def _events(path: Path, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"the hook recorded {len(lines)} of {count} events")


@pytest.fixture
def hooked(simulator_factory, tmp_path):
    out = tmp_path / "events.jsonl"
    hook = f"{shlex.quote(sys.executable)} {shlex.quote(str(RECORDER))} {shlex.quote(str(out))}"
    sim = simulator_factory("--power-hook", hook)
    with sim.client() as api:
        yield sim, api, out


def test_power_cycle_with_and_without_a_lease(hooked):
    _, api, out = hooked
    api.create_lease("10001", "http://10.0.2.2:8080/edge-ams-01.ipxe", hostname="edge-ams-01")
    api.power_cycle("10001")
    api.delete_lease("10001")
    api.power_cycle("10001")
    assert _events(out, 2) == [
        {
            "event": "powerCycle",
            "serverId": "10001",
            "macAddress": "52:54:00:10:00:01",
            "lease": {"bootfile": "http://10.0.2.2:8080/edge-ams-01.ipxe", "hostname": "edge-ams-01"},
        },
        {"event": "powerCycle", "serverId": "10001", "macAddress": "52:54:00:10:00:01", "lease": None},
    ]


def test_on_and_off_in_order_and_the_exit_status_is_logged(hooked):
    sim, api, out = hooked
    api.power_off("10003")
    api.power_on("10003")
    events = _events(out, 2)
    assert [(e["event"], e["serverId"], e["lease"]["hostname"]) for e in events] == [
        ("powerOff", "10003", "edge-fra-01"),
        ("powerOn", "10003", "edge-fra-01"),
    ]
    deadline = time.monotonic() + 10
    while sim.log().count("event=power_hook") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    hook_lines = [line for line in sim.log().splitlines() if "event=power_hook" in line]
    assert len(hook_lines) == 2
    assert all("exit_status=0" in line and "server_id=10003" in line for line in hook_lines)


def test_refused_calls_run_no_hook(hooked):
    sim, api, out = hooked
    sim.fault(status=500, times=1, method="POST", path="/bareMetals/v2/servers/10001/powerCycle")
    with pytest.raises(ApiError):
        api.power_cycle("10001")
    api.power_off("10001")
    # One server's hooks run in order, so a hook for the refused call would have come first.
    assert [e["event"] for e in _events(out, 1)] == ["powerOff"]


def test_a_failing_hook_is_logged_and_the_api_answers(simulator_factory):
    sim = simulator_factory("--power-hook", "false")
    with sim.client() as api:
        api.power_cycle("10001")
    deadline = time.monotonic() + 10
    while "event=power_hook" not in sim.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "exit_status=1" in sim.log()


INSTALLER = Path(__file__).with_name("install_hook.py")
SCRIPT = "IyEvYmluL3NoCnRydWUK"  # base64 of "#!/bin/sh\ntrue\n"


@pytest.fixture
def installer(simulator_factory, tmp_path):
    """A simulator whose hook is an installer that finishes when the test says so, with the status said."""
    out, release = tmp_path / "events.jsonl", tmp_path / "release"
    hook = " ".join(shlex.quote(str(part)) for part in (sys.executable, INSTALLER, out, release))
    sim = simulator_factory("--power-hook", hook, "--job-step-seconds", "0.05")
    with sim.client() as api:
        yield api, out, release
    # A job held by its installer still looks as the spec says, at every read.
    assert openapi_check.simulator_problems(sim.exchanges()) == []


def _job_status(api, job_id: str, wanted: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while (status := api.get_job("10001", job_id).status) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_an_install_job_is_handed_to_the_hook_and_ends_when_it_does(installer):
    api, out, release = installer
    job = api.install(
        "10001",
        "DEBIAN_12_64BIT",
        hostname="edge-ams-01",
        ssh_keys="ssh-ed25519 AAAA k",
        post_install_script=SCRIPT,
    )
    (event,) = _events(out, 1)
    assert event == {
        "event": "install",
        "serverId": "10001",
        "macAddress": "52:54:00:10:00:01",
        "lease": None,
        "jobId": job.uuid,
        "install": {
            "operatingSystemId": "DEBIAN_12_64BIT",
            "hostname": "edge-ams-01",
            "sshKeys": "ssh-ed25519 AAAA k",
            "postInstallScript": SCRIPT,
        },
    }
    # Its clock ran out (6 tasks of 0.05 s): the job waits for the installer all the same.
    time.sleep(0.6)
    running = api.get_job("10001", job.uuid)
    assert (running.status, running.tasks[-1].status) == ("ACTIVE", "INPROGRESS")
    release.write_text("0")
    assert _job_status(api, job.uuid, "FINISHED") == "FINISHED"
    assert "postInstallScript" not in api.get_job("10001", job.uuid).payload


def test_a_failed_installer_fails_the_job_in_its_install_task(installer):
    api, _, release = installer
    release.write_text("1")
    job = api.install("10001", "DEBIAN_12_64BIT")
    assert _job_status(api, job.uuid, "FAILED") == "FAILED"
    failed = api.get_job("10001", job.uuid).failed_task()
    assert failed is not None and failed.description == "Install the operating system"
