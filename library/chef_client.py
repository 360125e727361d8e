#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: ensure a Chef API client exists or not; return a new client's private key."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chef_client
short_description: Ensure a Chef API client exists (returning its new private key) or not
description:
  - Creates, updates or deletes an API client (the identity a node's chef-client signs requests with) on a
    Chef Infra Server (or goiardi) through its signed REST API.
  - On creation the server generates a key pair and hands out the private key once, so that a freshly
    provisioned server can be registered. The module returns it in RV(private_key) only to a task marked
    C(no_log=true) (so it never reaches the screen or a log, at any verbosity; the registered variable
    holds it), and/or writes it to O(private_key_path) on the controller. A task that would create a client
    with neither fails before creating it, rather than print or lose the key.
  - Both response shapes are handled, C(chef_key) (Chef Infra Server, API version 1 and later) and top-level
    keys (API version 0, goiardi).
  - Idempotent, with check mode and diff mode.
  - Runs on the controller and needs the repository's C(chef_api) package (src/chef_api).
author: cdn-infra team (@cdn-infra)
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.chef
  - cdn.infra.chef.action_group
options:
  name:
    description:
      - The client's name (by convention the node's name). Letters A-Z and a-z, digits, C(_), C(-) and C(.),
        checked before any request.
    type: str
    required: true
  state:
    description: Whether the client should exist.
    type: str
    default: present
    choices: [present, absent]
  admin:
    description:
      - Whether the client is an admin. goiardi honours the flag; Chef Infra Server 12.1 and later ignore it
        (permissions come from ACLs and groups). Compared only when the server reports it.
      - Not given, an existing client is left as it is and a new one is not an admin.
    type: bool
  validator:
    description: Whether the client is a validator. Not given, as for O(admin).
    type: bool
  private_key_path:
    description:
      - Where to write a newly created client's private key on the controller (mode 0600, written
        atomically). Nothing is written when the client already exists.
      - Checked before the client is created (a probe file is written in its directory); a path that cannot be
        written fails with C(error_code=private_key_path_unwritable) and creates nothing.
      - If the write still fails after creation, the client is deleted again (a client whose only key is lost
        is useless) and the task fails with C(error_code=private_key_not_saved) and C(changed=true), so that a
        re-run with a writable path creates it anew.
    type: path
notes:
  - The private key of an existing client cannot be read back. To get a new one, delete and re-create the
    client (the old key stops working).
  - Creating clients needs an admin client (or the right ACLs); others get HTTP 403 with the server's message.
seealso:
  - module: cdn.infra.chef_node
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Register the new server as a Chef client (the key comes back once, to a no_log task)
  chef_client:
    name: "{{ inventory_hostname }}"
  delegate_to: localhost
  register: chef_registration
  no_log: true

- name: Install its key
  ansible.builtin.copy:
    content: "{{ chef_registration.private_key }}"
    dest: /etc/chef/client.pem
    owner: root
    mode: "0600"
  when: chef_registration.private_key is not none
  no_log: true

- name: Or keep the new key in a file on the controller, with the task's output visible
  chef_client:
    name: "{{ inventory_hostname }}"
    private_key_path: "{{ playbook_dir }}/.chef/{{ inventory_hostname }}.pem"
  delegate_to: localhost
"""

RETURN = r"""
client:
  description: The client record (name, flags, public key) after the task; null when absent.
  returned: always
  type: dict
  sample: {name: edge1, admin: false, validator: false, public_key: "-----BEGIN PUBLIC KEY-----..."}
private_key:
  description:
    - The new client's PEM private key, when this task created the client and is marked C(no_log); null
      otherwise (an existing client, check mode, a task without C(no_log)).
  returned: always
  type: str
created:
  description: Whether this task created the client.
  returned: always
  type: bool
"""

from contextlib import suppress

from ansible_collections.cdn.infra.plugins.module_utils.chef_common import (
    chef_client,
    chef_errors,
    chef_module,
)

# Without chef_api, chef_module() fails with missing_required_lib before any of these is used.
with suppress(ImportError):
    from chef_api.clients import (
        CLIENT_FLAGS,
        KeyNotSavedError,
        check_key_destination,
        create_client,
        create_client_saving_key,
        delete_client,
        flag_changes,
        get_client,
        update_client,
    )


def main() -> None:
    module = chef_module(
        {
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "admin": {"type": "bool"},
            "validator": {"type": "bool"},
            "private_key_path": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    name = params["name"]
    wanted = {flag: params[flag] for flag in CLIENT_FLAGS if params[flag] is not None}
    client = chef_client(module)
    result = {"changed": False, "created": False, "private_key": None}
    with chef_errors(module):
        current = get_client(client, name)
        after = current
        if params["state"] == "absent":
            after = None
            if current is not None and not module.check_mode:
                delete_client(client, name)
        elif current is None:
            _check_key_destination(module)
            after = {"name": name, "admin": False, "validator": False, **wanted}
            if not module.check_mode:
                created = _create(module, client, after)
                after["public_key"] = created.public_key
                result["created"] = True
                _hand_over_key(module, created.private_key, result)
        elif changes := flag_changes(current, wanted):
            after = {**current, **changes}
            if not module.check_mode:
                update_client(client, name, changes)
    result.update(changed=current != after, client=after)
    if module._diff:
        result["diff"] = {"before": _shown(current), "after": _shown(after)}
    module.exit_json(**result)


def _check_key_destination(module) -> None:
    key_path = module.params["private_key_path"]
    if key_path:
        try:
            check_key_destination(key_path)
        except ValueError as exc:
            module.fail_json(msg=str(exc), status=None, error_code="private_key_path_unwritable")
    # Ansible strips a module's own attempt to censor its result, so the task itself must be no_log.
    if not module.no_log and not key_path:
        module.fail_json(
            msg=f"creating client {module.params['name']!r} returns its private key once: mark the task "
            "no_log: true to receive it in the registered result, or set private_key_path to write it to a "
            "file on the controller (or both)",
            status=None,
            error_code="private_key_unprotected",
        )


def _create(module, client, record: dict):
    name, key_path = module.params["name"], module.params["private_key_path"]
    flags = {"admin": record["admin"], "validator": record["validator"]}
    if not key_path:
        return create_client(client, name, **flags)
    try:
        return create_client_saving_key(client, name, key_path, **flags)
    except KeyNotSavedError as exc:
        # Two writes happened (created, deleted again) or one (created): changed either way. The key goes
        # back only to a no_log task, and only when the client still exists.
        module.fail_json(
            msg=str(exc),
            changed=True,
            created=not exc.client_deleted,
            private_key=exc.private_key if module.no_log else None,
            status=None,
            error_code="private_key_not_saved",
        )


def _hand_over_key(module, private_key: str | None, result: dict) -> None:
    if private_key is None:
        module.warn("the server did not return a private key for the new client")
        return
    if module.no_log:
        result["private_key"] = private_key


def _shown(record: dict | None) -> dict:
    return {k: v for k, v in (record or {}).items() if k != "public_key"}


if __name__ == "__main__":
    main()
