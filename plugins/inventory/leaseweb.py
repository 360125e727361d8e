# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible inventory plugin: LeaseWeb dedicated servers as hosts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: leaseweb
short_description: LeaseWeb dedicated servers as inventory hosts
description:
  - Lists the account's dedicated servers through LeaseWeb's Dedicated Server API v2 and makes each one a
    host, named by its contract reference (or its id when it has none, see O(hostnames)), in the group
    O(group).
  - Host variables (prefix O(var_prefix)) carry the server's id, reference, site, suite, rack, unit, MAC and
    IP addresses, interfaces, features and hardware. They come from the API, so they are marked unsafe and
    never templated.
  - Supports the constructed options (O(compose), O(groups), O(keyed_groups)) and inventory caching.
  - Uses a YAML configuration file whose name ends with C(leaseweb.yml) or C(leaseweb.yaml).
  - A source that cannot be read (no or a wrong key, the API down or answering an error) fails; see
    O(on_error).
author: cdn-infra team (@cdn-infra)
requirements:
  - python >= 3.11
  - leaseweb_api (the C(cdn-infra) Python distribution; the collection's C(requirements.txt))
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - cdn.infra.inventory_source
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    choices: [cdn.infra.leaseweb, leaseweb]
    type: str
  api_key:
    description:
      - LeaseWeb API key (the C(X-LSW-Auth) header). Prefer the environment variable to writing it here.
    type: str
    env:
      - name: LSW_API_KEY
  base_url:
    description:
      - Base URL of the API; U(https://api.leaseweb.com) when not set.
    type: str
    env:
      - name: LSW_BASE_URL
  timeout:
    description: Seconds to wait for an answer to one request.
    type: float
    default: 60
  filters:
    description:
      - Only servers that match, as the API filters them. Keys C(reference), C(ip), C(mac_address), C(site).
    type: dict
    default: {}
  hostnames:
    description:
      - What names a host, in order of preference. C(reference), C(id), C(public_ip) or C(serial_number).
      - A server is named by the first of these it has that is a valid host name (letters, digits, C(-),
        C(_) and C(.), at most 253 characters, not starting with C(-) or C(.)) and that no other server of the
        source has too. A value two servers share (a reference given twice) names neither of them, whatever
        order the API lists them in (both fall through to the next source, and a warning names them). The id,
        unique and valid, is the last resort.
    type: list
    elements: str
    default: [reference, id]
  group:
    description: The group every server is added to.
    type: str
    default: leaseweb
  var_prefix:
    description: Prefix of the host variables from the API.
    type: str
    default: leaseweb_
  connect_with:
    description:
      - Which address becomes C(ansible_host). V(none) sets none (use O(compose) for anything else).
    type: str
    choices: [public_ip, internal_ip, remote_management_ip, none]
    default: public_ip
"""

EXAMPLES = r"""
# production.leaseweb.yml: every server, grouped by site and by what it can do (LSW_API_KEY set).
plugin: cdn.infra.leaseweb
keyed_groups:
  - key: leaseweb_site
    prefix: site
  - key: leaseweb_rack_type | lower
    prefix: rack
groups:
  remote_power: leaseweb_feature_availability.powerCycle
compose:
  leaseweb_boot_mac: leaseweb_public_mac | lower

---
# Only Amsterdam, cached for an hour, hosts named by id.
plugin: cdn.infra.leaseweb
filters:
  site: AMS-01
hostnames: [id]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/cdn-infra/leaseweb-inventory
cache_timeout: 3600
"""

import re
from collections import Counter
from typing import Any

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

try:
    from leaseweb_api import LeasewebClient, LeasewebError

    HAS_LEASEWEB_API = True
except ImportError:
    HAS_LEASEWEB_API = False

CONFIG_SUFFIXES = ("leaseweb.yml", "leaseweb.yaml")
CONNECT_WITH = {"public_ip": "public", "internal_ip": "internal", "remote_management_ip": "remoteManagement"}
# What a host name may be: DNS-like labels (underscores allowed, as in Ansible's own names), no spaces,
# slashes, colons or brackets that would break host patterns.
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")


def host_facts(server: dict[str, Any]) -> dict[str, Any]:
    """A server record (`Server.to_dict()`) as host variables, without the prefix."""
    location = server.get("location") or {}
    return {
        "id": server["id"],
        "reference": server.get("reference"),
        "asset_id": server.get("asset_id"),
        "serial_number": server.get("serial_number"),
        "contract_id": server.get("contract_id"),
        "site": location.get("site"),
        "suite": location.get("suite"),
        "rack": location.get("rack"),
        "unit": location.get("unit"),
        "rack_id": server.get("rack_id"),
        "rack_type": server.get("rack_type"),
        "public_mac": server.get("public_mac"),
        "public_ip": server.get("public_ip"),
        "macs": server.get("macs") or [],
        "ips": server.get("ips") or [],
        "network_interfaces": server.get("network_interfaces") or {},
        "feature_availability": server.get("feature_availability") or {},
        "specs": server.get("specs") or {},
    }


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "cdn.infra.leaseweb"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    def _fetch(self) -> list[dict[str, Any]] | None:
        """The servers from the API; None when the source cannot be read and O(on_error) is V(empty)."""
        if not HAS_LEASEWEB_API:
            raise AnsibleError("the leaseweb inventory plugin needs leaseweb_api (this repository's src/)")
        filters = self.get_option("filters") or {}
        timeout = self.get_option("timeout")
        try:
            with LeasewebClient(
                self.get_option("api_key"), self.get_option("base_url"), timeout=(min(10.0, timeout), timeout)
            ) as client:
                return [server.to_dict() for server in client.list_servers(**filters)]
        except TypeError as exc:  # a filter the API does not have: the file is wrong, whatever on_error says
            raise AnsibleParserError(f"LeaseWeb inventory: filters: {exc}") from None
        except LeasewebError as exc:
            message = f"LeaseWeb inventory: {exc}"
            if self.get_option("on_error") == "empty":
                self.display.warning(f"{message}; on_error is 'empty': this source adds no hosts")
                return None
            raise AnsibleParserError(message) from None

    def _servers(self, path: str, cache: bool) -> list[dict[str, Any]]:
        """From the cache when allowed and filled; from the API otherwise (then the cache is refreshed)."""
        key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        if use_cache:
            try:
                return self._cache[key]
            except KeyError:
                pass
        servers = self._fetch()
        if servers is None:
            return []
        if self.get_option("cache"):
            self._cache[key] = servers
        return servers

    def _candidates(self, facts: dict[str, Any]) -> list[str]:
        """A server's possible names, in the order of O(hostnames), its id last (the last resort)."""
        values = [str(facts[source]) for source in self.get_option("hostnames") if facts.get(source)]
        return list(dict.fromkeys([*values, str(facts["id"])]))

    def _names(self, all_facts: list[dict[str, Any]]) -> list[str]:
        """Each server's host name: its first candidate that is a valid name no other server has among its
        candidates; else its id. Independent of the order the API lists the servers in."""
        candidates = [self._candidates(facts) for facts in all_facts]
        counts = Counter(name for names in candidates for name in names)
        for name, count in sorted(counts.items()):
            if count > 1:
                self.display.warning(
                    f"LeaseWeb inventory: {count} servers have {name!r}; it names none of them"
                )
        return [
            next((name for name in names if counts[name] == 1 and HOST_NAME.fullmatch(name)), names[-1])
            for names in candidates
        ]

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        all_facts = [host_facts(server) for server in self._servers(path, cache)]
        group = self.inventory.add_group(self.get_option("group"))
        prefix = self.get_option("var_prefix")
        strict = self.get_option("strict")
        for facts, name in zip(all_facts, self._names(all_facts), strict=True):
            self.inventory.add_host(name, group=group)
            for key, value in facts.items():
                self.inventory.set_variable(name, prefix + key, wrap_var(value))
            interface = CONNECT_WITH.get(self.get_option("connect_with"))
            address = (facts["network_interfaces"].get(interface) or {}).get("ip") if interface else None
            if address:
                self.inventory.set_variable(name, "ansible_host", wrap_var(address))
            # Composed variables first, so that groups can use them.
            hostvars = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            hostvars = self.inventory.get_host(name).get_vars()
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
