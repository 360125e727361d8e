#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a LeaseWeb server's hardware report (its last hardware scan)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_hardware_info
short_description: Read the hardware report of a LeaseWeb server's last hardware scan
description:
  - Returns what LeaseWeb's hardware scanner found on the server the last time it ran (C(/hardwareInfo)),
    that is the chassis, CPUs, memory, disks with their SMART data, network cards and the IPMI interface.
  - Also returns a C(summary) of what identifies the hardware (chassis serial, CPUs, memory size, disk
    serials, MAC addresses), to record before a destructive step and compare after it.
  - Start a new scan with M(cdn.infra.leaseweb_job) (O(cdn.infra.leaseweb_job#module:type=hardwareScan)).
version_added: "1.1.0"
author: cdn-infra team (@cdn-infra)
options: {}
extends_documentation_fragment:
  - cdn.infra.attributes
  - cdn.infra.attributes.info_module
  - cdn.infra.leaseweb
  - cdn.infra.leaseweb.action_group
  - cdn.infra.leaseweb.server
"""

EXAMPLES = r"""
- name: Scan the hardware and wait for the scanner
  leaseweb_job:
    server_id: "{{ leaseweb_id }}"
    type: hardwareScan
    force: true
    wait: true
  delegate_to: localhost

- name: Read the report
  leaseweb_hardware_info:
    server_id: "{{ leaseweb_id }}"
  delegate_to: localhost
  register: __hardware

- name: Refuse a server that is not the one recorded
  ansible.builtin.assert:
    that: __hardware.summary.macs == recorded_hardware.macs
"""

RETURN = r"""
scanned_at:
  description: When the scan ran.
  returned: always
  type: str
scan_id:
  description: The scan's id.
  returned: always
  type: str
parser_version:
  description: Version of LeaseWeb's report parser.
  returned: always
  type: str
hardware:
  description: The report as LeaseWeb gives it (C(chassis), C(cpu), C(memory), C(disks), C(network), C(ipmi)).
  returned: always
  type: dict
summary:
  description: What identifies the hardware, to compare two scans.
  returned: always
  type: dict
  contains:
    chassis_serial:
      description: The chassis serial number.
      type: str
    cpus:
      description: The CPUs' descriptions, sorted.
      type: list
      elements: str
    memory_bytes:
      description: Total memory.
      type: int
    disks:
      description: The disks' serial numbers, sorted.
      type: list
      elements: str
    macs:
      description: The network cards' MAC addresses, lower case, sorted.
      type: list
      elements: str
"""

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    SERVER_ARGUMENT_SPEC,
    api_errors,
    leaseweb_client,
    leaseweb_module,
)


def main() -> None:
    module = leaseweb_module(SERVER_ARGUMENT_SPEC, supports_check_mode=True)
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        report = client.hardware_info(module.params["server_id"])
    module.exit_json(
        changed=False,
        scanned_at=report.scanned_at,
        scan_id=report.id,
        parser_version=report.parser_version,
        hardware=report.result,
        summary=report.summary(),
    )


if __name__ == "__main__":
    main()
