"""The lab's Redmine (`lab redmine`, which the session's `redmine` fixture ran) and `lab rollout`'s report:
the release notes of the last rollout and the Redmine issues it was noted on, against goiardi and that
Redmine."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from chef_api.deployments import HistoryFilter, history
from lab.paths import REPO_ROOT
from lab.redmine import LAB_PROJECT_NAME, referenced_issues
from redmine_api.client import RedmineClient
from redmine_api.rollout import notify_tracker
from releasenotes.cli import notes_from_chef, output_files
from tests.chef.conftest import Goiardi, unique
from tests.chef.redmine import Redmine, lab_redmine
from tests.chef.test_release_notes import commit, git, record


def test_lab_redmine_sets_up_the_issues_the_history_references_once(redmine: Redmine):
    again = lab_redmine(redmine.state_dir, redmine.port)
    assert again.returncode == 0, again.stderr
    assert "(kept)" in again.stdout and "redmine: running (running pid=" in again.stdout
    # The commits' references (`refs #16`), whatever this clone's history holds, with the same numbers.
    assert redmine.setup.issues == tuple(referenced_issues(REPO_ROOT))
    for number in redmine.setup.issues:
        assert redmine.issue(number)["project"]["name"] == LAB_PROJECT_NAME
    setup_file = redmine.state_dir / "redmine" / "setup.json"
    assert stat.S_IMODE(setup_file.stat().st_mode) == 0o600  # the admin's API key


def test_lab_rollout_shows_the_release_notes_and_the_noted_issue(
    goiardi: Goiardi, redmine: Redmine, tmp_path: Path
):
    """`lab rollout` as `make demo` ends, on the lab state the fixture's `lab redmine` made."""
    app, bag, number = unique("analytics"), unique("deploys"), redmine.issues[3]
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, f"feat: count bytes per customer (refs #{number})")
    git(repo, "tag", "v1.0.0")
    # The lab's state as `lab up` leaves it: Redmine's (the fixture's), goiardi's admin key, the notes.
    state = redmine.state_dir
    (state / "goiardi").mkdir(exist_ok=True)
    shutil.copy(goiardi.admin_key, state / "goiardi" / "admin.pem")
    notes_dir = state / "release-notes"
    notes_dir.mkdir(exist_ok=True)
    with goiardi.client() as chef, RedmineClient(redmine.url, redmine.api_key) as client:
        deployed = record(chef, bag, app, "v1.0.0", "2026-01-02T10:00:00")
        # What deploy-analytics.yml does after the record: the notes into a directory, then Redmine.
        for path, text in output_files(notes_from_chef(chef, repo, app, bag=bag), notes_dir).items():
            path.write_text(text)
        notify_tracker(chef, client, repo, app, now=datetime.now(UTC), bag=bag)
        # A later unchanged run: the report still shows the rollout that deployed.
        record(chef, bag, app, "v1.0.0", "2026-01-03T10:00:00", result="no_change")
        assert len(history(chef, bag, HistoryFilter(app=app), use_search=False)) == 2

    inventory = _inventory(tmp_path, goiardi, redmine)
    run = lab_rollout(inventory, "--state-dir", str(state), "--app", app, "--bag", bag, "--notes-lines", "3")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"deployment {deployed}: {app} v1.0.0 to lab, success"
    assert lines[1] == f"release notes: {notes_dir / f'{app}-v1.0.0.md'}"
    notes = (notes_dir / f"{app}-v1.0.0.md").read_text().rstrip().splitlines()
    assert "count bytes per customer" in "\n".join(notes)
    assert lines[3:6] == notes[:3] and lines[2] == ""  # --notes-lines 3: the rest stays in the file
    assert lines[6] == f"... {len(notes) - 3} more lines in {notes_dir / f'{app}-v1.0.0.md'}"
    assert "Redmine issues updated by this rollout:" in lines
    issue = lines.index(f"{redmine.url}/issues/{number}  Issue 4 [New]")
    assert lines[issue + 1 :] == [
        f"  > Deployed v1.0.0 of {app} to lab on edge1, edge2 at 2026-01-02T10:00:00Z.",
        "  >",
        f"  > (deployment {deployed})",
    ]


def _inventory(tmp_path: Path, goiardi: Goiardi, redmine: Redmine) -> Path:
    """A lab inventory's group_vars with the ports of the session's goiardi and Redmine."""
    group_vars = tmp_path / "inventory" / "group_vars"
    group_vars.mkdir(parents=True)
    ports = {"lab_leaseweb_port": 1, "lab_goiardi_port": int(goiardi.url.rsplit(":", 1)[1])}
    (group_vars / "all.yml").write_text(yaml.safe_dump({**ports, "lab_redmine_port": redmine.port}))
    return group_vars.parent / "hosts.yml"


def lab_rollout(inventory: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lab.cli", "--inventory", str(inventory), "rollout", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
