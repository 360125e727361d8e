"""Release notes of an application between two deployments: what the Chef deployment log says was deployed
where and when, and what changed in the application's git history between the two versions."""

from releasenotes.commits import Commit, IssueRefs, parse_commit
from releasenotes.notes import ReleaseNotes, build_notes, render_json, render_markdown

__all__ = [
    "Commit",
    "IssueRefs",
    "ReleaseNotes",
    "build_notes",
    "parse_commit",
    "render_json",
    "render_markdown",
]
