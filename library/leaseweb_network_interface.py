#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: open or close the switch ports of a LeaseWeb server's network interfaces."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_network_interface
short_description: Open or close a LeaseWeb server's network interfaces (their switch ports)
description:
  - Opens or closes the switch port of the server's public, internal or remote management interface, or of
    all of them. A closed public port takes the server off the internet (for an install from a trusted
    network, or a server being investigated), without powering it off.
  - Idempotent. The ports' status is read first (C(/networkInterfaces)); only ports not already in the
    wanted state make a change.
version_added: "1.1.0"
author: cdn-infra team (@cdn-infra)
options:
  interface:
    description:
      - Which interface; V(all) for every interface the server has.
    type: str
    choices: [all, public, internal, remoteManagement]
    default: all
  state:
    description:
      - V(open) or V(closed).
    type: str
    choices: [open, closed]
    required: true
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.leaseweb
  - cdn.infra.leaseweb.action_group
  - cdn.infra.leaseweb.server
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Take the server off the internet while it is investigated
  leaseweb_network_interface:
    server_id: "{{ leaseweb_id }}"
    interface: public
    state: closed
  delegate_to: localhost

- name: Open every port again
  leaseweb_network_interface:
    server_id: "{{ leaseweb_id }}"
    state: open
  delegate_to: localhost
"""

RETURN = r"""
interfaces:
  description:
    - The status of each interface of the server after the task, by interface (C(public), C(internal),
      C(remoteManagement)); C(OPEN) or C(CLOSED). In check mode, the predicted status.
  returned: always
  type: dict
  sample: {public: CLOSED, internal: OPEN}
"""

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    SERVER_ARGUMENT_SPEC,
    api_errors,
    leaseweb_client,
    leaseweb_module,
)

# The API's interface types (GET /networkInterfaces) by the names its paths use.
KINDS = {"PUBLIC": "public", "INTERNAL": "internal", "REMOTE_MANAGEMENT": "remoteManagement"}


def _statuses(client, server_id: str) -> dict[str, str]:
    return {
        KINDS.get((nic.type or "").upper(), nic.type or ""): (nic.status or "").upper()
        for nic in client.list_network_interfaces(server_id)
    }


def main() -> None:
    module = leaseweb_module(
        {
            **SERVER_ARGUMENT_SPEC,
            "interface": {"type": "str", "choices": ["all", *KINDS.values()], "default": "all"},
            "state": {"type": "str", "choices": ["open", "closed"], "required": True},
        },
        supports_check_mode=True,
    )
    server_id, interface = module.params["server_id"], module.params["interface"]
    wanted = "OPEN" if module.params["state"] == "open" else "CLOSED"
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        before = _statuses(client, server_id)
    if interface != "all" and interface not in before:
        module.fail_json(msg=f"server {server_id} has no {interface} interface", interfaces=before)
    targets = list(before) if interface == "all" else [interface]
    stale = [kind for kind in targets if before[kind] != wanted]
    after = {**before, **{kind: wanted for kind in stale}}
    if stale and not module.check_mode:
        act = client.open_network_interfaces if wanted == "OPEN" else client.close_network_interfaces
        with api_errors(module, changed=False, interfaces=before):
            act(server_id, None if interface == "all" else interface)
        with api_errors(module, changed=True):
            after = _statuses(client, server_id)
    result = {"changed": bool(stale), "interfaces": after}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
