#!/usr/bin/python
# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: look up LeaseWeb dedicated servers."""

from __future__ import annotations

DOCUMENTATION = r"""
module: leaseweb_server_info
short_description: Look up LeaseWeb dedicated servers, with their network interfaces
description:
  - Returns one server by O(server_id), or the servers that match the given filters (all of them without
    filters), through LeaseWeb's Dedicated Server API v2.
  - Each server comes with its identity (id, contract reference, asset id), location (site, suite, rack,
    unit), network interfaces (public, internal, remote management; MAC, IP, gateway, switch ports) and
    feature availability (power cycle, automation, ...).
  - Read-only; it never changes anything, so it runs in check mode too.
version_added: "0.1.0"
author: cdn-infra team (@cdn-infra)
options:
  server_id:
    description:
      - The id of one server. Mutually exclusive with the filters.
    type: str
  reference:
    description:
      - Only servers whose contract reference is exactly this.
    type: str
  ip:
    description:
      - Only servers with an interface that has this IPv4 address.
    type: str
  mac_address:
    description:
      - Only servers with an interface that has this MAC address (any case).
    type: str
  site:
    description:
      - Only servers in this site (for example C(AMS-01)).
    type: str
  include_network_status:
    description:
      - Also return each interface's switch port status (C(OPEN)/C(CLOSED), link speed), one more API call per
        server.
    type: bool
    default: false
extends_documentation_fragment:
  - cdn.infra.attributes.info_module
  - cdn.infra.leaseweb
  - cdn.infra.leaseweb.action_group
"""

EXAMPLES = r"""
- name: Look up the server to provision
  leaseweb_server_info:
    server_id: "{{ leaseweb_id }}"
  delegate_to: localhost
  register: __provision_server

- name: Fail early without a public MAC
  ansible.builtin.assert:
    that: __provision_server.servers[0].public_mac
    fail_msg: "server {{ leaseweb_id }} has no public interface"

- name: Every server in Frankfurt, with switch port status
  leaseweb_server_info:
    site: FRA-10
    include_network_status: true
  delegate_to: localhost
  register: __fra_servers

- name: Find a server by MAC address (a DHCP log line, say)
  leaseweb_server_info:
    mac_address: "aa:bb:cc:dd:ee:ff"
  delegate_to: localhost
"""

RETURN = r"""
servers:
  description: The servers found (a list of one with O(server_id)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Server id, as the API's paths use it.
      type: str
      sample: "12345"
    reference:
      description: The contract reference (your own name for the server), or null.
      type: str
      sample: edge-ams-01
    asset_id:
      description: LeaseWeb's asset id.
      type: str
    serial_number:
      description: Hardware serial number.
      type: str
    contract_id:
      description: Contract id.
      type: str
    delivery_status:
      description: Contract delivery status.
      type: str
      sample: ACTIVE
    location:
      description: Where the server is.
      type: dict
      sample: {site: AMS-01, suite: A6, rack: "13", unit: "18"}
    rack_id:
      description: Id of a dedicated rack, or null in a shared one.
      type: str
    rack_type:
      description: C(SHARED), C(DEDICATED), ...
      type: str
    network_interfaces:
      description:
        - Interfaces by type (C(public), C(internal), C(remoteManagement)), each with C(mac), C(ip) (without a
          CIDR suffix; C(prefix_length) holds it when the API sent one), C(gateway), C(null_routed),
          C(location_id) and C(ports) (switch name and port).
      type: dict
    public_mac:
      description: MAC address of the public interface (the one DHCP leases are for).
      type: str
      sample: "AA:BB:CC:DD:EE:FF"
    public_ip:
      description: IPv4 address of the public interface.
      type: str
    macs:
      description: Every interface's MAC address.
      type: list
      elements: str
    ips:
      description: Every interface's IPv4 address.
      type: list
      elements: str
    feature_availability:
      description:
        - What the server supports (C(powerCycle), C(automation), C(ipmiReboot), C(privateNetwork),
          C(remoteManagement)).
      type: dict
      sample: {automation: true, powerCycle: true, ipmiReboot: false, privateNetwork: true}
    specs:
      description: Hardware as the API describes it (chassis, cpu, ram, hdd).
      type: dict
    private_networks:
      description: Private networks the server is in.
      type: list
      elements: dict
    network_status:
      description: Switch port status per interface, as the API's C(/networkInterfaces) shows it.
      returned: when O(include_network_status=true)
      type: list
      elements: dict
"""

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import (
    api_errors,
    leaseweb_client,
    leaseweb_module,
)

FILTERS = ("reference", "ip", "mac_address", "site")


def main() -> None:
    module = leaseweb_module(
        {
            "server_id": {"type": "str"},
            "reference": {"type": "str"},
            "ip": {"type": "str"},
            "mac_address": {"type": "str"},
            "site": {"type": "str"},
            "include_network_status": {"type": "bool", "default": False},
        },
        mutually_exclusive=[("server_id", *FILTERS)],
        supports_check_mode=True,
    )
    params = module.params
    client = leaseweb_client(module)
    with api_errors(module, changed=False):
        if params["server_id"]:
            found = [client.get_server(params["server_id"])]
        else:
            found = client.list_servers(**{name: params[name] for name in FILTERS})
        servers = [server.to_dict() for server in found]
        if params["include_network_status"]:
            for server in servers:
                server["network_status"] = [
                    nic.to_dict() for nic in client.list_network_interfaces(server["id"])
                ]
    module.exit_json(changed=False, servers=servers)


if __name__ == "__main__":
    main()
