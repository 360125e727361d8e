#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: record a deployment (what, version, where, when, by whom, result) in a Chef data bag."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_deployment
short_description: Record a deployment in the Chef server's deployment log
description:
  - Writes one record per deployment (application, version, hosts, environment, time, operator, result and
    free-form details) as an item of a Chef data bag, created when needed.
    M(cdn.infra.chef_deployment_info) reads the history back; release notes and issue-tracker updates
    are built from it.
  - Without O(id) every run records a new deployment (and reports a change). With O(id) the record is
    idempotent - a repeated task changes nothing, and a later task with the same id can complete it
    (for example O(result) from C(in_progress) to C(success)).
  - Check mode and diff mode are supported.
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  state:
    description: C(present) records (or updates) a deployment; C(absent) deletes the record O(id).
    type: str
    default: present
    choices: [present, absent]
  bag:
    description: The data bag that holds the log.
    type: str
    default: deployments
  id:
    description:
      - The record's id (letters, digits, C(_), C(-), C(.)); generated from app, version and time when not
        given. Required with O(state=absent).
    type: str
  app:
    description: What was deployed. Required for a new record.
    type: str
  version:
    description: The version deployed. Required for a new record.
    type: str
  hosts:
    description: Where it was deployed (inventory or Chef node names).
    type: list
    elements: str
  environment:
    description: The environment deployed to.
    type: str
  deployed_at:
    description: When the deployment started, as ISO 8601 (stored as UTC). Defaults to now for a new record.
    type: str
  deployed_by:
    description: Who deployed. Defaults to the user running Ansible on the controller for a new record.
    type: str
  result:
    description:
      - The outcome. Defaults to C(success) for a new record, or to what O(finish) derives.
      - C(no_change) is a run that completed on every host and changed nothing; C(partial) one where some
        hosts failed (O(failed_hosts)).
    type: str
    choices: [success, no_change, partial, failure, rolled_back, in_progress]
  details:
    description: Free-form data kept with the record (commit, change log, ticket, pipeline URL).
    type: dict
  batches:
    description: The hosts of each batch of the rollout, in order.
    type: list
    elements: list
  failed_hosts:
    description: The hosts that failed, each with the reason (host name to text).
    type: dict
  reason:
    description: Why the deployment failed or stopped, in a sentence.
    type: str
  changes:
    description:
      - What the deployment changed on each host - a dict of host name to a dict with C(before) and C(after),
        each a free-form state such as the package version. Hosts whose C(before) equals C(after) are dropped.
    type: dict
  finish:
    description:
      - Complete the record - stamp C(finished_at) (once; a repeated task keeps the first time) and, when
        O(result) is not given, derive it - C(failure) when every host of O(hosts) failed, C(partial) when
        some did, C(success) when some host changed, C(no_change) otherwise.
    type: bool
    default: false
  finished_at:
    description: When the deployment ended, as ISO 8601; defaults to now when O(finish) is set.
    type: str
notes:
  - The data bag is created on the first record; that needs the right to create data bags (an admin client
    on goiardi), and writing items needs write access to the bag.
seealso:
  - module: cdn.infra.chef_deployment_info
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Record the analytics release on the edge nodes
  chef_deployment:
    app: analytics_agent
    version: "{{ analytics_version }}"
    hosts: "{{ ansible_play_hosts }}"
    environment: production
    details:
      commit: "{{ lookup('env', 'CI_COMMIT_SHA') }}"
  delegate_to: localhost
  run_once: true

- name: Open a record before rolling out, and complete it afterwards (same id, idempotent)
  chef_deployment:
    id: "shop-{{ shop_version }}-{{ lookup('env', 'CI_PIPELINE_ID') }}"
    app: shop
    version: "{{ shop_version }}"
    result: in_progress
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
deployment:
  description: The record as it is after the task (as it would be, in check mode); null when absent.
  returned: always
  type: dict
  sample:
    id: shop-1.4.2-20250131T120000Z-1a2b3c
    app: shop
    version: 1.4.2
    schema: 2
    hosts: [edge1, edge2]
    batches: [[edge1], [edge2]]
    environment: production
    deployed_at: "2025-01-31T12:00:00Z"
    finished_at: "2025-01-31T12:04:10Z"
    deployed_by: deploy
    result: success
    reason: null
    failed_hosts: {}
    changes: {edge1: {before: {version: 1.4.1}, after: {version: 1.4.2}}}
    details: {commit: 3f2c1d0}
"""

import getpass
from contextlib import suppress
from datetime import UTC, datetime

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.deployments import (
        DeploymentSpec,
        changed_hosts,
        delete_record,
        get_record,
        plan_record,
        write_record,
    )

RECORD_FIELDS = (
    "app",
    "version",
    "hosts",
    "environment",
    "deployed_at",
    "deployed_by",
    "result",
    "details",
    "batches",
    "failed_hosts",
    "reason",
    "finish",
    "finished_at",
)


def main() -> None:
    module = chef_module(
        {
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "bag": {"type": "str", "default": "deployments"},
            "id": {"type": "str"},
            "app": {"type": "str"},
            "version": {"type": "str"},
            "hosts": {"type": "list", "elements": "str"},
            "environment": {"type": "str"},
            "deployed_at": {"type": "str"},
            "deployed_by": {"type": "str"},
            "result": {
                "type": "str",
                "choices": ["success", "no_change", "partial", "failure", "rolled_back", "in_progress"],
            },
            "details": {"type": "dict"},
            "batches": {"type": "list", "elements": "list"},
            "failed_hosts": {"type": "dict"},
            "reason": {"type": "str"},
            "changes": {"type": "dict"},
            "finish": {"type": "bool", "default": False},
            "finished_at": {"type": "str"},
        },
        required_if=[("state", "absent", ("id",))],
        supports_check_mode=True,
    )
    params = module.params
    bag = params["bag"]
    client = chef_client(module)
    with chef_errors(module):
        current = get_record(client, bag, params["id"]) if params["id"] else None
        if params["state"] == "absent":
            after = None
        else:
            changes = changed_hosts(params["changes"]) if params["changes"] is not None else None
            spec = DeploymentSpec(
                id=params["id"], changes=changes, **{name: params[name] for name in RECORD_FIELDS}
            )
            after = plan_record(current, spec, now=datetime.now(UTC), user=getpass.getuser()).item()
        changed = current != after
        if changed and not module.check_mode:
            if after is None:
                delete_record(client, bag, params["id"])
            else:
                write_record(client, bag, after, exists=current is not None)
    result = {"changed": changed, "deployment": after}
    if module._diff:
        result["diff"] = {"before": current or {}, "after": after or {}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
