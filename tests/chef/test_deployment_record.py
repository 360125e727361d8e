"""The deployment record plays of deploy-analytics.yml (playbooks/tasks/deployment-record-*.yml) against
goiardi, around a stand-in rollout on local hosts: partial, success, no_change, check mode writing nothing;
a run stopped by a failed or an unreachable batch completed as failure at its end (the deployment_record
callback), and a record a killed run left in progress closed by the next run."""

from __future__ import annotations

import json
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chef_api.deployments import Deployment, DeploymentSpec, HistoryFilter, history, plan_record, write_record
from tests.chef.conftest import Goiardi, run_ansible, unique

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "deployment_record.yml"
HOSTS = ("app-a", "app-b", "app-c")


def _inventory(path: Path, unreachable=()) -> Path:
    """The hosts on the local connection; an unreachable one over SSH to a loopback port no one listens on."""
    lines = ["[app]"]
    for host in HOSTS:
        if host in unreachable:
            lines.append(
                f"{host} ansible_connection=ssh ansible_host=127.0.0.1 ansible_port={_closed_port()}"
            )
        else:
            lines.append(f"{host} ansible_connection=local ansible_python_interpreter={sys.executable}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(tmp_path: Path) -> dict:
    inventory = tmp_path / "hosts.ini"
    state = tmp_path / "state"
    state.mkdir()
    for host in HOSTS:
        (state / host).write_text(json.dumps({"version": "1.0"}))
    return {"inventory": inventory, "state_dir": state, "app": unique("app"), "bag": unique("deploys")}


def _in_progress(app: str) -> dict:
    """A record as a run that was killed after opening it leaves it."""
    spec = DeploymentSpec(app=app, version="3.9", hosts=HOSTS, environment="test", result="in_progress")
    return plan_record(None, spec, now=datetime(2026, 1, 2, tzinfo=UTC), user="tester").item()


def deploy(
    goiardi: Goiardi,
    lab: dict,
    version: str,
    *,
    failing=(),
    unreachable=(),
    serial=3,
    max_fail=0,
    check=False,
):
    extra = {
        "app": lab["app"],
        "bag": lab["bag"],
        "version": version,
        "state_dir": str(lab["state_dir"]),
        "failing": list(failing),
        "rollout_serial": serial,
        "max_fail": max_fail,
    }
    inventory = _inventory(lab["inventory"], unreachable)
    args = ["ansible-playbook", "-i", str(inventory), str(PLAYBOOK), "-e", json.dumps(extra)]
    return run_ansible([*args, "--check"] if check else args, goiardi.env())


def records(goiardi: Goiardi, lab: dict) -> list[Deployment]:
    with goiardi.client() as client:
        return history(client, lab["bag"], HistoryFilter(app=lab["app"]), use_search=False)


def test_every_rollout_is_recorded_with_its_outcome(goiardi: Goiardi, lab: dict):
    run = deploy(goiardi, lab, "1.1", failing=["app-b"], max_fail=50)
    assert run.returncode != 0  # app-b failed: the playbook says so, and the record too
    [partial] = records(goiardi, lab)
    assert partial.result == "partial" and partial.schema == 2
    assert partial.version == "1.1" and partial.environment == "test" and partial.deployed_by == "tester"
    assert partial.hosts == HOSTS and partial.batches == (HOSTS,)
    assert list(partial.failed_hosts) == ["app-b"] and partial.reason
    assert partial.changes == {
        "app-a": {"before": {"version": "1.0"}, "after": {"version": "1.1"}},
        "app-c": {"before": {"version": "1.0"}, "after": {"version": "1.1"}},
    }
    assert partial.finished_at and partial.finished_at >= partial.deployed_at

    assert deploy(goiardi, lab, "1.1").returncode == 0
    success = records(goiardi, lab)[0]
    assert success.result == "success" and not success.failed_hosts
    assert success.changes == {"app-b": {"before": {"version": "1.0"}, "after": {"version": "1.1"}}}

    # An unchanged second run is recorded explicitly as no_change (docs/deployments.md).
    assert deploy(goiardi, lab, "1.1").returncode == 0
    unchanged = records(goiardi, lab)[0]
    assert unchanged.result == "no_change" and unchanged.changes == {} and unchanged.id != success.id
    assert len(records(goiardi, lab)) == 3

    # Check mode predicts and writes nothing.
    assert deploy(goiardi, lab, "1.2", check=True).returncode == 0
    assert len(records(goiardi, lab)) == 3


def test_a_run_stopped_by_a_failed_batch_completes_its_record_as_failure(goiardi: Goiardi, lab: dict):
    """The deployment_record callback (plugins/callback) completes it when the stopped run ends."""
    stopped = deploy(goiardi, lab, "2.0", failing=["app-a"], serial=1)
    assert stopped.returncode != 0
    [closed] = records(goiardi, lab)
    assert closed.batches == (("app-a",), ("app-b",), ("app-c",))
    assert closed.result == "failure" and closed.finished_at and closed.finished_at >= closed.deployed_at
    assert closed.failed_hosts == {"app-a": "the stand-in rollout fails here"}
    assert closed.reason == (
        "the run stopped before completing its record: 1 of 3 host(s) failed; "
        "the hosts after the stop were not deployed"
    )
    assert f"deployment record {closed.id}: completed as failure" in stopped.stderr


def test_a_killed_runs_record_is_closed_by_the_next_run_and_an_unreachable_batch_by_the_callback(
    goiardi: Goiardi, lab: dict
):
    """A run killed before its end runs no callback: the next run's opening play closes its record. That
    run then stops at an unreachable batch, and the callback completes its own record."""
    with goiardi.client() as client:
        write_record(client, lab["bag"], _in_progress(lab["app"]), exists=False)
    stopped = deploy(goiardi, lab, "3.0", unreachable=["app-b"], serial=1)
    assert stopped.returncode != 0
    closed, killed = records(goiardi, lab)
    assert killed.version == "3.9" and killed.result == "failure" and killed.finished_at
    assert killed.reason and killed.reason.endswith("closed by the next run")
    assert closed.version == "3.0" and closed.result == "failure" and list(closed.failed_hosts) == ["app-b"]
    assert closed.failed_hosts["app-b"].startswith("unreachable: ")
    assert "(1 unreachable: app-b)" in (closed.reason or "")
