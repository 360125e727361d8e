"""provision.yml's second path, LeaseWeb's own install job, on the same simulator, goiardi and QEMU twin.

It shares the session's lab with test_provision.py (after which the twin is off and registered in Chef).
Four runs: the identity check refuses a server whose MAC is not the inventory's, before anything is
written; the install job (the simulator's hook installs and boots the twin, our post-install script
writes the marker) provisions it; a second run changes nothing; a reinstall whose job fails stops the
play with the job's failed task, after its clean-up, and is recorded as a failure. The path is chosen per host
(provision_method in the host's variables).
"""

from __future__ import annotations

import re

import pytest

from tests.provision.conftest import EVIDENCE
from tests.provision.harness import HOST, MAC, SERVER_ID, console_evidence, deployments

INSTALL = f"/bareMetals/v2/servers/{SERVER_ID}/install"
LEASEWEB_INSTALL = {"provision_method": "leaseweb_install"}
WRONG_MAC = "52:54:00:cd:91:99"


@pytest.fixture(scope="module")
def refused(lab):
    """A reinstall whose inventory names another MAC: refused by the identity check."""
    calls, boots = lab.calls(), lab.boots()
    run = lab.provision(
        "-e", "provision_reinstall=true", host_vars={**LEASEWEB_INSTALL, "provision_server_mac": WRONG_MAC}
    )
    EVIDENCE.append(("provision.yml, a MAC mismatch", [f"rc={run.returncode}, wall {run.seconds} s"]))
    return run, lab.calls()[len(calls) :], lab.boots() - boots


@pytest.fixture(scope="module")
def installed(lab, refused):
    calls, boots = lab.calls(), lab.boots()
    # A reinstall: after test_provision.py the server is registered (and off); alone, it is a first install.
    run = lab.provision("-e", "provision_reinstall=true", host_vars=LEASEWEB_INSTALL)
    times = [f"{seconds:7.2f} s  {task}" for task, seconds in run.task_times() if seconds >= 0.1]
    EVIDENCE.append((f"provision.yml, leaseweb_install: rc={run.returncode}, wall {run.seconds} s", times))
    EVIDENCE.append(("leaseweb_install: serial console", console_evidence(lab.console(lab.boots()))))
    assert run.returncode == 0, run.output[-6000:]
    return run, lab.calls()[len(calls) :], lab.boots() - boots


@pytest.fixture(scope="module")
def again(lab, installed):
    calls, boots = lab.calls(), lab.boots()
    run = lab.provision(host_vars=LEASEWEB_INSTALL)
    EVIDENCE.append(("provision.yml, leaseweb_install again", [f"rc={run.returncode}, wall {run.seconds} s"]))
    return run, lab.calls()[len(calls) :], lab.boots() - boots


@pytest.fixture(scope="module")
def failed_job(lab, again):
    calls = lab.calls()
    lab.admin("POST", "faults", {"job": "failed", "times": 1, "method": "POST", "path": INSTALL})
    run = lab.provision("-e", "provision_reinstall=true", host_vars=LEASEWEB_INSTALL)
    return run, lab.calls()[len(calls) :]


def test_a_mac_mismatch_is_refused_before_anything_destructive(refused):
    run, calls, boots = refused
    assert run.returncode != 0
    assert calls == []
    assert boots == 0
    message = " ".join(run.output.split())
    assert f"REFUSED: {HOST} was not touched" in message
    assert f"The inventory says LeaseWeb server {SERVER_ID} with public MAC {WRONG_MAC}" in message
    assert f"LeaseWeb says server {SERVER_ID} with public MAC {MAC}" in message


def test_the_install_job_provisions_the_server(installed, lab):
    run, calls, boots = installed
    assert calls == [f"POST {INSTALL}"]
    assert boots == 1
    job = lab.server_state()["jobs"][0]
    # Ended by the installer (the twin's hook) reporting success, not by the job's clock.
    assert (job["type"], job["fail_at"]) == ("install", None)
    assert job["automation_done_at"] is not None
    assert lab.server_state()["lease"] is None
    assert run.recap()["failed"] == 0


def test_the_twin_booted_the_installed_os_with_the_post_install_marker(installed, lab):
    console = lab.console(lab.boots())
    assert "Booting from Hard Disk" in console or "SYSLINUX" in console
    assert "cdn-infra: post-install script exited with status 0" in console
    ready = re.search(rf"cdn-infra: installed OS ready: server_id={SERVER_ID} hostname={HOST} (.*)", console)
    assert ready, console[-3000:]
    assert "operating_system=DEBIAN_12_64BIT" in ready.group(1)
    assert f"install_token={HOST}-" in ready.group(1)


def test_the_node_and_the_deployment_say_leaseweb_install(installed, lab, chef):
    node = chef.get(f"nodes/{HOST}")["normal"]["provisioning"]
    assert node["method"] == "leaseweb_install"
    assert node["operating_system"] == "DEBIAN_12_64BIT"
    (record,) = [r for r in deployments(chef) if r["id"] == f"provision-{node['install_token']}"]
    assert (record["app"], record["version"], record["result"]) == (
        "os-leaseweb",
        "DEBIAN_12_64BIT",
        "success",
    )
    assert record["details"]["method"] == "leaseweb_install"
    assert record["details"]["install_job"] == lab.server_state()["jobs"][0]["uuid"]


def test_a_second_run_changes_nothing(again):
    run, calls, boots = again
    assert run.returncode == 0, run.output[-6000:]
    assert f"{HOST} (LeaseWeb {SERVER_ID}): provisioned already (" in run.output
    assert run.recap()["changed"] == 0
    assert (calls, boots) == ([], 0)


def test_a_failed_job_stops_the_play_with_its_failed_task(failed_job, lab, chef):
    run, calls = failed_job
    assert run.returncode != 0
    assert calls == [f"POST {INSTALL}"]
    assert lab.server_state()["lease"] is None
    message = " ".join(run.output.split())
    assert (
        f"{HOST} (LeaseWeb {SERVER_ID}) was not provisioned: 'Install the OS with LeaseWeb's install job and "
        "wait until it has finished' failed:" in message
    )
    assert "task 'Install the operating system' FAILED: The installer exited with status 1" in message
    assert "A job still running was canceled, and no DHCP lease is left." in message
    (failure,) = [r for r in deployments(chef) if r["app"] == "os-leaseweb" and r["result"] == "failure"]
    assert failure["details"]["method"] == "leaseweb_install"
