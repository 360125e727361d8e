#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: release notes of a recorded deployment, from the Chef deployment log and git history."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_release_notes
short_description: Build release notes of a deployment from the Chef deployment log and the app's git history
description:
  - Picks a deployment of O(app) from the log written by M(cdn.infra.chef_deployment) (the newest C(success)
    or C(partial) one by default) and the deployment before it (the newest older one of another version),
    and lists the commits of the application's git repository between their versions. A deployment's
    version is its recorded C(details.commit) when there is one, else its C(version) (a tag).
  - >-
    Commits are grouped by Conventional Commit type (C(feat), C(fix), C(perf), ...; others last), breaking
    changes listed first; issue references (C(#123), C(refs #123)) and fixes (C(fixes #123), C(closes #123),
    C(resolves #123)) are collected.
  - Returns the notes as Markdown and as JSON (the same for the same log and repository), and writes both
    into O(dest) when given (C(APP-VERSION.md) and C(APP-VERSION.json)); only that write is a change.
  - The command line C(cdn-release-notes) does the same.
  - Runs on the controller and needs the repository's C(chef_api) and C(releasenotes) packages (src/).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  app:
    description: The application, as recorded in the deployment log.
    type: str
    required: true
  repo:
    description: The application's git repository on the controller.
    type: path
    required: true
  environment:
    description: Only deployments to this environment.
    type: str
  deployment_id:
    description: The deployment to describe (default - the newest that deployed).
    type: str
  previous_id:
    description: The deployment to compare with (default - the one before).
    type: str
  bag:
    description: The data bag that holds the log.
    type: str
    default: deployments
  dest:
    description: A directory to write the notes into, as Markdown and JSON (created when needed).
    type: path
seealso:
  - module: cdn.infra.chef_deployment
  - module: cdn.infra.chef_deployment_info
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Release notes of the last analytics rollout to production
  chef_release_notes:
    app: analytics
    environment: production
    repo: "{{ playbook_dir }}/.."
    dest: "{{ playbook_dir }}/../.lab/release-notes"
  delegate_to: localhost
  run_once: true
  register: analytics_notes

- name: Show them
  ansible.builtin.debug:
    msg: "{{ analytics_notes.markdown }}"
"""

RETURN = r"""
markdown:
  description: The release notes as Markdown.
  returned: success
  type: str
  sample: "# analytics v1.1.0 (since v1.0.0)\n\nDeployed to **lab** on edge1 at ..."
notes:
  description: The release notes as data (the JSON written to O(dest); shape in docs/deployments.md).
  returned: success
  type: dict
  sample:
    schema: 1
    app: analytics
    range: {from: v1.0.0, to: v1.1.0}
    issues: [{number: 7, fixed: true, commits: [700b266f86]}]
files:
  description: The files written (or that would be) into O(dest); empty without O(dest).
  returned: success
  type: list
  elements: str
"""

import json
from contextlib import suppress
from pathlib import Path

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from releasenotes.cli import notes_from_chef, output_files
    from releasenotes.commits import GitError
    from releasenotes.notes import render_json, render_markdown


def main() -> None:
    module = chef_module(
        {
            "app": {"type": "str", "required": True},
            "repo": {"type": "path", "required": True},
            "environment": {"type": "str"},
            "deployment_id": {"type": "str"},
            "previous_id": {"type": "str"},
            "bag": {"type": "str", "default": "deployments"},
            "dest": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    client = chef_client(module)
    with chef_errors(module):
        try:
            notes = notes_from_chef(
                client,
                Path(params["repo"]),
                params["app"],
                environment=params["environment"],
                deployment_id=params["deployment_id"],
                previous_id=params["previous_id"],
                bag=params["bag"],
            )
        except (GitError, LookupError) as exc:
            module.fail_json(msg=str(exc), status=None, error_code=None, errors=[], request_id=None)
    files = output_files(notes, Path(params["dest"])) if params["dest"] else {}
    stale = {path: text for path, text in files.items() if _read(path) != text}
    diff = [{"before_header": str(p), "before": _read(p) or "", "after": t} for p, t in stale.items()]
    if stale and not module.check_mode:
        try:
            for path, text in stale.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        except OSError as exc:
            module.fail_json(msg=f"cannot write the release notes: {exc}", changed=True)
    result = {
        "changed": bool(stale),
        "markdown": render_markdown(notes),
        "notes": json.loads(render_json(notes)),
        "files": sorted(str(path) for path in files),
    }
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


if __name__ == "__main__":
    main()
