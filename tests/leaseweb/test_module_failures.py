"""What the modules report when things go wrong part-way (issue 15): every write that happened is a change,
a lost answer says it may have applied, exhausted retries say how often and what wait the API asked for,
bad boot files are refused before any request, and no API key is printed, whatever its shape."""

from __future__ import annotations

import json

import pytest

from tests.leaseweb.ansible_run import run_playbook

SEEDED_BOOTFILE = "http://boot.example.net/seeded.ipxe"


def _requests(sim, method: str, suffix: str) -> int:
    return sum(1 for e in sim.exchanges() if e["method"] == method and e["path"].endswith(suffix))


def test_writes_that_fail_part_way_report_what_happened(sim, client):
    sim.fault(status=500, method="POST", path="/bareMetals/v2/servers/10003/leases")
    sim.fault(status=504, apply="true", times=1, method="POST", path="*/10001/powerCycle")
    sim.fault(delay=3, times=1, method="POST", path="*/10002/powerCycle")
    sim.fault(status=503, retry_after="1", method="GET", path="/bareMetals/v2/servers/10003")
    replace, lost, slow, refused = run_playbook("write_failures.yml", sim).results()

    # The old lease was deleted, the new one refused: a change, and the message says the server has none.
    assert (replace["failed"], replace["changed"], replace["lease"]) == (True, True, None)
    assert "The old lease was deleted, but creating the new lease failed" in replace["msg"]
    assert "The server has NO lease now" in replace["msg"]
    assert replace["status"] == 500 and replace["correlation_id"] in replace["msg"]
    assert client.get_lease("10003") is None

    # The cycle happened behind the 504: it may have applied, so it is a change, and it was not sent twice.
    assert (lost["failed"], lost["changed"], lost["may_have_applied"], lost["status"]) == (
        True,
        True,
        True,
        504,
    )
    assert "may have been carried out" in lost["msg"]
    assert _requests(sim, "POST", "/10001/powerCycle") == 1

    assert (slow["failed"], slow["changed"], slow["may_have_applied"]) == (True, True, True)
    assert "ReadTimeout" in slow["msg"] and "may have been carried out" in slow["msg"]

    assert (refused["failed"], refused["status"], refused["attempts"], refused["retry_after"]) == (
        True,
        503,
        5,
        1.0,
    )
    assert "after 5 attempts" in refused["msg"]
    assert "the last answer asked to retry after 1 s" in refused["msg"]


def test_a_failed_create_without_an_old_lease_is_no_change(sim, client):
    sim.fault(status=400, method="POST", path="/bareMetals/v2/servers/10003/leases")
    client.delete_lease("10003")
    replace = run_playbook("write_failures.yml", sim).results()[0]
    assert (replace["failed"], replace["changed"], replace["lease"]) == (True, False, None)
    assert replace["msg"].startswith("server 10003: Creating the new lease failed")


def test_power_off_twice_without_wait_sends_one_power_off(simulator_factory):
    sim = simulator_factory("--power-delay", "30")
    first, second = run_playbook("power_off_twice.yml", sim).results()
    assert (first["changed"], first["previous_status"], first["status"]) == (True, "on", "off")
    assert (second["changed"], second["status"]) == (False, "off")
    assert _requests(sim, "POST", "/powerOff") == 1


BAD_BOOTFILES = [
    "not a url",
    "ftp://boot.example.net/a.ipxe",
    "javascript:alert(1)",
    "tftp://boot.example.net/undionly.kpxe",
    "http://",
    "http://boot.example.net/" + "a" * 5000,
]


def test_bad_bootfiles_are_refused_before_any_request(sim):
    run = run_playbook("bad_bootfiles.yml", sim, {"bootfiles": BAD_BOOTFILES})
    results = run.result["results"]
    assert [r["failed"] for r in results] == [True] * len(BAD_BOOTFILES)
    assert [r["changed"] for r in results] == [False] * len(BAD_BOOTFILES)
    assert "http:// or https:// URL with a host is required" in results[1]["msg"]
    assert "at most 255 bytes" in results[-1]["msg"]
    assert _requests(sim, "POST", "/leases") == 0 and _requests(sim, "GET", "/leases") == 0


@pytest.mark.parametrize("verbosity", [[], ["-vvv"]])
@pytest.mark.parametrize("shape", [" {key}", "{key}\n"])
def test_keys_with_surrounding_whitespace_work_and_never_show(sim, tmp_path, shape, verbosity):
    key_vars = tmp_path / "key.json"
    key_vars.write_text(json.dumps({"leaseweb_api_key": shape.format(key=sim.api_key)}))
    run = run_playbook("key_shapes.yml", sim, None, *verbosity, "-e", f"@{key_vars}", json_output=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0 and "...ignoring" not in output, output[-3000:]
    assert sim.api_key not in output


@pytest.mark.parametrize("verbosity", [[], ["-vvv"]])
def test_keys_with_whitespace_inside_are_refused_unprinted(sim, tmp_path, verbosity):
    half = len(sim.api_key) // 2
    key = f"{sim.api_key[:half]} {sim.api_key[half:]}"
    key_vars = tmp_path / "key.json"
    key_vars.write_text(json.dumps({"leaseweb_api_key": key}))
    run = run_playbook("key_shapes.yml", sim, None, *verbosity, "-e", f"@{key_vars}", json_output=False)
    output = run.stdout + run.stderr
    assert "contains whitespace, control or non-ASCII characters inside it (not shown)" in output
    for part in (sim.api_key[:half], sim.api_key[half:]):
        assert part not in output
    assert sim.exchanges() == []  # refused before any request
