#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: what `knife status` shows - each node's last check-in, run list and environment."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_node_status
short_description: The nodes' last check-in, run list and environment, as knife status shows them
description:
  - One partial search for the nodes matching O(query) with what C(knife status) shows - the time of the last
    chef-client run (C(ohai_time)) and how long ago it was, run list and expanded roles, environment,
    platform, IP address and FQDN - oldest check-in first, as knife lists them.
  - Nodes that have not checked in for O(stale_after) minutes, or never, are marked C(stale) and listed in
    RV(stale).
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes.info_module
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  query:
    description: A Chef search query over nodes (for example C(chef_environment:production)).
    type: str
    default: "*:*"
  stale_after:
    description: Minutes without a chef-client run after which a node counts as stale.
    type: float
    default: 60
notes:
  - Check mode is supported; the module changes nothing.
seealso:
  - module: cdn.infra.chef_node_info
"""

EXAMPLES = r"""
- name: Which production nodes have not run chef-client in the last hour
  chef_node_status:
    query: "chef_environment:production"
    stale_after: 60
  delegate_to: localhost
  register: chef_status

- name: Say so
  ansible.builtin.debug:
    msg: "{{ chef_status.stale }}"
"""

RETURN = r"""
nodes:
  description: The matching nodes, oldest check-in first (never-run nodes first of all), then by name.
  returned: success
  type: list
  elements: dict
  sample:
    - name: edge1
      environment: production
      run_list: ["role[edge]"]
      roles: [edge]
      ipaddress: 192.0.2.10
      fqdn: edge1.example.com
      platform: debian
      platform_version: "12.5"
      last_run: "2026-01-31T12:00:00Z"
      minutes_since_run: 12.5
      stale: false
stale:
  description: The names of the stale nodes.
  returned: success
  type: list
  elements: str
"""

import time
from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.nodes import NodeSummary, node_status, summary_rows


def main() -> None:
    module = chef_module(
        {
            "query": {"type": "str", "default": "*:*"},
            "stale_after": {"type": "float", "default": 60.0},
        },
        supports_check_mode=True,
    )
    client = chef_client(module)
    now = time.time()
    with chef_errors(module):
        summaries = [NodeSummary.from_row(row) for row in summary_rows(client, module.params["query"])]
    summaries.sort(key=lambda s: (s.ohai_time is not None, s.ohai_time or 0.0, s.name))
    nodes = [node_status(s, now, module.params["stale_after"]) for s in summaries]
    module.exit_json(changed=False, nodes=nodes, stale=[n["name"] for n in nodes if n["stale"]])


if __name__ == "__main__":
    main()
