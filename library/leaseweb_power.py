#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: power a LeaseWeb server on, off, or cycle it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_power
short_description: Power a LeaseWeb server on or off, or power-cycle it
description:
  - Reads the server's power status (C(/powerInfo)) and acts only when needed. V(on) and V(off) are
    idempotent; V(cycled) always power-cycles (it is an action, so it always reports a change).
  - Checks first that the server supports remote power management (C(featureAvailability.powerCycle)),
    and fails with a clear message if not.
  - With O(wait), waits until C(/powerInfo) reports the wanted state (on, for V(cycled)).
  - A power cycle whose answer is lost (HTTP 502/504, timeout) is reported as a failure with C(changed=true)
    and C(may_have_applied=true), not sent again, since a second cycle could interrupt the boot the first
    one started. Once a power call succeeded, any later failure (reading the state, waiting) reports
    C(changed=true).
version_added: "0.1.0"
author: cdn-infra team (@cdn-infra)
options:
  state:
    description:
      - V(on), V(off), or V(cycled) (power cycle now, whatever the current state).
    type: str
    choices: [cycled, "on", "off"]
    required: true
  wait:
    description:
      - Wait until the power status is the one asked for.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait) before failing.
    type: float
    default: 300
  poll_interval:
    description:
      - Seconds between two power status reads with O(wait).
    type: float
    default: 5
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
- name: Reboot into the network boot the lease points at
  leaseweb_power:
    server_id: "{{ leaseweb_id }}"
    state: cycled
  delegate_to: localhost

- name: Make sure the server is off, and wait until IPMI says so
  leaseweb_power:
    server_id: "{{ leaseweb_id }}"
    state: "off"
    wait: true
  delegate_to: localhost
  register: __power

- name: Show what it was
  ansible.builtin.debug:
    msg: "was {{ __power.previous_status }}, now {{ __power.status }}"
"""

RETURN = r"""
status:
  description: The power status after the task (C(on) or C(off)); in check mode, the current one.
  returned: always
  type: str
  sample: "on"
previous_status:
  description: The power status before the task.
  returned: always
  type: str
  sample: "off"
power:
  description: The last C(/powerInfo) answer, the PDU's and IPMI's view (each C(on) or C(off)).
  returned: always
  type: dict
  sample: {ipmi: "on", pdu: "on"}
"""

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    SERVER_ARGUMENT_SPEC,
    api_errors,
    leaseweb_client,
    leaseweb_module,
    wait_for,
)


def _act(module, client, server_id: str, before) -> None:
    """Send the power call; a lost answer (502/504, timeout) fails as a change that may have happened."""
    action = {"cycled": client.power_cycle, "on": client.power_on, "off": client.power_off}
    with api_errors(module, changed=False, previous_status=before.status, power=before.to_dict()):
        action[module.params["state"]](server_id)


def main() -> None:
    module = leaseweb_module(
        {
            **SERVER_ARGUMENT_SPEC,
            "state": {"type": "str", "choices": ["cycled", "on", "off"], "required": True},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "float", "default": 300.0},
            "poll_interval": {"type": "float", "default": 5.0},
        },
        supports_check_mode=True,
    )
    server_id, state, timeout = (module.params[k] for k in ("server_id", "state", "wait_timeout"))
    target = "off" if state == "off" else "on"
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        if not client.get_server(server_id).supports("powerCycle"):
            module.fail_json(
                msg=f"server {server_id} has no remote power management (featureAvailability.powerCycle)"
            )
        before = client.power_info(server_id)
    changed = state == "cycled" or before.status != target
    after = before
    if changed and not module.check_mode:
        _act(module, client, server_id, before)
        # From here on the call was made: every failure reports the change.
        with api_errors(module, changed=True, previous_status=before.status):
            if module.params["wait"]:
                after, reached = wait_for(
                    lambda: client.power_info(server_id),
                    lambda info: info.status == target,
                    timeout,
                    module.params["poll_interval"],
                )
            else:
                after = client.power_info(server_id)
                reached = True
        if not reached:
            module.fail_json(
                msg=f"server {server_id} is still {after.status} after waiting {timeout} s",
                changed=True,
                status=after.status,
                previous_status=before.status,
                power=after.to_dict(),
            )
    result = {
        "changed": changed,
        "status": after.status,
        "previous_status": before.status,
        "power": after.to_dict(),
    }
    if module._diff:
        result["diff"] = {
            "before": {"power": before.status},
            "after": {"power": target if changed else before.status},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
