#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a credential LeaseWeb keeps for a server (created, updated or removed)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_credential
short_description: Keep a credential in LeaseWeb's store for a server, or remove it
description:
  - LeaseWeb keeps credentials per server (the root password an install set, the IPMI login, a control
    panel's), by type and username. This module makes one exist with a password, or removes it.
  - Idempotent. The credential is read first; with O(update_password=always) a different password is
    replaced, with V(on_create) an existing credential is left alone.
  - The password is never returned or logged; the diff shows the type, username and whether the password
    changes, never the password.
  - Read a password into a file with M(cdn.infra.leaseweb_credential_info).
version_added: "1.1.0"
author: cdn-infra team (@cdn-infra)
options:
  type:
    description: The credential's type.
    type: str
    required: true
    choices: [OPERATING_SYSTEM, RESCUE_MODE, REMOTE_MANAGEMENT, CONTROL_PANEL, SWITCH, PDU, FIREWALL,
              LOAD_BALANCER, VNC, TEMPORARY_OPERATING_SYSTEM, VPN_USER, COMBINATION_LOCK, DATABASE]
  username:
    description: The username.
    type: str
    required: true
  password:
    description: The password; required with O(state=present).
    type: str
  update_password:
    description:
      - V(always) replaces a password that differs; V(on_create) sets it only when creating the credential.
    type: str
    choices: [always, on_create]
    default: always
  state:
    description: V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
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
- name: Keep the IPMI login in LeaseWeb's store
  leaseweb_credential:
    server_id: "{{ leaseweb_id }}"
    type: REMOTE_MANAGEMENT
    username: admin
    password: "{{ vault_ipmi_password }}"
  delegate_to: localhost

- name: Forget the rescue system's root password
  leaseweb_credential:
    server_id: "{{ leaseweb_id }}"
    type: RESCUE_MODE
    username: root
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
credential:
  description: The credential's type and username (never its password); null when absent.
  returned: always
  type: dict
  sample: {type: REMOTE_MANAGEMENT, username: admin}
"""

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    CREDENTIAL_TYPES,
    SERVER_ARGUMENT_SPEC,
    NotFoundError,
    api_errors,
    leaseweb_client,
    leaseweb_module,
)


def main() -> None:
    module = leaseweb_module(
        {
            **SERVER_ARGUMENT_SPEC,
            "type": {"type": "str", "required": True, "choices": list(CREDENTIAL_TYPES)},
            "username": {"type": "str", "required": True},
            "password": {"type": "str", "no_log": True},
            "update_password": {"type": "str", "choices": ["always", "on_create"], "default": "always"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ("password",))],
        supports_check_mode=True,
    )
    params = module.params
    server_id, kind, username, password = (params[k] for k in ("server_id", "type", "username", "password"))
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        try:
            current = client.get_credential(server_id, kind, username)
        except NotFoundError:
            current = None
    identity = {"type": kind, "username": username}
    if params["state"] == "absent":
        changed, action = current is not None, client.delete_credential
    elif current is None:
        changed, action = True, client.create_credential
    else:
        changed = params["update_password"] == "always" and current.password != password
        action = client.update_credential
    if changed and not module.check_mode:
        arguments = (
            (server_id, kind, username)
            if params["state"] == "absent"
            else (server_id, kind, username, password)
        )
        with api_errors(module, changed=False, credential=identity if current else None):
            action(*arguments)
    result = {"changed": changed, "credential": identity if params["state"] == "present" else None}
    if module._diff:
        result["diff"] = {
            "before": {**identity, "exists": current is not None},
            "after": {
                **identity,
                "exists": params["state"] == "present",
                "password_changed": changed and current is not None and params["state"] == "present",
            },
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
