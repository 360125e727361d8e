"""After a deployment: tell Redmine. Every issue the deployment's release notes reference gets one note, the
fixed ones can move to a status, and the outcome is kept in the deployment's record (`tracker`), so that a
deployment Redmine missed (down, refusing) is retried at the next run and a done one is never noted twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from chef_api.client import ChefClient
from chef_api.deployments import DEFAULT_BAG, Deployment, HistoryFilter, history, utc_iso, write_record
from redmine_api.client import RedmineClient, RedmineUnavailableError
from redmine_api.deployment_notes import IssueUpdate, update_issues
from releasenotes.notes import build_notes, pick_deployments


@dataclass(frozen=True)
class TrackerRun:
    deployment_id: str
    version: str
    state: str  # done or pending
    issues: tuple[IssueUpdate, ...] = ()
    error: str | None = None

    @property
    def noted(self) -> bool:
        return any(update.action == "noted" for update in self.issues)


def _targets(records: Sequence[Deployment], current: Deployment) -> list[Deployment]:
    """The deployment, unless already done, and older ones still pending, oldest first."""
    pending = [r for r in records if r.tracker.get("state") == "pending" and r.id != current.id]
    targets = list(reversed(pending))
    if current.tracker.get("state") != "done":
        targets.append(current)
    return targets


def notify_tracker(
    chef: ChefClient,
    redmine: RedmineClient,
    repo: Path,
    app: str,
    *,
    now: datetime,
    environment: str | None = None,
    deployment_id: str | None = None,
    bag: str = DEFAULT_BAG,
    link_template: str | None = None,
    fixed_status: str | None = None,
    check_mode: bool = False,
) -> tuple[list[TrackerRun], bool]:
    """(what happened per deployment, whether records in Chef were (or, in check mode, would be) written)."""
    records = history(chef, bag, HistoryFilter(app=app, environment=environment), use_search=False)
    current, _ = pick_deployments(records, deployment_id)
    runs: list[TrackerRun] = []
    error = None
    try:
        status_id = _status_id(redmine, fixed_status)
    except RedmineUnavailableError as exc:
        status_id, error = None, str(exc)
    for target in _targets(records, current):
        runs.append(
            _notify_one(redmine, repo, app, records, target, link_template, status_id, error, check_mode)
        )
        error = runs[
            -1
        ].error  # Redmine down: the rest wait for the next run instead of timing out one by one
    if not check_mode:
        for run in runs:
            _keep_outcome(chef, bag, records, run, now)
    return runs, bool(runs)


def _status_id(redmine: RedmineClient, name: str | None) -> int | None:
    if name is None:
        return None
    statuses = redmine.statuses()
    if name not in statuses:
        raise ValueError(f"Redmine has no issue status {name!r} (it has: {', '.join(sorted(statuses))})")
    return statuses[name]


def _notify_one(
    redmine: RedmineClient,
    repo: Path,
    app: str,
    records: Sequence[Deployment],
    target: Deployment,
    link_template: str | None,
    status_id: int | None,
    error: str | None,
    check_mode: bool,
) -> TrackerRun:
    if error is not None:
        return TrackerRun(target.id, target.version, "pending", error=error)
    _, previous = pick_deployments(records, target.id)
    notes = build_notes(repo, app, target, previous)
    issues = {number: entry["fixed"] for number, entry in notes.issues().items()}
    link = link_template.format(app=app, version=target.version, id=target.id) if link_template else None
    try:
        updates = update_issues(
            redmine, target, issues, link=link, fixed_status_id=status_id, check_mode=check_mode
        )
    except RedmineUnavailableError as exc:
        return TrackerRun(target.id, target.version, "pending", error=str(exc))
    refused = [u for u in updates if u.action == "refused"]
    if refused:
        # Redmine refused some (permissions, a workflow): retried next run; the noted ones are skipped then.
        error = "; ".join(f"#{u.number}: {u.error}" for u in refused)
        return TrackerRun(target.id, target.version, "pending", tuple(updates), error)
    return TrackerRun(target.id, target.version, "done", tuple(updates))


def _keep_outcome(
    chef: ChefClient, bag: str, records: Sequence[Deployment], run: TrackerRun, now: datetime
) -> None:
    record = next(r for r in records if r.id == run.deployment_id)
    tracker = {
        "state": run.state,
        "attempted_at": utc_iso(now),
        "error": run.error,
        "issues": {str(u.number): u.action for u in run.issues},
    }
    write_record(chef, bag, replace(record, tracker=tracker).item(), exists=True)
