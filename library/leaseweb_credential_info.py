#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: the credentials LeaseWeb keeps for a server; one password written to a file on request."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_credential_info
short_description: List a LeaseWeb server's credentials, and write one password to a file
description:
  - Lists the credentials LeaseWeb keeps for the server (type and username, never passwords), for example
    the C(OPERATING_SYSTEM) C(root) credential an install job leaves.
  - With O(dest), writes the password of the credential O(type)/O(username) to that file on the controller,
    mode C(0600), and nowhere else (the password is never in the result, the log or a diff). The file is
    rewritten only when its content differs (then C(changed)); check mode reports that without writing.
version_added: "1.1.0"
author: cdn-infra team (@cdn-infra)
options:
  type:
    description:
      - Only credentials of this type; required with O(dest).
    type: str
    choices: [OPERATING_SYSTEM, RESCUE_MODE, REMOTE_MANAGEMENT, CONTROL_PANEL, SWITCH, PDU, FIREWALL,
              LOAD_BALANCER, VNC, TEMPORARY_OPERATING_SYSTEM, VPN_USER, COMBINATION_LOCK, DATABASE]
  username:
    description:
      - With O(dest), the credential whose password is written.
    type: str
  dest:
    description:
      - File (on the controller) to write the password to, with mode C(0600); its directory must exist.
    type: path
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.leaseweb
  - cdn.infra.leaseweb.action_group
  - cdn.infra.leaseweb.server
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: A diff would show the password.
"""

EXAMPLES = r"""
- name: Keep the root password the install set, for the break-glass procedure
  leaseweb_credential_info:
    server_id: "{{ leaseweb_id }}"
    type: OPERATING_SYSTEM
    username: root
    dest: "{{ lookup('ansible.builtin.env', 'HOME') }}/.cdn-infra/{{ inventory_hostname }}.root"
  delegate_to: localhost

- name: What credentials are there
  leaseweb_credential_info:
    server_id: "{{ leaseweb_id }}"
  delegate_to: localhost
  register: __credentials
"""

RETURN = r"""
credentials:
  description: The server's credentials (of O(type) when given), without passwords.
  returned: always
  type: list
  elements: dict
  sample: [{type: OPERATING_SYSTEM, username: root}]
dest:
  description: The file the password was written to (or would be, in check mode).
  returned: with O(dest)
  type: str
"""

import os
import tempfile

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    CREDENTIAL_TYPES,
    SERVER_ARGUMENT_SPEC,
    api_errors,
    leaseweb_client,
    leaseweb_module,
)


def _same_content(path: str, content: bytes) -> bool:
    try:
        with open(path, "rb") as current:
            return current.read() == content and (os.stat(path).st_mode & 0o777) == 0o600
    except FileNotFoundError:
        return False


def _write_secret(path: str, content: bytes) -> None:
    """Atomically, created 0600 (never readable by others, not even for a moment)."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".credential-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main() -> None:
    module = leaseweb_module(
        {
            **SERVER_ARGUMENT_SPEC,
            "type": {"type": "str", "choices": list(CREDENTIAL_TYPES)},
            "username": {"type": "str"},
            "dest": {"type": "path"},
        },
        required_by={"dest": ("type", "username")},
        supports_check_mode=True,
    )
    server_id, kind, username, dest = (module.params[k] for k in ("server_id", "type", "username", "dest"))
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        listed = client.list_credentials(server_id, kind)
        secret = client.get_credential(server_id, kind, username).password if dest else None
    result = {"changed": False, "credentials": [{"type": c.type, "username": c.username} for c in listed]}
    if dest:
        content = (secret or "").encode()
        result["dest"] = dest
        result["changed"] = not _same_content(dest, content)
        if result["changed"] and not module.check_mode:
            try:
                _write_secret(dest, content)
            except OSError as exc:
                module.fail_json(msg=f"cannot write the password to {dest}: {exc.strerror}", changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
