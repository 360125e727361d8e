#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: tell Redmine about a recorded deployment (a note per referenced issue, fixed moved)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_deployment_tracker
short_description: Note a recorded deployment on the Redmine issues its release references
description:
  - For a deployment in the log written by M(cdn.infra.chef_deployment) (the newest C(success) or C(partial)
    one of O(app) by default), builds its release notes as M(cdn.infra.chef_release_notes) does and adds to
    every issue they reference one note - "Deployed VERSION of APP to ENV on HOSTS at TIME", with a link to
    the release notes (O(notes_url)). Issues the commits say they fix move to O(fixed_status) when given.
  - Idempotent. Each note carries the deployment's id, and the outcome is kept in the deployment's record
    (C(tracker)); a deployment already done is not looked at again, and an issue that already has the note
    does not get a second one.
  - Redmine down, or refusing an update, does not fail the task - the deployment is kept C(pending) in its
    record, a warning says why, and the next run retries it (with every other pending deployment of O(app)).
  - Runs on the controller and needs the repository's C(chef_api), C(releasenotes) and C(redmine_api)
    packages (src/).
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
    description: The application's git repository on the controller (for the issue references).
    type: path
    required: true
  environment:
    description: Only deployments to this environment.
    type: str
  deployment_id:
    description: The deployment to note (default - the newest that deployed).
    type: str
  bag:
    description: The data bag that holds the log.
    type: str
    default: deployments
  redmine_url:
    description: Redmine's base URL. Falls back to the environment variable E(REDMINE_URL).
    type: str
    required: true
  redmine_api_key:
    description:
      - A Redmine API key (My account, API access key) allowed to edit the issues, and to change their status
        for O(fixed_status). Falls back to E(REDMINE_API_KEY).
    type: str
    required: true
  redmine_validate_certs:
    description: Verify Redmine's TLS certificate.
    type: bool
    default: true
  redmine_timeout:
    description: Seconds to wait for each answer from Redmine.
    type: float
    default: 10
  notes_url:
    description:
      - The link to the release notes in each note, with C({app}), C({version}) and C({id}) replaced.
      - Not given, the note has no link.
    type: str
  fixed_status:
    description: The status (by name, for example C(Resolved)) fixed issues move to. Not given, none moves.
    type: str
seealso:
  - module: cdn.infra.chef_release_notes
  - module: cdn.infra.chef_deployment
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Tell Redmine what the analytics rollout delivered
  chef_deployment_tracker:
    app: analytics
    environment: production
    repo: "{{ playbook_dir }}/.."
    redmine_url: https://redmine.example.com
    redmine_api_key: "{{ vault_redmine_api_key }}"
    notes_url: "https://releases.example.com/{app}-{version}.md"
    fixed_status: Resolved
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
deployments:
  description: What was done per deployment looked at (this one and earlier pending ones, oldest first).
  returned: success
  type: list
  elements: dict
  sample:
    - id: analytics-1.1.0-20260103T100000Z-eed613
      version: 1.1.0
      state: done
      error: null
      issues: [{number: 7, action: noted, status_changed: true, error: null}]
pending:
  description: The deployments left for the next run (Redmine down or refusing), by id.
  returned: success
  type: list
  elements: str
"""

from contextlib import suppress
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from ansible.module_utils.basic import env_fallback
from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from redmine_api.client import RedmineClient, RedmineError
    from redmine_api.rollout import notify_tracker
    from releasenotes.commits import GitError


def main() -> None:
    module = chef_module(
        {
            "app": {"type": "str", "required": True},
            "repo": {"type": "path", "required": True},
            "environment": {"type": "str"},
            "deployment_id": {"type": "str"},
            "bag": {"type": "str", "default": "deployments"},
            "redmine_url": {"type": "str", "required": True, "fallback": (env_fallback, ["REDMINE_URL"])},
            "redmine_api_key": {
                "type": "str",
                "required": True,
                "no_log": True,
                "fallback": (env_fallback, ["REDMINE_API_KEY"]),
            },
            "redmine_validate_certs": {"type": "bool", "default": True},
            "redmine_timeout": {"type": "float", "default": 10.0},
            "notes_url": {"type": "str"},
            "fixed_status": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    chef = chef_client(module)
    with chef_errors(module):
        try:
            redmine = RedmineClient(
                params["redmine_url"],
                params["redmine_api_key"],
                timeout=params["redmine_timeout"],
                verify=params["redmine_validate_certs"],
            )
            with redmine:
                runs, written = notify_tracker(
                    chef,
                    redmine,
                    Path(params["repo"]),
                    params["app"],
                    now=datetime.now(UTC),
                    environment=params["environment"],
                    deployment_id=params["deployment_id"],
                    bag=params["bag"],
                    link_template=params["notes_url"],
                    fixed_status=params["fixed_status"],
                    check_mode=module.check_mode,
                )
        except (GitError, LookupError, RedmineError) as exc:
            module.fail_json(msg=str(exc), status=None, error_code=None, errors=[], request_id=None)
    pending = [run.deployment_id for run in runs if run.state == "pending"]
    for run in runs:
        if run.state == "pending":
            module.warn(
                f"Redmine was not told of deployment {run.deployment_id}, retried next run: {run.error}"
            )
    module.exit_json(
        changed=written or any(run.noted for run in runs),
        deployments=[
            {
                "id": run.deployment_id,
                "version": run.version,
                "state": run.state,
                "error": run.error,
                "issues": [asdict(update) for update in run.issues],
            }
            for run in runs
        ],
        pending=pending,
    )


if __name__ == "__main__":
    main()
