#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a Chef environment, with its cookbook version pins and attributes, exists or not."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_environment
short_description: Ensure a Chef environment exists with its cookbook version pins and attributes, or not
description:
  - Creates, updates or deletes an environment on a Chef Infra Server (or goiardi) through its signed API.
  - The cookbook version pins (O(cookbook_versions)) say which cookbook versions the environment's nodes run -
    "what is deployed where" for cookbooks. They are checked before any request.
  - Only the options given are managed; the others keep what the server has (a new environment starts
    empty). A given option replaces the server's value as a whole (no merge).
  - Idempotent, with check mode and diff mode.
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  name:
    description: The environment's name (letters, digits, C(_), C(-), C(.)). C(_default) cannot be changed.
    type: str
    required: true
  state:
    description: Whether the environment should exist.
    type: str
    default: present
    choices: [present, absent]
  description:
    description: What the environment is.
    type: str
  cookbook_versions:
    description:
      - Cookbook version pins, cookbook name to constraint (C(= 1.2.3), C(~> 2.1), C(>= 1.0)).
      - C({}) removes every pin.
    type: dict
  default_attributes:
    description: The environment's default attributes.
    type: dict
  override_attributes:
    description: The environment's override attributes.
    type: dict
seealso:
  - module: cdn.infra.chef_role
  - module: cdn.infra.chef_node
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Production runs the reviewed cookbook versions
  chef_environment:
    name: production
    description: Customer traffic
    cookbook_versions:
      edge_nginx: "= 2.4.1"
      analytics_agent: "~> 1.3"
  delegate_to: localhost
"""

RETURN = r"""
environment:
  description: The managed fields after the task (as they would be, in check mode); null when absent.
  returned: success
  type: dict
  sample:
    name: production
    description: Customer traffic
    cookbook_versions: {edge_nginx: "= 2.4.1"}
    default_attributes: {}
    override_attributes: {}
"""

from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import chef_module, manage_object

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.objects import ENVIRONMENT

FIELDS = ("description", "cookbook_versions", "default_attributes", "override_attributes")


def main() -> None:
    module = chef_module(
        {
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "description": {"type": "str"},
            "cookbook_versions": {"type": "dict"},
            "default_attributes": {"type": "dict"},
            "override_attributes": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    if module.params["name"] == "_default":
        module.fail_json(msg="the _default environment cannot be changed or deleted (Chef refuses)")
    manage_object(module, ENVIRONMENT, {field: module.params[field] for field in FIELDS})


if __name__ == "__main__":
    main()
