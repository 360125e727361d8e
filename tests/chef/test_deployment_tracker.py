"""chef_deployment_tracker against goiardi and a real Redmine (Debian's package): one note per referenced
issue and deployment, fixed issues moved, nothing twice; Redmine down: the task succeeds, says so, and the
next run catches up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chef_api.deployments import Deployment, HistoryFilter, history
from tests.chef.conftest import Goiardi, free_port, run_ansible, run_playbook, unique
from tests.chef.redmine import Redmine
from tests.chef.test_release_notes import commit, git, record


@pytest.fixture
def repo(tmp_path: Path, redmine: Redmine) -> Path:
    fixed, referenced, other = redmine.issues[:3]
    path = tmp_path / "app"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(path, "feat: first version")
    git(path, "tag", "v1.0.0")
    commit(path, f"fix(agent): reconnect after a restart\n\nFixes #{fixed}")
    commit(path, f"feat: per-customer limits (refs #{referenced})")
    commit(path, "docs: mention #99999, an issue Redmine does not have")
    git(path, "tag", "v1.1.0")
    commit(path, f"fix: later work, fixes #{other}")
    git(path, "tag", "v1.2.0")
    return path


def notes_of(redmine: Redmine, number: int) -> list[str]:
    return [j["notes"] for j in redmine.issue(number)["journals"] if j.get("notes")]


def records(goiardi: Goiardi, bag: str, app: str) -> dict[str, Deployment]:
    with goiardi.client() as client:
        return {r.version: r for r in history(client, bag, HistoryFilter(app=app), use_search=False)}


def test_each_referenced_issue_gets_one_note_and_fixed_ones_move(
    goiardi: Goiardi, redmine: Redmine, repo: Path
):
    app, bag = unique("shop"), unique("deploys")
    fixed, referenced, other = redmine.issues[:3]
    with goiardi.client() as client:
        record(client, bag, app, "v1.0.0", "2026-01-02T10:00:00")
        deployment_id = record(client, bag, app, "v1.1.0", "2026-01-03T10:00:00")
    extra = {"app": app, "bag": bag, "repo": str(repo), "redmine_url": redmine.url}
    run = run_playbook("tracker.yml", goiardi.env(), {**extra, "redmine_api_key": redmine.api_key})
    assert run.returncode == 0, run.output
    assert redmine.api_key not in run.output
    tasks = run.tasks()
    check, apply, again = (tasks[f"Note the deployment{s}"] for s in (" (check mode)", "", " again"))
    assert [check["changed"], apply["changed"], again["changed"]] == [True, True, False]
    [done] = apply["deployments"]
    assert done["id"] == deployment_id and done["state"] == "done" and apply["pending"] == []
    actions = {u["number"]: (u["action"], u["status_changed"]) for u in done["issues"]}
    assert actions == {fixed: ("noted", True), referenced: ("noted", False), 99999: ("not_found", False)}
    assert again["deployments"] == []  # done: not looked at again

    [note] = notes_of(redmine, fixed)
    assert note.startswith(f"Deployed v1.1.0 of {app} to lab on edge1, edge2 at 2026-01-03T10:00:00Z.")
    assert f"Release notes: https://releases.example.com/{app}-v1.1.0.md" in note
    assert f"(deployment {deployment_id})" in note
    assert redmine.issue(fixed)["status"]["name"] == "Resolved"
    assert len(notes_of(redmine, referenced)) == 1
    assert redmine.issue(referenced)["status"]["name"] == "New"
    assert notes_of(redmine, other) == []  # v1.2.0 is not deployed
    assert records(goiardi, bag, app)["v1.1.0"].tracker["state"] == "done"


def test_redmine_down_does_not_fail_and_the_next_run_catches_up(
    goiardi: Goiardi, redmine: Redmine, repo: Path
):
    app, bag = unique("shop"), unique("deploys")
    other = redmine.issues[2]
    with goiardi.client() as client:
        record(client, bag, app, "v1.1.0", "2026-01-03T10:00:00")
        pending_id = record(client, bag, app, "v1.2.0", "2026-01-04T10:00:00")
    args = {"app": app, "bag": bag, "repo": str(repo), "redmine_api_key": redmine.api_key}
    module_args = " ".join(f"{k}={json.dumps(v)}" for k, v in args.items())

    def tell(url: str):
        command = ["ansible", "localhost", "-m", "cdn.infra.chef_deployment_tracker"]
        command += ["-a", f"{module_args} redmine_url={url} redmine_timeout=3"]
        command += ["-e", "ansible_python_interpreter={{ ansible_playbook_python }}"]
        return run_ansible(command, goiardi.env(), json_output=False)

    down = tell(f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 0, down.output
    assert "Redmine was not told of deployment" in down.output and "retried next run" in down.output
    assert redmine.api_key not in down.output
    assert records(goiardi, bag, app)["v1.2.0"].tracker["state"] == "pending"
    assert notes_of(redmine, other) == []

    up = tell(redmine.url)
    assert up.returncode == 0, up.output
    assert records(goiardi, bag, app)["v1.2.0"].tracker["state"] == "done"
    [note] = notes_of(redmine, other)
    assert f"(deployment {pending_id})" in note
    assert redmine.issue(other)["status"]["name"] == "New"  # no fixed_status given
