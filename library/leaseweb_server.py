#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a LeaseWeb server's own settings (its contract reference)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_server
short_description: Set the reference of a LeaseWeb server
description:
  - Sets the server's contract reference, the name the LeaseWeb inventory plugin gives the host (see its
    C(hostnames) option). Idempotent, since the server is read first and only a new reference is written.
version_added: "1.1.0"
author: cdn-infra team (@cdn-infra)
options:
  reference:
    description:
      - The reference. A valid host name (letters, digits, C(-), C(_), C(.)) keeps the inventory naming the
        host by it; the API accepts any text.
    type: str
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
- name: Name the server after its role
  leaseweb_server:
    server_id: "{{ leaseweb_id }}"
    reference: edge-ams-03
  delegate_to: localhost
"""

RETURN = r"""
reference:
  description: The reference after the task (in check mode, the one it would have).
  returned: always
  type: str
previous_reference:
  description: The reference before the task; null when it had none.
  returned: always
  type: str
"""

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    SERVER_ARGUMENT_SPEC,
    api_errors,
    leaseweb_client,
    leaseweb_module,
)


def main() -> None:
    module = leaseweb_module(
        {**SERVER_ARGUMENT_SPEC, "reference": {"type": "str", "required": True}}, supports_check_mode=True
    )
    server_id, reference = module.params["server_id"], module.params["reference"]
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        before = client.get_server(server_id).reference
    changed = before != reference
    if changed and not module.check_mode:
        with api_errors(module, changed=False, previous_reference=before):
            client.update_reference(server_id, reference)
    result = {"changed": changed, "reference": reference, "previous_reference": before}
    if module._diff:
        result["diff"] = {"before": {"reference": before}, "after": {"reference": reference}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
