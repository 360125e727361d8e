"""`cdn-release-notes`: release notes of an application's deployment from the Chef deployment log and the
application's git repository, as Markdown (default) or JSON, on stdout or into a directory.

Chef credentials come from CHEF_SERVER_URL, CHEF_CLIENT_NAME and CHEF_CLIENT_KEY, as for `python -m chef_api`.

    cdn-release-notes --app analytics --repo . --environment lab
    cdn-release-notes --app analytics --repo . --deployment ID --previous ID --format json
    cdn-release-notes --app analytics --repo . --output-dir notes/   # writes APP-VERSION.md and .json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chef_api.__main__ import settings_from_env
from chef_api.client import ChefClient
from chef_api.deployments import DEFAULT_BAG, HistoryFilter, history
from chef_api.errors import ChefError
from releasenotes.commits import GitError
from releasenotes.notes import ReleaseNotes, build_notes, pick_deployments, render_json, render_markdown


def notes_from_chef(
    client: ChefClient,
    repo: Path,
    app: str,
    *,
    environment: str | None = None,
    deployment_id: str | None = None,
    previous_id: str | None = None,
    bag: str = DEFAULT_BAG,
) -> ReleaseNotes:
    """The notes of one deployment (the newest by default). The log is read item by item, not through search,
    so a deployment recorded a moment ago is there."""
    records = history(client, bag, HistoryFilter(app=app, environment=environment), use_search=False)
    current, previous = pick_deployments(records, deployment_id, previous_id)
    return build_notes(repo, app, current, previous)


def output_files(notes: ReleaseNotes, directory: Path) -> dict[Path, str]:
    stem = f"{notes.app}-{notes.deployment.version}"
    return {directory / f"{stem}.md": render_markdown(notes), directory / f"{stem}.json": render_json(notes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cdn-release-notes", description=__doc__.split("\n")[0])
    parser.add_argument("--app", required=True, help="the application, as recorded in the deployment log")
    parser.add_argument("--repo", type=Path, required=True, help="the application's git repository")
    parser.add_argument("--environment", help="only deployments to this environment")
    parser.add_argument("--deployment", help="the deployment's id (default: the newest that deployed)")
    parser.add_argument("--previous", help="the deployment to compare with (default: the one before)")
    parser.add_argument("--bag", default=DEFAULT_BAG, help="the data bag of the deployment log")
    parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
    parser.add_argument("--output-dir", type=Path, help="write APP-VERSION.md and .json here instead")
    args = parser.parse_args(argv)
    try:
        with ChefClient.from_settings(settings_from_env()) as client:
            notes = notes_from_chef(
                client,
                args.repo,
                args.app,
                environment=args.environment,
                deployment_id=args.deployment,
                previous_id=args.previous,
                bag=args.bag,
            )
    except (ChefError, GitError, LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.output_dir is None:
        sys.stdout.write(render_markdown(notes) if args.format == "markdown" else render_json(notes))
        return 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for path, text in output_files(notes, args.output_dir).items():
        path.write_text(text, encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
