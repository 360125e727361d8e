#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a LeaseWeb server's DHCP lease (its network boot file)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_dhcp_lease
short_description: Set or remove the DHCP lease (option 67, the boot file) of a LeaseWeb server
description:
  - Manages the DHCP reservation LeaseWeb keeps for a server's public interface. With a lease, the server's
    next network boot fetches O(bootfile) (an iPXE script, usually); the API does not reboot the server, use
    M(cdn.infra.leaseweb_power) for that.
  - Idempotent. The current lease is read first; the same O(bootfile) (and O(hostname), when given) means no
    change. A different one is replaced (the old lease deleted, the new one created), since LeaseWeb documents
    no update call.
  - A replace that fails after the old lease was deleted fails the task with C(changed=true), the lease the
    server has now (C(lease), usually null) and a message saying that the server has no lease now.
  - Remove the lease once the server has booted what it needed, or every reboot boots from the network again.
version_added: "0.1.0"
author: cdn-infra team (@cdn-infra)
options:
  state:
    description:
      - V(present) makes the lease exist with O(bootfile); V(absent) removes any lease.
    type: str
    choices: [present, absent]
    default: present
  bootfile:
    description:
      - URL of the boot file (DHCP option 67), for example an iPXE script. Required with O(state=present).
      - An C(http://) or C(https://) URL with a host (iPXE fetches nothing else), at most 255 bytes (what
        one DHCP option carries), without whitespace; anything else is refused before any request.
    type: str
  hostname:
    description:
      - Hostname handed out with the lease. When not given, an existing lease's hostname is not compared.
    type: str
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
- name: Boot the server from our iPXE script on its next reboot
  leaseweb_dhcp_lease:
    server_id: "{{ leaseweb_id }}"
    bootfile: "https://boot.example.net/ipxe/{{ leaseweb_id }}.ipxe"
    hostname: "{{ inventory_hostname }}"
  delegate_to: localhost

- name: Remove the lease, so that the next reboot boots the installed system
  leaseweb_dhcp_lease:
    server_id: "{{ leaseweb_id }}"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
lease:
  description:
    - The lease after the task, as the API shows it; null when there is none. In check mode, the predicted
      C(bootfile) and C(hostname) only.
  returned: always
  type: dict
  contains:
    bootfile:
      description: The boot file URL (DHCP option 67).
      type: str
    hostname:
      description: Hostname of the lease, or null.
      type: str
    ip:
      description: The public IP the lease hands out.
      type: str
    mac:
      description: The public interface's MAC address the lease is for.
      type: str
    gateway:
      description: Gateway handed out.
      type: str
    netmask:
      description: Netmask handed out.
      type: str
    site:
      description: The server's site.
      type: str
    created_at:
      description: When the lease was created.
      type: str
    updated_at:
      description: When the lease was last changed or used by the server.
      type: str
    last_client_request:
      description: The server's last DHCP request for this lease (type, user agent); null before it boots.
      type: dict
"""

import contextlib

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    SERVER_ARGUMENT_SPEC,
    LeasewebError,
    NotFoundError,
    api_errors,
    bootfile_problem,
    fail_api,
    leaseweb_client,
    leaseweb_module,
)


def _view(lease) -> dict:
    """What the diff shows of a lease."""
    return {"bootfile": lease.bootfile, "hostname": lease.hostname} if lease else {}


def _lease_after_failure(client, server_id: str) -> tuple[dict | None, str]:
    """The lease as the API shows it after a failed create, and a sentence saying what that means."""
    try:
        lease = client.get_lease(server_id)
    except LeasewebError as exc:
        return None, f"Its lease could not be read afterwards ({exc}): check it before booting the server."
    if lease is None:
        return None, "The server has NO lease now: its next network boot gets no boot file."
    return lease.to_dict(), f"The server's lease now boots {lease.bootfile}."


def _create(module, client, server_id: str, deleted: bool) -> dict | None:
    """Create the wanted lease; on failure say what was written and what the server has now."""
    bootfile, hostname = module.params["bootfile"], module.params["hostname"]
    try:
        client.create_lease(server_id, bootfile, hostname)
    except LeasewebError as exc:
        lease, state_now = _lease_after_failure(client, server_id)
        done = "The old lease was deleted, but creating" if deleted else "Creating"
        fail_api(
            module,
            exc,
            msg=f"server {server_id}: {done} the new lease failed: {exc}. {state_now}",
            changed=deleted or lease is not None,
            lease=lease,
        )
    with api_errors(module, changed=True, lease=None):
        created = client.get_lease(server_id)
    return created.to_dict() if created else None


def _apply(module, client, server_id: str, current) -> dict | None:
    """Replace or remove the lease; the lease after it."""
    deleted = False
    if current is not None:
        # A 404: gone already, which is what we wanted.
        with api_errors(module, changed=False, lease=current.to_dict()), contextlib.suppress(NotFoundError):
            client.delete_lease(server_id)
        deleted = True
    if module.params["state"] == "absent":
        return None
    return _create(module, client, server_id, deleted)


def main() -> None:
    module = leaseweb_module(
        {
            **SERVER_ARGUMENT_SPEC,
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "bootfile": {"type": "str"},
            "hostname": {"type": "str"},
        },
        required_if=[("state", "present", ("bootfile",))],
        supports_check_mode=True,
    )
    server_id, bootfile, hostname = (module.params[k] for k in ("server_id", "bootfile", "hostname"))
    if module.params["state"] == "present" and (problem := bootfile_problem(bootfile)):
        module.fail_json(msg=f"bootfile {bootfile[:80]!r}: {problem}", changed=False)
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        current = client.get_lease(server_id)
    if module.params["state"] == "present":
        wanted = {"bootfile": bootfile, "hostname": hostname}
        changed = (
            current is None
            or current.bootfile != bootfile
            or (hostname is not None and current.hostname != hostname)
        )
    else:
        wanted = {}
        changed = current is not None
    lease = current.to_dict() if current else None
    if changed:
        lease = wanted or None
        if not module.check_mode:
            lease = _apply(module, client, server_id, current)
    result = {"changed": changed, "lease": lease}
    if module._diff:
        result["diff"] = {"before": _view(current), "after": wanted if changed else _view(current)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
