#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a Chef data bag item exists with the given data, or not."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_data_bag_item
short_description: Ensure a Chef data bag item exists with the given data, or not
description:
  - Creates, replaces or deletes an item of a data bag on a Chef Infra Server (or goiardi) through its signed
    API; the bag is created with its first item.
  - The item's data is O(data) as a whole (the server has no partial update); C(id) is added from O(id).
  - Bag names and item ids are checked before any request.
  - Idempotent, with check mode and diff mode. Encrypted data bags are not handled (the data is stored as
    given).
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  bag:
    description: The data bag (letters, digits, C(_), C(-), C(.)).
    type: str
    required: true
  id:
    description: The item's id (letters, digits, C(_), C(-), C(.)).
    type: str
    required: true
  data:
    description: The item's data. Required with O(state=present).
    type: dict
  state:
    description: Whether the item should exist.
    type: str
    default: present
    choices: [present, absent]
seealso:
  - module: cdn.infra.chef_deployment
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: The list of POPs, for every chef-client to read
  chef_data_bag_item:
    bag: cdn
    id: pops
    data:
      ams1: {city: Amsterdam}
      fra1: {city: Frankfurt}
  delegate_to: localhost
"""

RETURN = r"""
item:
  description: The item after the task (as it would be, in check mode); null when absent.
  returned: success
  type: dict
  sample: {id: pops, ams1: {city: Amsterdam}}
"""

from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.databags import delete_item, get_item, put_item


def main() -> None:
    module = chef_module(
        {
            "bag": {"type": "str", "required": True},
            "id": {"type": "str", "required": True},
            "data": {"type": "dict"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
        required_if=[("state", "present", ("data",))],
        supports_check_mode=True,
    )
    bag, item_id = module.params["bag"], module.params["id"]
    client = chef_client(module)
    with chef_errors(module):
        current = get_item(client, bag, item_id)
        after = {**module.params["data"], "id": item_id} if module.params["state"] == "present" else None
        changed = current != after
        if changed and not module.check_mode:
            if after is None:
                delete_item(client, bag, item_id)
            else:
                put_item(client, bag, after, exists=current is not None)
    result = {"changed": changed, "item": after}
    if module._diff:
        result["diff"] = {"before": current or {}, "after": after or {}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
