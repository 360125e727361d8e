#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: ensure a Chef node exists (with run list, environment, normal attributes) or not."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_node
short_description: Ensure a Chef node exists with a run list, environment and normal attributes, or not
description:
  - Creates, updates or deletes a node on a Chef Infra Server (or goiardi) through its signed REST API.
  - The Chef API has no partial update, so an update reads the node, applies the options and writes the
    whole object back; automatic, default and override attributes are written back as they were read.
  - Options that are not given are left as they are (a new node gets Chef's defaults).
  - Idempotent, with check mode and diff mode (environment, run list and normal attributes).
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  name:
    description: The node's name.
    type: str
    required: true
  state:
    description: Whether the node should exist.
    type: str
    default: present
    choices: [present, absent]
  environment:
    description: The node's Chef environment (C(_default) for a new node when not given).
    type: str
  run_list:
    description:
      - The node's run list, in order, replacing the current one. A bare name means a recipe
        (C(app) is C(recipe[app])).
    type: list
    elements: str
  normal:
    description: Normal attributes to set, merged into the node's according to O(normal_mode).
    type: dict
  normal_mode:
    description:
      - C(merge) deep-merges O(normal) into the node's normal attributes (other keys stay);
        C(replace) makes O(normal) the node's only normal attributes.
    type: str
    default: merge
    choices: [merge, replace]
notes:
  - Deleting a node does not delete its API client; use M(cdn.infra.chef_client) for that.
  - Another writer between the read and the write loses its change (the API offers no conditional write).
seealso:
  - module: cdn.infra.chef_node_info
  - module: cdn.infra.chef_client
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Register a freshly provisioned edge server
  chef_node:
    server_url: https://chef.example.com/organizations/cdn
    client_name: ansible
    client_key: ~/.chef/ansible.pem
    name: "{{ inventory_hostname }}"
    environment: production
    run_list: ["role[edge]", "recipe[analytics_agent]"]
    normal:
      leaseweb:
        server_id: "{{ leaseweb_server_id }}"
  delegate_to: localhost

- name: Forget a decommissioned server
  chef_node:
    name: edge9
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
node:
  description: The node as it is after the task (as it would be, in check mode); null when absent.
  returned: always
  type: dict
  sample:
    name: edge1
    chef_environment: production
    run_list: ["role[edge]"]
    normal: {leaseweb: {server_id: "12345"}}
"""

from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.nodes import NodePlan, NodeSpec, apply_plan, get_node, plan_present


def main() -> None:
    module = chef_module(
        {
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "environment": {"type": "str"},
            "run_list": {"type": "list", "elements": "str"},
            "normal": {"type": "dict"},
            "normal_mode": {"type": "str", "default": "merge", "choices": ["merge", "replace"]},
        },
        supports_check_mode=True,
    )
    params = module.params
    client = chef_client(module)
    with chef_errors(module):
        current = get_node(client, params["name"])
        if params["state"] == "absent":
            plan = NodePlan(current, None)
        else:
            spec = NodeSpec(
                name=params["name"],
                environment=params["environment"],
                run_list=params["run_list"],
                normal=params["normal"],
                replace_normal=params["normal_mode"] == "replace",
            )
            plan = plan_present(current, spec)
        if not module.check_mode:
            apply_plan(client, plan)
    result = {"changed": plan.changed, "node": plan.desired}
    if module._diff:
        result["diff"] = plan.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
