"""`lab rollout`: what the lab's last analytics rollout left behind: its release notes (the files
deploy-analytics.yml wrote) and the Redmine issues the tracker noted it on, each with its URL and the note."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chef_api import ChefClient
from chef_api.deployments import DEFAULT_BAG, Deployment, HistoryFilter, history
from redmine_api.client import RedmineClient
from redmine_api.deployment_notes import marker
from releasenotes.notes import DEPLOYED_RESULTS, pick_deployments

NOTED = ("noted", "already_noted")


@dataclass(frozen=True)
class IssueNote:
    url: str
    subject: str
    status: str
    note: str


@dataclass(frozen=True)
class RolloutReport:
    deployment: Deployment
    notes_file: Path
    notes: str
    # The newest rollout whose release referenced issues Redmine has (this one, or an earlier one).
    noted_by: Deployment | None
    issues: tuple[IssueNote, ...]

    def render(self, notes_lines: int = 0) -> str:
        """The report; the release notes cut to `notes_lines` lines (0: whole), the rest left in the file
        (a first rollout's notes list every commit of the repository)."""
        record = self.deployment
        notes = self.notes.rstrip().splitlines()
        lines = [
            f"deployment {record.id}: {record.app} {record.version} to {record.environment}, {record.result}",
            f"release notes: {self.notes_file}",
            "",
            *(notes[:notes_lines] if notes_lines else notes),
        ]
        if notes_lines and len(notes) > notes_lines:
            lines.append(f"... {len(notes) - notes_lines} more lines in {self.notes_file}")
        lines.append("")
        if self.noted_by is None:
            lines.append("Redmine: no rollout of this application has referenced an issue yet")
        else:
            which = "this rollout" if self.noted_by.id == record.id else f"rollout {self.noted_by.id}"
            lines.append(f"Redmine issues updated by {which}:")
        for issue in self.issues:
            lines += ["", f"{issue.url}  {issue.subject} [{issue.status}]"]
            lines += [f"  > {line}".rstrip() for line in issue.note.splitlines()]
        return "\n".join(lines) + "\n"


def _noted_issues(record: Deployment) -> list[int]:
    return sorted(int(n) for n, action in (record.tracker.get("issues") or {}).items() if action in NOTED)


def _issue_note(redmine: RedmineClient, number: int, deployment_id: str) -> IssueNote | None:
    issue = redmine.issue(number)
    if issue is None:
        return None
    notes = [
        j["notes"] for j in issue.get("journals") or () if marker(deployment_id) in (j.get("notes") or "")
    ]
    if not notes:
        return None
    return IssueNote(f"{redmine.url}/issues/{number}", issue["subject"], issue["status"]["name"], notes[-1])


def rollout_report(
    chef: ChefClient,
    redmine: RedmineClient,
    app: str,
    environment: str,
    notes_dir: Path,
    bag: str = DEFAULT_BAG,
) -> RolloutReport:
    """The newest rollout that deployed something (success or partial), its release notes file, and the
    notes the newest rollout that noted issues left on them. LookupError when there is nothing to show."""
    records: Sequence[Deployment] = history(
        chef, bag, HistoryFilter(app=app, environment=environment), use_search=False
    )
    current, _ = pick_deployments(records)
    notes_file = notes_dir / f"{app}-{current.version}.md"
    if not notes_file.exists():
        raise LookupError(
            f"{notes_file}: no release notes for {current.id} (deploy-analytics.yml writes them)"
        )
    deployed = [r for r in records if r.result in DEPLOYED_RESULTS]  # newest first: `current` is the first
    noted_by = next((r for r in deployed if _noted_issues(r)), None)
    issues = (
        [] if noted_by is None else [_issue_note(redmine, n, noted_by.id) for n in _noted_issues(noted_by)]
    )
    return RolloutReport(current, notes_file, notes_file.read_text(), noted_by, tuple(i for i in issues if i))
