"""`ansible-playbook provision.yml` against the LeaseWeb simulator and a QEMU twin that really network-boots.

Four runs, in order, on one twin: the first provisions it (lease, power cycle, iPXE, live image, OS install
over SSH, lease deleted, disk boot, Chef); the second finds it provisioned and changes nothing; the third
reinstalls with an image checksum that does not match, so the install step fails after the network boot;
the fourth meets a LeaseWeb API error on the power cycle, right after the lease was made. Both failures
must leave no lease and stop the play with a message that says what failed.
"""

from __future__ import annotations

import getpass
import os
import re
import stat

import pytest

from tests.provision.conftest import EVIDENCE
from tests.provision.harness import HOST, MAC, SERVER_ID, console_evidence, deployments

LEASES = f"/bareMetals/v2/servers/{SERVER_ID}/leases"
POWER_CYCLE = f"/bareMetals/v2/servers/{SERVER_ID}/powerCycle"
WRONG_SHA256 = "0" * 64


def _record(title: str, run, lab, boots: range) -> None:
    # In the order the tasks ran; the many bookkeeping tasks under 0.1 s left out.
    times = [f"{seconds:7.2f} s  {task}" for task, seconds in run.task_times() if seconds >= 0.1]
    EVIDENCE.append((f"{title}: rc={run.returncode}, wall {run.seconds} s (profile_tasks)", times))
    for number in boots:
        if number <= lab.boots():
            lines = console_evidence(lab.console(number))
            EVIDENCE.append((f"{title}: serial console of boot {number}", lines))


@pytest.fixture(scope="module")
def predicted(lab):
    """Check mode before anything happened: it predicts the installation and does nothing."""
    return lab.provision("--check")


@pytest.fixture(scope="module")
def first(lab, predicted):
    run = lab.provision()
    _record("provision.yml, first run", run, lab, range(1, 3))
    assert run.returncode == 0, run.output[-6000:]
    return run


@pytest.fixture(scope="module")
def second(lab, first):
    """Check mode, then a verbose run, on the provisioned server."""
    calls, boots = lab.calls(), lab.boots()
    check = lab.provision("--check")
    run = lab.provision("-vvv")
    EVIDENCE.append(("provision.yml, second run", [f"rc={run.returncode}, wall {run.seconds} s"]))
    return run, calls, boots, check


@pytest.fixture(scope="module")
def failed_install(lab, second):
    calls = lab.calls()
    run = lab.provision("-e", "provision_reinstall=true", "-e", f"provision_os_image_sha256={WRONG_SHA256}")
    _record("provision.yml, failed install", run, lab, range(3, 4))
    return run, lab.calls()[len(calls) :]


@pytest.fixture(scope="module")
def failed_power_cycle(lab, failed_install):
    calls = lab.calls()
    lab.admin("POST", "faults", {"status": 500, "times": 1, "method": "POST", "path": POWER_CYCLE})
    run = lab.provision()
    return run, lab.calls()[len(calls) :]


def test_check_mode_predicts_the_installation_and_does_nothing(predicted, lab):
    assert predicted.returncode == 0, predicted.output[-6000:]
    assert f"{HOST} (LeaseWeb {SERVER_ID}): installing: no marker of this server over SSH" in predicted.output
    assert predicted.recap()["changed"] == 1
    assert lab.calls() == []
    assert lab.boots() == 0


def test_first_run_provisions_the_server(first):
    assert f"{HOST} (LeaseWeb {SERVER_ID}): installing: no marker of this server over SSH" in first.output
    recap = first.recap()
    assert recap["failed"] == 0
    assert recap["changed"] > 0


def test_the_vm_fetched_its_own_script_kernel_and_initrd(first, lab):
    log = lab.boot.access_log.read_text()
    for path in (f"/servers/{SERVER_ID}.ipxe", "/images/live/vmlinuz", "/images/live/initrd.img"):
        assert re.search(rf'uri="{re.escape(path)}" status=200 .*agent="iPXE/', log), path
    assert f'uri="/servers/{SERVER_ID}.keys" status=200' in log


def test_ipxe_ran_its_script_into_the_live_image(first, lab):
    console = lab.console(1)
    assert f"cdn-infra: server {SERVER_ID} profile live on {MAC}" in console
    assert f"cdn-infra: stage=live ready: server={SERVER_ID}" in console


def test_both_stages_called_back_with_the_runs_token(first, lab):
    callbacks = lab.boot.callback_log.read_text()
    live = re.search(rf"server_id={SERVER_ID} stage=live token=({HOST}-\S+) mac={MAC} ", callbacks)
    assert live, callbacks
    assert f"server_id={SERVER_ID} stage=installed token={live.group(1)} " in callbacks


def test_the_installed_os_booted_from_disk(first, lab):
    console = lab.console(2)
    assert "SYSLINUX" in console
    assert re.search(rf"cdn-infra: installed OS ready: server_id={SERVER_ID} hostname={HOST} ", console)
    assert "iPXE" not in console.split("Booting from Hard Disk")[-1]


def test_the_lease_was_deleted_after_the_network_boot(first, lab):
    assert lab.server_state()["lease"] is None
    assert lab.calls() == [f"POST {LEASES}", f"POST {POWER_CYCLE}", f"DELETE {LEASES}", f"POST {POWER_CYCLE}"]


def test_the_boot_files_were_removed(first, lab):
    assert sorted(p.name for p in (lab.boot.docroot / "servers").iterdir()) == []


def test_the_node_is_registered_and_the_deployment_recorded(first, lab, chef):
    node = chef.get(f"nodes/{HOST}")
    assert node["chef_environment"] == "provision_test"
    assert node["run_list"] == ["role[edge]"]
    assert node["normal"]["leaseweb"] == {"server_id": SERVER_ID}
    installed = node["normal"]["provisioning"]
    assert chef.get(f"clients/{HOST}")["name"] == HOST
    (record,) = deployments(chef)
    assert record["app"] == "os-live"
    assert record["version"] == installed["image_sha256"][:12]
    assert record["hosts"] == [HOST]
    assert record["result"] == "success"
    assert record["deployed_by"] == os.environ.get("USER", getpass.getuser())
    assert record["id"] == f"provision-{installed['install_token']}"


def test_the_client_key_is_readable_by_its_owner_only(first, lab):
    key = lab.chef_key_dir / f"{HOST}.pem"
    assert stat.S_IMODE(lab.chef_key_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN")
    assert "PRIVATE KEY" not in first.output


def test_second_run_changes_nothing(second, lab):
    run, calls, boots, check = second
    assert check.returncode == 0, check.output[-6000:]
    assert check.recap()["changed"] == 0
    assert run.returncode == 0, run.output[-6000:]
    assert f"{HOST} (LeaseWeb {SERVER_ID}): provisioned already (" in run.output
    assert run.recap()["changed"] == 0
    assert lab.calls() == calls
    assert lab.boots() == boots


def test_no_secret_in_a_verbose_run(second, lab):
    run, _, _, _ = second
    assert lab.api_key not in run.output
    assert "PRIVATE KEY" not in run.output
    assert (lab.chef.state_dir / "admin.pem").read_text().splitlines()[1] not in run.output


def test_a_failed_install_still_deletes_the_lease(failed_install, lab):
    run, calls = failed_install
    assert run.returncode != 0
    assert calls == [f"POST {LEASES}", f"POST {POWER_CYCLE}", f"DELETE {LEASES}"]
    assert lab.server_state()["lease"] is None
    assert sorted((lab.boot.docroot / "servers").iterdir()) == []


def test_a_failed_install_fails_the_play_with_the_reason(failed_install, lab):
    run, _ = failed_install
    message = " ".join(run.output.split())
    assert (
        f"{HOST} (LeaseWeb {SERVER_ID}) was not provisioned: 'Install the OS from the live image "
        "(cdn-install-os, pyinfra over SSH)' failed:" in message
    )
    assert f"not {WRONG_SHA256}: refusing to install it." in message
    assert "refusing to install it. The DHCP lease and the boot files were removed." in message
    assert run.recap()["rescued"] == 1


def test_a_failed_install_happened_on_the_live_image(failed_install, lab):
    assert f"cdn-infra: stage=live ready: server={SERVER_ID}" in lab.console(3)


def test_a_failed_install_is_recorded_as_a_failure(failed_install, chef):
    failures = [r for r in deployments(chef) if r["result"] == "failure"]
    assert len(failures) == 1
    assert "refusing to install it" in failures[0]["details"]["error"]


def test_an_api_error_after_the_lease_still_deletes_it(failed_power_cycle, lab):
    run, calls = failed_power_cycle
    assert run.returncode != 0
    assert calls == [f"POST {LEASES}", f"POST {POWER_CYCLE}", f"DELETE {LEASES}"]
    assert lab.server_state()["lease"] is None
    message = " ".join(run.output.split())
    assert "'Power-cycle the server into its network boot' failed:" in message
    assert "500" in message


@pytest.fixture(scope="module")
def registered_but_down(lab, failed_power_cycle):
    """The twin loses power (as in a data centre outage) while Chef still knows it as provisioned."""
    lab.twin.stop()
    calls = lab.calls()
    run = lab.provision()
    return run, lab.calls()[len(calls) :]


def test_a_registered_server_that_does_not_answer_is_left_alone(registered_but_down):
    run, calls = registered_but_down
    assert run.returncode != 0
    assert calls == []
    message = " ".join(run.output.split())
    assert f"{HOST} (LeaseWeb {SERVER_ID}) is registered in Chef but does not answer SSH" in message
    assert "provision_reinstall=true" in message
