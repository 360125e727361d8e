#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: read the deployment log back from the Chef server."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_deployment_info
short_description: Read the deployment history recorded by chef_deployment
description:
  - Returns deployment records from the Chef data bag written by M(cdn.infra.chef_deployment), newest first,
    filtered by application, host, environment, result and time. Release notes and issue-tracker updates
    are built from it.
  - By default the records are found through search, which filters on the server and scales to long logs.
    Search on Chef Infra Server is eventually consistent (its index commits about every minute); with
    O(use_search=false) the module reads every item of the bag instead, which sees a record the moment it
    is written.
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes.info_module
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  bag:
    description: The data bag that holds the log. A bag that does not exist is an empty history.
    type: str
    default: deployments
  app:
    description: Only deployments of this application.
    type: str
  host:
    description: Only deployments that included this host.
    type: str
  environment:
    description: Only deployments to this environment.
    type: str
  result:
    description: Only deployments with this outcome.
    type: str
    choices: [success, no_change, partial, failure, rolled_back, in_progress]
  since:
    description: Only deployments at or after this time (ISO 8601 date or date-time; naive means UTC).
    type: str
  limit:
    description: At most this many records (the newest).
    type: int
  use_search:
    description: Find the records through search (true) or read every item of the bag (false).
    type: bool
    default: true
notes:
  - Check mode is supported; the module changes nothing.
seealso:
  - module: cdn.infra.chef_deployment
"""

EXAMPLES = r"""
- name: What went to edge1 this year
  chef_deployment_info:
    host: edge1
    since: "2025-01-01"
  delegate_to: localhost
  register: edge1_history

- name: The last five releases of the shop, for the release notes
  chef_deployment_info:
    app: shop
    result: success
    limit: 5
  delegate_to: localhost
  register: shop_releases
"""

RETURN = r"""
deployments:
  description: The matching records, newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - id: shop-1.4.2-20250131T120000Z-1a2b3c
      app: shop
      version: 1.4.2
      hosts: [edge1, edge2]
      environment: production
      deployed_at: "2025-01-31T12:00:00Z"
      deployed_by: deploy
      result: success
      details: {}
"""

from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.deployments import HistoryFilter, history, parse_time


def main() -> None:
    module = chef_module(
        {
            "bag": {"type": "str", "default": "deployments"},
            "app": {"type": "str"},
            "host": {"type": "str"},
            "environment": {"type": "str"},
            "result": {
                "type": "str",
                "choices": ["success", "no_change", "partial", "failure", "rolled_back", "in_progress"],
            },
            "since": {"type": "str"},
            "limit": {"type": "int"},
            "use_search": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    client = chef_client(module)
    with chef_errors(module):
        filters = HistoryFilter(
            app=params["app"],
            host=params["host"],
            environment=params["environment"],
            result=params["result"],
            since=parse_time(params["since"]) if params["since"] else None,
        )
        records = history(
            client, params["bag"], filters, use_search=params["use_search"], limit=params["limit"]
        )
    module.exit_json(changed=False, deployments=[record.item() for record in records])


if __name__ == "__main__":
    main()
