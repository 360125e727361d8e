"""Release notes (src/releasenotes, `cdn-release-notes`): commit parsing, and notes between two deployments
recorded in goiardi of a real git repository made here, with tagged versions and referenced issues."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chef_api.deployments import DeploymentSpec, plan_record, write_record
from releasenotes.commits import GitError, issue_refs, parse_commit
from releasenotes.notes import build_notes, pick_deployments, render_markdown
from tests.chef.conftest import Goiardi, run_playbook, unique

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T12:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T12:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
RELEASE_1_1 = [
    "feat(agent): rate-limit catching up\n\nrefs #12",
    "fix: crash on an empty log\n\nFixes #7",
    "docs: the agent's README",
    "chore!: drop Python 3.9\n\nBREAKING CHANGE: the hosts need Python 3.11",
    "Tidy the aggregator (see #3)",
    "fix(aggregator): closes #8, #9 and a stale lock",
]


def test_conventional_commits_and_issue_references_are_parsed():
    commit = parse_commit("a" * 40, "Dev", "2026-01-01", "feat(api)!: new paging\n\nrefs #4, fixes #5")
    assert (commit.type, commit.scope, commit.subject) == ("feat", "api", "new paging")
    assert commit.breaking == "new paging"
    assert commit.issues.referenced == (4, 5) and commit.issues.fixed == (5,)
    plain = parse_commit("b" * 40, "Dev", "2026-01-01", "Merge the thing\n")
    assert plain.type is None and plain.subject == "Merge the thing" and plain.breaking is None
    assert issue_refs("Closes #1, #2 and #3; refs #4").fixed == (1, 2, 3)
    assert issue_refs("resolved: #6").fixed == (6,)
    assert issue_refs("abc#1 https://x.example/#2 &#3 color #fff").referenced == ()
    assert issue_refs("fix: a fix without an issue").fixed == ()


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def commit(repo: Path, message: str) -> None:
    (repo / "changes.txt").open("a").write(message.splitlines()[0] + "\n")
    git(repo, "add", "changes.txt")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "feat: first version")
    git(repo, "tag", "v1.0.0")
    for message in RELEASE_1_1:
        commit(repo, message)
    git(repo, "tag", "v1.1.0")
    commit(repo, "feat: not deployed yet")
    return repo


def record(client, bag: str, app: str, version: str, when: str, result: str = "success") -> str:
    spec = DeploymentSpec(
        app=app, version=version, hosts=["edge1", "edge2"], environment="lab", result=result
    )
    item = plan_record(None, spec, now=datetime.fromisoformat(when).replace(tzinfo=UTC), user="ops")
    write_record(client, bag, item.item(), exists=False)
    return item.id


def release_notes(goiardi: Goiardi, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "releasenotes.cli", *args]
    return subprocess.run(command, env=goiardi.env(), capture_output=True, text=True, check=False, timeout=60)


def test_release_notes_between_two_deployments(goiardi: Goiardi, app_repo: Path, tmp_path: Path):
    app, bag = unique("shop"), unique("deploys")
    with goiardi.client() as client:
        first = record(client, bag, app, "v1.0.0", "2026-01-02T10:00:00")
        second = record(client, bag, app, "v1.1.0", "2026-01-03T10:00:00")
        record(client, bag, app, "v1.1.0", "2026-01-04T10:00:00", result="no_change")
        record(client, bag, app, "v1.2.0", "2026-01-05T10:00:00", result="failure")
    args = ["--app", app, "--repo", str(app_repo), "--bag", bag, "--environment", "lab"]

    markdown = release_notes(goiardi, *args)
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    # The newest deployment that deployed (not the no_change or failed ones), against the one before it.
    assert text.startswith(f"# {app} v1.1.0 (since v1.0.0)\n")
    assert f"(deployment `{second}`)" in text and f"(`{first}`)" in text
    assert "Deployed to **lab** on edge1, edge2 at 2026-01-03T10:00:00Z by ops: success" in text
    assert "6 commit(s), v1.0.0..v1.1.0." in text
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == [
        "## Breaking changes",
        "## Features",
        "## Bug fixes",
        "## Documentation",
        "## Chores",
        "## Other changes",
        "## Issues",
    ]
    assert "- the hosts need Python 3.11 (" in text
    assert "- **agent:** rate-limit catching up (" in text and ", #12)" in text
    assert "- #7 fixed in" in text and "- #12 referenced in" in text and "- #3 referenced in" in text
    assert "- #8 fixed in" in text and "- #9 fixed in" in text
    assert "not deployed yet" not in text and "first version" not in text

    again = release_notes(goiardi, *args)
    assert again.stdout == text  # deterministic

    as_json = release_notes(goiardi, *args, "--format", "json")
    data = json.loads(as_json.stdout)
    assert data["schema"] == 1 and data["range"] == {"from": "v1.0.0", "to": "v1.1.0"}
    assert data["deployment"]["id"] == second and data["previous"]["id"] == first
    assert [s["type"] for s in data["sections"]] == ["feat", "fix", "docs", "chore", "other"]
    assert {i["number"]: i["fixed"] for i in data["issues"]} == {
        3: False,
        7: True,
        8: True,
        9: True,
        12: False,
    }
    assert release_notes(goiardi, *args, "--format", "json").stdout == as_json.stdout

    written = release_notes(goiardi, *args, "--output-dir", str(tmp_path / "notes"))
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "notes" / f"{app}-v1.1.0.md").read_text() == text
    assert json.loads((tmp_path / "notes" / f"{app}-v1.1.0.json").read_text()) == data

    first_notes = release_notes(goiardi, *args, "--deployment", first)
    assert "First recorded deployment" in first_notes.stdout and "first version" in first_notes.stdout


def test_a_version_that_names_no_commit_is_a_clear_error(goiardi: Goiardi, app_repo: Path):
    app, bag = unique("shop"), unique("deploys")
    with goiardi.client() as client:
        record(client, bag, app, "v9.9.9", "2026-01-02T10:00:00")
    failed = release_notes(goiardi, "--app", app, "--repo", str(app_repo), "--bag", bag)
    assert failed.returncode == 1
    assert "'v9.9.9' names no commit" in failed.stderr
    missing = release_notes(goiardi, "--app", unique("none"), "--repo", str(app_repo), "--bag", bag)
    assert missing.returncode == 1 and "no successful or partial deployment" in missing.stderr


def test_the_recorded_commit_wins_over_the_version(app_repo: Path):
    sha = git(app_repo, "rev-parse", "v1.0.0").strip()
    now = datetime(2026, 1, 2, tzinfo=UTC)
    old = plan_record(None, DeploymentSpec(app="a", version="0.9"), now=now, user="u")
    new = plan_record(
        None, DeploymentSpec(app="a", version="1.0-dirty", details={"commit": sha}), now=now, user="u"
    )
    current, previous = pick_deployments([new], new.id)
    assert previous is None
    notes = build_notes(app_repo, "a", current, None)
    assert notes.ref == sha and [c.subject for c in notes.commits] == ["first version"]
    with pytest.raises(GitError, match="names no commit"):
        build_notes(app_repo, "a", new, old)
    assert render_markdown(notes) == render_markdown(build_notes(app_repo, "a", current, None))


def test_the_module_writes_the_notes_once(goiardi: Goiardi, app_repo: Path, tmp_path: Path):
    app, bag, dest = unique("shop"), unique("deploys"), tmp_path / "notes"
    with goiardi.client() as client:
        record(client, bag, app, "v1.0.0", "2026-01-02T10:00:00")
        record(client, bag, app, "v1.1.0", "2026-01-03T10:00:00")
    wrong = tmp_path / "empty"
    wrong.mkdir()
    git(wrong, "init", "-q")
    extra = {"app": app, "bag": bag, "repo": str(app_repo), "dest": str(dest), "wrong_repo": str(wrong)}
    run = run_playbook("release_notes.yml", goiardi.env(), extra)
    assert run.returncode == 0, run.output
    tasks = run.tasks()
    check, apply, again = (tasks[f"Write the notes{s}"] for s in (" (check mode)", "", " again"))
    assert [check["changed"], apply["changed"], again["changed"]] == [True, True, False]
    assert check["diff"][0]["before"] == "" and check["diff"][0]["after"] == apply["markdown"]
    assert apply["markdown"].startswith(f"# {app} v1.1.0 (since v1.0.0)")
    assert apply["notes"]["range"] == {"from": "v1.0.0", "to": "v1.1.0"}
    assert (dest / f"{app}-v1.1.0.md").read_text() == apply["markdown"]
    assert apply["files"] == [str(dest / f"{app}-v1.1.0.json"), str(dest / f"{app}-v1.1.0.md")]
    failed = tasks["Notes from the wrong repository"]
    assert failed["failed"] and "'v1.1.0' names no commit" in failed["msg"]
