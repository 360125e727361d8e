"""Release notes: two deployments of an application and the commits between their versions, grouped by
Conventional Commit type, with the issues they reference and fix; rendered as Markdown and as JSON.

The same inputs give the same bytes: nothing depends on the time the notes are made."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chef_api.deployments import Deployment
from releasenotes.commits import Commit, commits_between

# The JSON shape's version (docs/deployments.md).
NOTES_SCHEMA = 1
# Sections in the order a reader wants them; unknown types and non-conventional commits go last.
SECTIONS = (
    ("feat", "Features"),
    ("fix", "Bug fixes"),
    ("perf", "Performance"),
    ("refactor", "Refactoring"),
    ("docs", "Documentation"),
    ("test", "Tests"),
    ("build", "Build"),
    ("ci", "Continuous integration"),
    ("style", "Style"),
    ("chore", "Chores"),
    ("revert", "Reverts"),
)
OTHER = ("other", "Other changes")
# Deployments that put a version in place; no_change, failure and in_progress records do not.
DEPLOYED_RESULTS = ("success", "partial")


@dataclass(frozen=True)
class ReleaseNotes:
    app: str
    deployment: Deployment
    previous: Deployment | None
    ref: str
    previous_ref: str | None
    commits: tuple[Commit, ...]

    def sections(self) -> list[tuple[str, str, list[Commit]]]:
        known = dict(SECTIONS)
        order = [key for key, _ in SECTIONS] + [OTHER[0]]
        grouped: dict[str, list[Commit]] = {}
        for commit in self.commits:
            key = commit.type if commit.type in known else OTHER[0]
            grouped.setdefault(key, []).append(commit)
        titles = {**known, OTHER[0]: OTHER[1]}
        return [(key, titles[key], grouped[key]) for key in order if key in grouped]

    def breaking(self) -> list[Commit]:
        return [c for c in self.commits if c.breaking]

    def issues(self) -> dict[int, dict[str, Any]]:
        """{number: {"fixed": bool, "commits": [short ids]}} for every referenced issue."""
        found: dict[int, dict[str, Any]] = {}
        for commit in reversed(self.commits):
            for number in commit.issues.referenced:
                entry = found.setdefault(number, {"fixed": False, "commits": []})
                entry["fixed"] = entry["fixed"] or number in commit.issues.fixed
                entry["commits"].append(commit.short)
        return dict(sorted(found.items()))


def deployment_ref(record: Deployment) -> str:
    """The git ref a deployment's version is at: its recorded commit, else the version (a tag)."""
    commit = record.details.get("commit") if isinstance(record.details, dict) else None
    return str(commit) if commit else record.version


def pick_deployments(
    records: Sequence[Deployment], deployment_id: str | None = None, previous_id: str | None = None
) -> tuple[Deployment, Deployment | None]:
    """The deployment to describe (by id, else the newest that deployed) and the one before it: by id, else
    the newest older deployment of another version. `records` is one app's history, newest first."""
    deployed = [r for r in records if r.result in DEPLOYED_RESULTS]
    by_id = {r.id: r for r in records}
    if deployment_id is not None:
        if deployment_id not in by_id:
            raise LookupError(f"no deployment {deployment_id!r} of this application in the log")
        current = by_id[deployment_id]
    elif deployed:
        current = deployed[0]
    else:
        raise LookupError("no successful or partial deployment of this application in the log")
    if previous_id is not None:
        if previous_id not in by_id:
            raise LookupError(f"no deployment {previous_id!r} of this application in the log")
        return current, by_id[previous_id]
    before = (current.deployed_at, current.id)
    older = [r for r in deployed if (r.deployed_at, r.id) < before and r.version != current.version]
    return current, (older[0] if older else None)


def build_notes(repo: Path, app: str, deployment: Deployment, previous: Deployment | None) -> ReleaseNotes:
    ref = deployment_ref(deployment)
    previous_ref = deployment_ref(previous) if previous else None
    commits = commits_between(repo, previous_ref, ref)
    return ReleaseNotes(app, deployment, previous, ref, previous_ref, tuple(commits))


def _where(record: Deployment) -> str:
    hosts = ", ".join(record.hosts) or "no hosts recorded"
    env = f"**{record.environment}**" if record.environment else "no environment recorded"
    return f"{env} on {hosts}"


def _commit_line(commit: Commit) -> str:
    scope = f"**{commit.scope}:** " if commit.scope else ""
    issues = "".join(f", #{n}" for n in commit.issues.referenced)
    return f"- {scope}{commit.subject} ({commit.short}{issues})"


def render_markdown(notes: ReleaseNotes) -> str:
    record, previous = notes.deployment, notes.previous
    since = f" (since {previous.version})" if previous else ""
    lines = [
        f"# {notes.app} {record.version}{since}",
        "",
        f"Deployed to {_where(record)} at {record.deployed_at} by {record.deployed_by}: "
        f"{record.result} (deployment `{record.id}`).",
    ]
    if record.failed_hosts:
        lines.append(f"Failed hosts: {', '.join(sorted(record.failed_hosts))}.")
    if previous:
        lines.append(f"Previous deployment: {previous.version} at {previous.deployed_at} (`{previous.id}`).")
    else:
        lines.append("First recorded deployment: every commit up to this version is listed.")
    lines.append(f"{len(notes.commits)} commit(s), {notes.previous_ref or 'the start'}..{notes.ref}.")
    if notes.breaking():
        lines += ["", "## Breaking changes", ""]
        lines += [f"- {c.breaking} ({c.short})" for c in notes.breaking()]
    for _key, title, commits in notes.sections():
        lines += ["", f"## {title}", ""]
        lines += [_commit_line(c) for c in commits]
    issues = notes.issues()
    if issues:
        lines += ["", "## Issues", ""]
        for number, entry in issues.items():
            state = "fixed" if entry["fixed"] else "referenced"
            lines.append(f"- #{number} {state} in {', '.join(entry['commits'])}")
    return "\n".join(lines) + "\n"


def _deployment_summary(record: Deployment | None) -> dict[str, Any] | None:
    if record is None:
        return None
    keys = ("id", "version", "environment", "hosts", "deployed_at", "finished_at", "deployed_by", "result")
    item = record.item()
    return {key: item[key] for key in keys} | {"failed_hosts": sorted(record.failed_hosts)}


def render_json(notes: ReleaseNotes) -> str:
    data = {
        "schema": NOTES_SCHEMA,
        "app": notes.app,
        "deployment": _deployment_summary(notes.deployment),
        "previous": _deployment_summary(notes.previous),
        "range": {"from": notes.previous_ref, "to": notes.ref},
        "breaking": [{"commit": c.sha, "text": c.breaking} for c in notes.breaking()],
        "sections": [
            {
                "type": key,
                "title": title,
                "commits": [
                    {
                        "commit": c.sha,
                        "author": c.author,
                        "date": c.date,
                        "scope": c.scope,
                        "subject": c.subject,
                        "issues": list(c.issues.referenced),
                        "fixes": list(c.issues.fixed),
                    }
                    for c in commits
                ],
            }
            for key, title, commits in notes.sections()
        ],
        "issues": [{"number": n, **entry} for n, entry in notes.issues().items()],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
