"""Commits of a git repository between two refs, parsed as Conventional Commits with issue references."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# `type(scope)!: subject`, https://www.conventionalcommits.org/en/v1.0.0/
_HEADER = re.compile(r"(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()]*)\))?(?P<breaking>!)?: +(?P<subject>\S.*)")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE: *(?P<text>.+)$", re.MULTILINE)
# `fixes #1`, `Closes #2, #3`, `resolved #4 and #5`: the issues a commit says it fixes.
_FIXES = re.compile(
    r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\b:?\s+(?P<refs>#\d+(?:(?:\s*,\s*|\s+and\s+)#\d+)*)",
    re.IGNORECASE,
)
# Any `#123` (with `refs #123`, `see #123`...) not preceded by a word character (`abc#1` is not a reference).
_REFERENCE = re.compile(r"(?<![\w&/])#(?P<number>\d+)\b")
# Fields and records of `git log` output, separated by ASCII unit and record separators.
_FIELD, _RECORD = "\x1f", "\x1e"
_LOG_FORMAT = _FIELD.join(["%H", "%an", "%aI", "%B"]) + _RECORD


class GitError(Exception):
    """git failed, or a ref does not name a commit."""


@dataclass(frozen=True)
class IssueRefs:
    referenced: tuple[int, ...]
    fixed: tuple[int, ...]


def issue_refs(message: str) -> IssueRefs:
    fixed = sorted({int(n) for m in _FIXES.finditer(message) for n in re.findall(r"\d+", m.group("refs"))})
    referenced = sorted({int(m.group("number")) for m in _REFERENCE.finditer(message)})
    return IssueRefs(referenced=tuple(referenced), fixed=tuple(fixed))


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str
    type: str | None
    scope: str | None
    subject: str
    breaking: str | None
    issues: IssueRefs

    @property
    def short(self) -> str:
        return self.sha[:10]


def parse_commit(sha: str, author: str, date: str, message: str) -> Commit:
    lines = message.strip().splitlines() or [""]
    header = _HEADER.fullmatch(lines[0].strip())
    footer = _BREAKING_FOOTER.search(message)
    breaking = None
    if footer:
        breaking = footer.group("text").strip()
    elif header and header.group("breaking"):
        breaking = header.group("subject").strip()
    return Commit(
        sha=sha,
        author=author,
        date=date,
        type=header.group("type").lower() if header else None,
        scope=(header.group("scope") or None) if header else None,
        subject=(header.group("subject") if header else lines[0]).strip(),
        breaking=breaking,
        issues=issue_refs(message),
    )


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False, timeout=120
        )
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} in {repo}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def resolve(repo: Path, ref: str) -> str:
    """The full commit id a tag, branch or (abbreviated) commit names; GitError if none."""
    if ref.startswith("-"):
        raise GitError(f"not a git ref: {ref!r}")
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except GitError:
        raise GitError(f"{ref!r} names no commit in {repo} (a tag, a branch or a commit id)") from None


def commits_between(repo: Path, old: str | None, new: str) -> list[Commit]:
    """Commits reachable from `new` and not from `old` (all of them without `old`), newest first, merges
    left out (their branches' commits are listed)."""
    new_sha = resolve(repo, new)
    revision = f"{resolve(repo, old)}..{new_sha}" if old else new_sha
    out = _git(repo, "log", "--no-merges", "--topo-order", f"--format={_LOG_FORMAT}", revision, "--")
    commits = []
    for record in out.split(_RECORD):
        record = record.strip("\n")
        if record:
            sha, author, date, message = record.split(_FIELD, 3)
            commits.append(parse_commit(sha, author, date, message))
    return commits
