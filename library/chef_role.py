#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a Chef role, with its run lists and attributes, exists or not."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_role
short_description: Ensure a Chef role exists with its run lists and attributes, or not
description:
  - Creates, updates or deletes a role on a Chef Infra Server (or goiardi) through its signed API.
  - Only the options given are managed; the others keep what the server has (a new role starts empty). A
    given option replaces the server's value as a whole (no merge).
  - Idempotent, with check mode and diff mode.
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  name:
    description: The role's name (letters, digits, C(_), C(-), C(.)).
    type: str
    required: true
  state:
    description: Whether the role should exist.
    type: str
    default: present
    choices: [present, absent]
  description:
    description: What the role is.
    type: str
  run_list:
    description: The role's run list (C(recipe[NAME]), C(role[NAME]); a bare name is a recipe).
    type: list
    elements: str
  env_run_lists:
    description: Run lists per environment, environment name to run list, replacing O(run_list) there.
    type: dict
  default_attributes:
    description: The role's default attributes.
    type: dict
  override_attributes:
    description: The role's override attributes.
    type: dict
seealso:
  - module: cdn.infra.chef_environment
  - module: cdn.infra.chef_node
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: The edge role
  chef_role:
    name: edge
    description: CDN edge node
    run_list: [edge_nginx, analytics_agent]
    default_attributes: {edge_nginx: {workers: auto}}
  delegate_to: localhost
"""

RETURN = r"""
role:
  description: The managed fields after the task (as they would be, in check mode); null when absent.
  returned: success
  type: dict
  sample:
    name: edge
    description: CDN edge node
    run_list: ["recipe[edge_nginx]", "recipe[analytics_agent]"]
    env_run_lists: {}
    default_attributes: {edge_nginx: {workers: auto}}
    override_attributes: {}
"""

from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import chef_module, manage_object

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.objects import ROLE

FIELDS = ("description", "run_list", "env_run_lists", "default_attributes", "override_attributes")


def main() -> None:
    module = chef_module(
        {
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "description": {"type": "str"},
            "run_list": {"type": "list", "elements": "str"},
            "env_run_lists": {"type": "dict"},
            "default_attributes": {"type": "dict"},
            "override_attributes": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    manage_object(module, ROLE, {field: module.params[field] for field in FIELDS})


if __name__ == "__main__":
    main()
