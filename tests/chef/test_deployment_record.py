"""The deployment record plays of deploy-analytics.yml (playbooks/tasks/deployment-record-*.yml) against
goiardi, around a stand-in rollout on local hosts: partial, success, no_change, a stopped run closed as
failure by the next one, and check mode writing nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chef_api.deployments import Deployment, HistoryFilter, history
from tests.chef.conftest import Goiardi, run_ansible, unique

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "deployment_record.yml"
HOSTS = ("app-a", "app-b", "app-c")


@pytest.fixture
def lab(tmp_path: Path) -> dict:
    inventory = tmp_path / "hosts.ini"
    python = sys.executable
    lines = ["[app]", *(f"{h} ansible_connection=local ansible_python_interpreter={python}" for h in HOSTS)]
    inventory.write_text("\n".join(lines) + "\n")
    state = tmp_path / "state"
    state.mkdir()
    for host in HOSTS:
        (state / host).write_text(json.dumps({"version": "1.0"}))
    return {"inventory": inventory, "state_dir": state, "app": unique("app"), "bag": unique("deploys")}


def deploy(goiardi: Goiardi, lab: dict, version: str, *, failing=(), serial=3, max_fail=0, check=False):
    extra = {
        "app": lab["app"],
        "bag": lab["bag"],
        "version": version,
        "state_dir": str(lab["state_dir"]),
        "failing": list(failing),
        "rollout_serial": serial,
        "max_fail": max_fail,
    }
    args = ["ansible-playbook", "-i", str(lab["inventory"]), str(PLAYBOOK), "-e", json.dumps(extra)]
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


def test_a_run_stopped_by_a_failed_batch_is_closed_as_failure_by_the_next(goiardi: Goiardi, lab: dict):
    stopped = deploy(goiardi, lab, "2.0", failing=["app-a"], serial=1)
    assert stopped.returncode != 0
    [opened] = records(goiardi, lab)
    assert opened.result == "in_progress" and opened.batches == (("app-a",), ("app-b",), ("app-c",))

    assert deploy(goiardi, lab, "2.0").returncode == 0
    latest, closed = records(goiardi, lab)
    assert closed.id == opened.id and closed.result == "failure" and closed.finished_at
    assert "stopped before completing its record" in (closed.reason or "")
    assert latest.result == "success" and set(latest.changes) == set(HOSTS)
