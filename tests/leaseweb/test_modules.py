"""The modules through real ansible-playbook runs against the simulator: check mode predicts, apply changes,
a second apply changes nothing; errors carry the API's message and correlation id; the key never shows."""

from __future__ import annotations

import json
import sys

import pytest

from tests.leaseweb.ansible_run import run_ansible, run_playbook

BOOT_A = "http://boot.example.net/a.ipxe"
BOOT_B = "http://boot.example.net/b.ipxe"
# Every exchange of these tests is checked against the official spec afterwards.
pytestmark = pytest.mark.usefixtures("spec_checked")
MODULES = (
    "leaseweb_server_info",
    "leaseweb_dhcp_lease",
    "leaseweb_power",
    "leaseweb_job",
    "leaseweb_hardware_info",
    "leaseweb_network_interface",
    "leaseweb_credential",
    "leaseweb_credential_info",
    "leaseweb_server",
)


MAC_10001 = "52:54:00:10:00:01"


def _ok(run) -> list[dict]:
    """Every task's result of a run that succeeded."""
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.results()


def _requests(sim, method: str, suffix: str) -> int:
    return sum(1 for e in sim.exchanges() if e["method"] == method and e["path"].endswith(suffix))


def test_dhcp_lease_check_apply_again_replace_remove(sim, client):
    run = run_playbook("dhcp_lease.yml", sim)
    check, apply, again, replace, remove_check, remove, remove_again = _ok(run)
    lease_a = {"bootfile": BOOT_A, "hostname": "edge-ams-01"}

    assert (check["changed"], check["lease"], check["diff"]) == (
        True,
        lease_a,
        {"before": {}, "after": lease_a},
    )
    # The apply after it still had a change to make: check mode did not make it.
    assert (apply["changed"], apply["diff"]) == (True, {"before": {}, "after": lease_a})
    assert (apply["lease"]["bootfile"], apply["lease"]["mac"], apply["lease"]["ip"]) == (
        BOOT_A,
        MAC_10001,
        "192.0.2.11",
    )
    assert (again["changed"], again["lease"]["bootfile"]) == (False, BOOT_A)

    assert replace["changed"] is True
    assert replace["diff"] == {"before": lease_a, "after": {"bootfile": BOOT_B, "hostname": None}}
    assert replace["lease"]["bootfile"] == BOOT_B

    assert (remove_check["changed"], remove_check["lease"], remove_check["diff"]["after"]) == (True, None, {})
    assert (remove["changed"], remove["lease"]) == (True, None)
    assert remove_again["changed"] is False
    assert client.get_lease("10001") is None
    assert _requests(sim, "POST", "/leases") == 2  # set and replace; check mode and the repeats sent none
    assert _requests(sim, "DELETE", "/leases") == 2  # replace and remove


def test_power_check_apply_wait_and_again(sim, client):
    run = run_playbook("power.yml", sim)
    on_check, on, on_again, cycle_check, cycle, cycle_again, off, off_again = _ok(run)

    assert (on_check["changed"], on_check["status"], on_check["previous_status"]) == (True, "off", "off")
    assert on_check["diff"] == {"before": {"power": "off"}, "after": {"power": "on"}}
    # The simulator shows a change 0.3 s late; with wait, the module saw it happen.
    assert (on["changed"], on["previous_status"], on["status"], on["power"]) == (
        True,
        "off",
        "on",
        {"ipmi": "on", "pdu": "on"},
    )
    assert (on_again["changed"], on_again["status"]) == (False, "on")

    assert (cycle_check["changed"], cycle["changed"], cycle_again["changed"]) == (True, True, True)
    assert (cycle["status"], cycle_again["status"]) == ("on", "on")
    assert (off["changed"], off["status"], off_again["changed"]) == (True, "off", False)

    assert _requests(sim, "POST", "/powerOn") == 1
    assert _requests(sim, "POST", "/powerCycle") == 2
    assert _requests(sim, "POST", "/powerOff") == 1
    assert not client.power_info("10001").is_on


def test_job_check_apply_wait_and_again(sim, client):
    run = run_playbook("job.yml", sim, {"root_password": "correct-horse"})
    check, apply, again = _ok(run)
    assert (check["changed"], check["job"]) == (True, None)
    assert apply["changed"] is True
    assert (apply["job"]["type"], apply["job"]["status"], apply["job"]["is_running"]) == (
        "install",
        "FINISHED",
        False,
    )
    assert apply["job"]["payload"]["operatingSystemId"] == "DEBIAN_12_64BIT"
    assert (again["changed"], again["job"]["uuid"]) == (False, apply["job"]["uuid"])
    assert _requests(sim, "POST", "/install") == 1
    assert "correct-horse" not in run.stdout


def test_job_failures_name_the_task_and_the_status(sim, client):
    sim.fault(job="failed", times=1, path="/bareMetals/v2/servers/10002/install")
    expired = client.rescue_mode("10001")
    client.expire_active_job("10001")
    run = run_playbook("job_failures.yml", sim, {"expired_job_id": expired.uuid})
    failed, gone, slow = run.results()

    assert (failed["failed"], failed["changed"], failed["job"]["status"]) == (True, True, "FAILED")
    assert "ended FAILED: task 'Install the operating system' FAILED" in failed["msg"]
    assert "The installer exited with status 1" in failed["msg"]
    assert failed["failed_task"]["description"] == "Install the operating system"

    assert (gone["failed"], gone["changed"]) == (True, False)
    assert f"job {expired.uuid} (rescueMode) on server 10001 ended EXPIRED" in gone["msg"]

    assert slow["failed"] and "timed out after 0.3 s waiting for rescueMode job" in slow["msg"]
    assert slow["job"]["status"] == "ACTIVE"


def test_server_info_finds_servers(sim):
    run = run_playbook("server_info.yml", sim)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.stats["changed"] == 0 and run.stats["failures"] == 0


def test_errors_carry_the_api_message_and_correlation_id(sim, tmp_path):
    no_site = tmp_path / "python-without-site-packages"
    no_site.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    no_site.chmod(0o755)
    run = run_playbook("errors.yml", sim, {"python_without_site_packages": str(no_site)})
    unknown, blank, no_power, bad_os, no_library = run.results()
    errors = {e["correlation_id"]: e for e in sim.exchanges() if e["status"] >= 400}

    assert (unknown["status"], unknown["error_code"], unknown["error_message"]) == (
        404,
        "404",
        "Resource not found",
    )
    assert unknown["correlation_id"] in errors and unknown["correlation_id"] in unknown["msg"]
    assert "Resource not found" in unknown["msg"]

    # Refused by the module before any request (the simulator would answer 400 with the same message).
    assert (blank["failed"], blank["changed"]) == (True, False)
    assert blank["msg"] == "bootfile ' ': This value should not be blank."

    assert no_power["failed"] and "no remote power management" in no_power["msg"]
    assert _requests(sim, "POST", "/powerCycle") == 0

    assert bad_os["error_details"] == {
        "operatingSystemId": ["The operating system 'NO_SUCH_OS' is not available."]
    }

    assert "Failed to import the required Python library (leaseweb_api" in no_library["msg"]


def test_secrets_never_appear_in_verbose_output(sim, tmp_path):
    secret_vars = tmp_path / "secret.json"
    password = "pw-" + sim.api_key[::-1]
    secret_vars.write_text(json.dumps({"leaseweb_api_key": sim.api_key, "root_password": password}))
    run = run_playbook(
        "secrets.yml", sim, None, "-vvv", "-e", f"@{secret_vars}", diff=True, json_output=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Resource not found" in output  # the failing task ran, and its output was printed
    assert "ok: [localhost]" in output and "changed: [localhost]" in output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output  # the secret arguments were there, masked
    assert sim.api_key not in output
    assert password not in output
    # The API got the password (it sets it) but never the key in a body, and the journal keeps no key.
    assert sim.api_key not in json.dumps(sim.exchanges())


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(sim, module):
    done = run_ansible(sim, "ansible-doc", f"cdn.infra.{module}")
    assert done.returncode == 0, done.stderr
    assert f"MODULE cdn.infra.{module}" in done.stdout.replace("\x1b[1m", "").replace("\x1b[0m", "")
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES", "api_key", "LSW_API_KEY"):
        assert section in done.stdout
