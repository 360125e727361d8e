#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: read Chef nodes by name or search query."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_node_info
short_description: Read Chef nodes by name or by search query
description:
  - Reads nodes from a Chef Infra Server (or goiardi) through its signed REST API.
  - By name the nodes are read directly (no search-index lag); by query through search, paged so that the
    result is complete on Chef Infra Server and on goiardi.
  - With O(attributes), only those attributes are returned (partial search), which is much lighter than
    whole node objects with all their Ohai data.
  - Every node comes with C(ohai_time), the time of its last chef-client run, as an ISO 8601 date.
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes.info_module
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  name:
    description: Node names to read. Names that do not exist are returned in RV(missing).
    type: list
    elements: str
    aliases: [names]
  query:
    description:
      - A Chef search query (Lucene syntax), for example C(chef_environment:production AND role:edge).
      - Without O(name) and O(query), every node.
    type: str
  attributes:
    description:
      - Return only these attributes, as C(alias) to attribute path (a dotted string or a list of keys).
      - C(name) and C(ohai_time) are always included.
    type: dict
  rows:
    description: Search page size.
    type: int
    default: 1000
notes:
  - Check mode is supported; the module changes nothing.
  - Search on Chef Infra Server is eventually consistent (about a minute); read just-written nodes by O(name).
seealso:
  - module: cdn.infra.chef_node
"""

EXAMPLES = r"""
- name: Read two nodes
  chef_node_info:
    server_url: https://chef.example.com/organizations/cdn
    client_name: ansible
    client_key: ~/.chef/ansible.pem
    name: [edge1, edge2]
  delegate_to: localhost
  register: chef_nodes

- name: Where each production edge node is and when chef-client last ran (partial search)
  chef_node_info:
    query: "chef_environment:production AND role:edge"
    attributes:
      ip: ipaddress
      kernel: kernel.release
  delegate_to: localhost
  register: edge_nodes
  # server_url, client_name and client_key from CHEF_SERVER_URL, CHEF_CLIENT_NAME, CHEF_CLIENT_KEY
"""

RETURN = r"""
nodes:
  description:
    - Full node objects, or with O(attributes) the requested attributes by alias.
    - C(ohai_time) is the last chef-client run as an ISO 8601 UTC date, or null if it never ran.
  returned: always
  type: list
  elements: dict
  sample:
    - name: edge1
      ohai_time: "2025-01-31T12:00:00Z"
      ip: 10.0.0.1
missing:
  description: Names given in O(name) that the server does not know.
  returned: always
  type: list
  elements: str
  sample: [edge9]
"""

from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.nodes import node_info


def main() -> None:
    module = chef_module(
        {
            "name": {"type": "list", "elements": "str", "aliases": ["names"]},
            "query": {"type": "str"},
            "attributes": {"type": "dict"},
            "rows": {"type": "int", "default": 1000},
        },
        mutually_exclusive=[("name", "query")],
        supports_check_mode=True,
    )
    params = module.params
    client = chef_client(module)
    with chef_errors(module):
        nodes, missing = node_info(
            client,
            names=params["name"] or (),
            query=params["query"],
            attributes=params["attributes"],
            rows=params["rows"],
        )
    module.exit_json(changed=False, nodes=nodes, missing=missing)


if __name__ == "__main__":
    main()
