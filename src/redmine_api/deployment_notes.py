"""The note a deployment adds to each issue its release references, at most once per deployment, and the
status its fixed issues move to. Redmine being down is not the deployment's failure: it is reported, and the
caller keeps the deployment pending to try again at the next run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chef_api.deployments import Deployment
from redmine_api.client import RedmineClient, RedmineError, RedmineUnavailableError


def marker(deployment_id: str) -> str:
    """The line in a note that says which deployment wrote it: how a re-run knows it is done."""
    return f"(deployment {deployment_id})"


def note_text(record: Deployment, link: str | None) -> str:
    hosts = ", ".join(h for h in record.hosts if h not in record.failed_hosts) or "no host"
    when = record.finished_at or record.deployed_at
    environment = record.environment or "an unnamed environment"
    lines = [f"Deployed {record.version} of {record.app} to {environment} on {hosts} at {when}."]
    if link:
        lines.append(f"Release notes: {link}")
    lines.append(marker(record.id))
    return "\n\n".join(lines)


@dataclass(frozen=True)
class IssueUpdate:
    number: int
    # noted, already_noted, not_found or refused (Redmine answered 4xx: permissions, validation).
    action: str
    status_changed: bool = False
    error: str | None = None


def _has_note(issue: Mapping, deployment_id: str) -> bool:
    return any(marker(deployment_id) in (j.get("notes") or "") for j in issue.get("journals") or ())


def update_issues(
    client: RedmineClient,
    record: Deployment,
    issues: Mapping[int, bool],
    *,
    link: str | None,
    fixed_status_id: int | None,
    check_mode: bool = False,
) -> list[IssueUpdate]:
    """Note the deployment on every issue (number -> fixed?); RedmineUnavailableError stops at the first
    issue Redmine cannot answer for (the caller retries the whole deployment next run: done issues are
    skipped by their marker)."""
    updates = []
    text = note_text(record, link)
    for number, fixed in sorted(issues.items()):
        try:
            issue = client.issue(number)
            if issue is None:
                updates.append(IssueUpdate(number, "not_found"))
                continue
            if _has_note(issue, record.id):
                updates.append(IssueUpdate(number, "already_noted"))
                continue
            move = fixed and fixed_status_id is not None and issue["status"]["id"] != fixed_status_id
            if not check_mode:
                client.add_note(number, text, status_id=fixed_status_id if move else None)
            updates.append(IssueUpdate(number, "noted", status_changed=move))
        except RedmineUnavailableError:
            raise
        except RedmineError as exc:
            updates.append(IssueUpdate(number, "refused", error=str(exc)))
    return updates
