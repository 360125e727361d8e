"""The provisioning modules (issue 15) through one ansible-playbook run against the simulator: check mode
predicts, apply changes, a second apply changes nothing; secrets stay out of the output; spec-checked."""

from __future__ import annotations

from tests.leaseweb import openapi_check
from tests.leaseweb.ansible_run import run_playbook


def _posts(sim, suffix: str) -> int:
    return sum(1 for e in sim.exchanges() if e["method"] == "POST" and e["path"].endswith(suffix))


def test_provisioning_modules(simulator_factory, tmp_path):
    # Jobs slow enough (6 s for an install) that the play cancels the install while it runs, even on a busy
    # machine.
    sim = simulator_factory("--job-step-seconds", "1")
    client = sim.client()
    sim.fault(job="failed", times=1, path="/bareMetals/v2/servers/10002/hardwareScan")
    password, password_file = "ipmi-" + sim.api_key[:12], tmp_path / "ipmi.secret"
    run = run_playbook(
        "provisioning.yml",
        sim,
        {"ipmi_password": password, "password_file": str(password_file)},
        json_output=True,
    )
    assert password not in run.stdout + run.stderr
    (
        ref_check, ref, ref_again,
        close_check, close, close_again, open_all,
        cred_check, cred, cred_again, cred_on_create,
        file_check, file, file_again, cred_gone, cred_gone_again,
        scan_check, scan, scan_again, report, reset,
        install, cancel, cancel_again, bad_raid,
        failed_scan, retry_check, retry, retry_again,
    ) = run.results()  # fmt: skip

    assert (ref_check["changed"], ref_check["diff"]["after"], ref["changed"], ref_again["changed"]) == (
        True, {"reference": "edge-ams-09"}, True, False,
    )  # fmt: skip
    assert client.get_server("10001").reference == "edge-ams-09"

    assert (
        close_check["diff"]["before"]["public"] == "OPEN" and close_check["interfaces"]["public"] == "CLOSED"
    )
    assert (close["changed"], close["interfaces"]["public"], close["interfaces"]["internal"]) == (
        True,
        "CLOSED",
        "OPEN",
    )
    assert (close_again["changed"], open_all["changed"]) == (False, True)
    assert set(open_all["interfaces"].values()) == {"OPEN"}

    assert (cred_check["changed"], cred["changed"], cred_again["changed"], cred_on_create["changed"]) == (
        True, True, False, False,
    )  # fmt: skip
    assert cred["credential"] == {"type": "REMOTE_MANAGEMENT", "username": "admin"}
    assert (file_check["changed"], file["changed"], file_again["changed"]) == (True, True, False)
    assert password_file.read_text() == password and (password_file.stat().st_mode & 0o777) == 0o600
    assert (cred_gone["changed"], cred_gone_again["changed"]) == (True, False)

    assert (scan_check["changed"], scan_check["job"]) == (True, None)
    assert (scan["changed"], scan["job"]["type"], scan["job"]["status"]) == (True, "hardwareScan", "FINISHED")
    assert (scan_again["changed"], scan_again["job"]["uuid"]) == (False, scan["job"]["uuid"])
    assert report["changed"] is False and report["summary"]["chassis_serial"] == "SIM10001"
    assert report["hardware"]["chassis"]["product"] == "Dell PowerEdge R650"
    assert (reset["job"]["type"], reset["job"]["status"], reset["job"]["payload"]["powerCycle"]) == (
        "ipmiReset", "FINISHED", False,
    )  # fmt: skip

    payload = install["job"]["payload"]
    assert payload["raid"] == {"type": "SW", "level": 1, "numberOfDisks": 2}
    assert payload["partitions"][1] == {"filesystem": "swap", "size": "4096"}
    assert (cancel["changed"], cancel["job"]["status"], cancel_again["changed"]) == (True, "CANCELED", False)
    assert bad_raid["failed"] and bad_raid["msg"] == "raid: a level is required with type HW"

    assert (failed_scan["failed"], failed_scan["job"]["status"]) == (True, "FAILED")
    assert (retry_check["changed"], retry["changed"], retry["job"]["status"]) == (True, True, "FINISHED")
    assert retry_again["changed"] is False
    assert (
        _posts(sim, "/retry") == 1
        and _posts(sim, "/hardwareScan") == 2
        and _posts(sim, "/cancelActiveJob") == 1
    )
    assert _posts(sim, "/credentials") == 1
    assert openapi_check.simulator_problems(sim.exchanges()) == []
