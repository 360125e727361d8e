# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible inventory plugin: the nodes of a Chef server, grouped by environment, role, tag, recipe and
cookbook."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: chef
short_description: Chef Infra Server (or goiardi) nodes as inventory
description:
  - Reads nodes with one partial search (the projection of C(knife status) plus roles and tags), so only a
    few attributes per node travel, not whole Ohai trees.
  - Adds each node as a host with C(chef_*) variables and puts it in groups by environment, role (from the
    run list and the roles expanded on the last chef-client run) and tag, and on request by recipe and
    cookbook (O(group_by)).
  - Supports the constructed options (compose, groups, keyed_groups) and inventory caching.
  - Everything that comes from the API is marked unsafe, so a node's attributes are never templated.
  - The configuration file name must end in C(.chef.yml) or C(.chef.yaml).
  - Needs the repository's C(chef_api) package (src/chef_api) in the Python that runs Ansible.
author: cdn-infra team (@cdn-infra)
requirements:
  - python >= 3.11
  - chef_api (the C(cdn-infra) Python distribution; the collection's C(requirements.txt))
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - cdn.infra.inventory_source
options:
  plugin:
    description: The name of this plugin; it makes the file a Chef inventory source.
    type: str
    required: true
    choices: [cdn.infra.chef, chef]
  server_url:
    description:
      - Base URL of the Chef API. For Chef Infra Server include the organisation,
        C(https://chef.example.com/organizations/ORG); for goiardi the bare server URL.
    type: str
    required: true
    env:
      - name: CHEF_SERVER_URL
  client_name:
    description: The API client (or user) that signs the requests.
    type: str
    required: true
    env:
      - name: CHEF_CLIENT_NAME
  client_key:
    description: Path of the client's PEM private key.
    type: path
    env:
      - name: CHEF_CLIENT_KEY
  client_key_content:
    description:
      - The client's PEM private key itself; takes precedence over O(client_key).
      - Never logged or printed.
    type: str
    env:
      - name: CHEF_CLIENT_KEY_CONTENT
  sign_version:
    description: Request signing protocol version.
    type: str
    default: "1.3"
    choices: ["1.0", "1.1", "1.3"]
    env:
      - name: CHEF_SIGN_VERSION
  server_api_version:
    description: Sent as X-Ops-Server-API-Version (Chef Infra Server 0 to 2, goiardi 0 to 1).
    type: str
    default: "1"
    env:
      - name: CHEF_SERVER_API_VERSION
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
    env:
      - name: CHEF_VALIDATE_CERTS
  timeout:
    description: Seconds to wait for each HTTP response.
    type: float
    default: 30
  query:
    description: The node search query (Lucene syntax), for example C(chef_environment:production).
    type: str
    default: "*:*"
  rows:
    description: Search page size.
    type: int
    default: 1000
  attributes:
    description:
      - More attributes to fetch, as C(alias) to attribute path (dotted string or list); each becomes the
        host variable C(<var_prefix><alias>).
    type: dict
    default: {}
  hostname:
    description:
      - What names the host in the inventory.
      - A node without it, or whose value another node of the source has too (two nodes with one C(fqdn)),
        is named by its node name instead (unique on a Chef server), with a warning for the shared value.
    type: str
    default: name
    choices: [name, fqdn, ipaddress]
  address:
    description: What to set C(ansible_host) to (C(none) leaves it unset).
    type: str
    default: ipaddress
    choices: [ipaddress, fqdn, none]
  group_by:
    description:
      - Which groups to make.
      - V(recipes) - the recipes of the node's run list and those chef-client expanded on its last run (the
        roles' recipes too, from the node's C(recipes) attribute); a version pin is dropped and
        C(COOKBOOK::default) is C(COOKBOOK). The group of C(nginx::server) is C(chef_recipe_nginx__server)
        (C(::) is not allowed in a group name).
      - V(cookbooks) - the cookbooks of those recipes, and every cookbook the last chef-client run used (the
        node's C(cookbooks) attribute, dependencies included).
      - A node that has never run chef-client is grouped only by what its run list names.
    type: list
    elements: str
    default: [environment, roles, tags]
    choices: [environment, roles, tags, recipes, cookbooks]
  environment_group_prefix:
    description: Prefix of the environment groups (C(chef_env_production)).
    type: str
    default: chef_env_
  role_group_prefix:
    description: Prefix of the role groups (C(chef_role_edge)).
    type: str
    default: chef_role_
  tag_group_prefix:
    description: Prefix of the tag groups (C(chef_tag_canary)).
    type: str
    default: chef_tag_
  recipe_group_prefix:
    description: Prefix of the recipe groups (C(chef_recipe_nginx)).
    type: str
    default: chef_recipe_
  cookbook_group_prefix:
    description: Prefix of the cookbook groups (C(chef_cookbook_nginx)).
    type: str
    default: chef_cookbook_
  var_prefix:
    description: Prefix of the host variables set from Chef.
    type: str
    default: chef_
"""

EXAMPLES = r"""
# production.chef.yml; credentials from CHEF_CLIENT_NAME and CHEF_CLIENT_KEY
plugin: cdn.infra.chef
server_url: https://chef.example.com/organizations/cdn
query: "chef_environment:production"
attributes:
  datacenter: leaseweb.datacenter
# chef_env_*, chef_role_*, chef_tag_*, and chef_recipe_* / chef_cookbook_* from the run lists and last runs
group_by: [environment, roles, tags, recipes, cookbooks]
keyed_groups:
  - key: chef_platform
    prefix: os
compose:
  ansible_user: "'deploy'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-chef
cache_timeout: 600
"""

from collections import Counter

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

try:
    from chef_api import ChefClient, ChefError, ChefSettings
    from chef_api.nodes import NodeSummary, summary_rows

    CHEF_API_MISSING = None
except ImportError as exc:
    CHEF_API_MISSING = exc

_CONNECTION_OPTIONS = (
    "server_url",
    "client_name",
    "client_key",
    "client_key_content",
    "sign_version",
    "server_api_version",
    "validate_certs",
    "timeout",
)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "cdn.infra.chef"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith((".chef.yml", ".chef.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        if CHEF_API_MISSING is not None:
            raise AnsibleError(
                f"the chef inventory plugin needs chef_api (run scripts/venv.sh): {CHEF_API_MISSING}"
            )
        self._read_config_data(path)
        nodes = [NodeSummary.from_row(row) for row in self._node_rows(path, cache)]
        for node, hostname in zip(nodes, self._hostnames(nodes), strict=True):
            self._add_node(node, hostname)

    def _hostnames(self, nodes: list[NodeSummary]) -> list[str]:
        """The O(hostname) attribute of each node, or its (unique) node name when it has none or shares it."""
        wanted = [getattr(node, self.get_option("hostname")) or node.name for node in nodes]
        counts = Counter(wanted)
        for value, count in sorted(counts.items()):
            if count > 1:
                self.display.warning(
                    f"chef inventory: {count} nodes have {value!r}: they are named by node name"
                )
        return [value if counts[value] == 1 else node.name for node, value in zip(nodes, wanted, strict=True)]

    def _node_rows(self, path: str, cache: bool) -> list[dict]:
        """The partial-search rows, from the cache when it is on and fresh."""
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache")
        if use_cache and cache:
            try:
                return self._cache[cache_key]
            except KeyError:
                pass
        rows = self._fetch()
        if rows is None:
            return []
        if use_cache:
            self._cache[cache_key] = rows
        return rows

    def _fetch(self) -> list[dict] | None:
        """The partial-search rows; None when the server cannot be read and O(on_error) is V(empty)."""
        settings = ChefSettings(**{name: self.get_option(name) for name in _CONNECTION_OPTIONS})
        try:
            with ChefClient.from_settings(settings) as client:
                query, attributes = self.get_option("query"), self.get_option("attributes")
                return summary_rows(client, query, attributes, rows=self.get_option("rows"))
        except (ChefError, ValueError) as exc:
            message = f"chef inventory {settings.server_url}: {exc}"
            if self.get_option("on_error") == "empty":
                self.display.warning(f"{message}; on_error is 'empty': this source adds no hosts")
                return None
            raise AnsibleParserError(message) from None

    def _host_vars(self, node: NodeSummary) -> dict:
        fields = {
            "name": node.name,
            "environment": node.environment,
            "run_list": list(node.run_list),
            "roles": list(node.roles),
            "tags": list(node.tags),
            "recipes": list(node.recipes),
            "cookbooks": dict(node.cookbooks),
            "ipaddress": node.ipaddress,
            "fqdn": node.fqdn,
            "platform": node.platform,
            "platform_version": node.platform_version,
            "ohai_time": node.ohai_time,
            "last_run": node.last_run,
            **node.extra,
        }
        prefix = self.get_option("var_prefix")
        return {f"{prefix}{name}": value for name, value in fields.items()}

    def _groups(self, node: NodeSummary) -> list[str]:
        wanted = self.get_option("group_by")
        groups = []
        if "environment" in wanted:
            groups.append(self.get_option("environment_group_prefix") + node.environment)
        if "roles" in wanted:
            groups += [self.get_option("role_group_prefix") + role for role in node.roles]
        if "tags" in wanted:
            groups += [self.get_option("tag_group_prefix") + tag for tag in node.tags]
        if "recipes" in wanted:
            groups += [self.get_option("recipe_group_prefix") + recipe for recipe in node.recipes]
        if "cookbooks" in wanted:
            groups += [self.get_option("cookbook_group_prefix") + cookbook for cookbook in node.cookbooks]
        return [self._sanitize_group_name(group) for group in groups]

    def _add_node(self, node: NodeSummary, hostname: str) -> None:
        host = self.inventory.add_host(wrap_var(hostname))
        host_vars = self._host_vars(node)
        address = self.get_option("address")
        if address != "none" and getattr(node, address):
            host_vars["ansible_host"] = getattr(node, address)
        for name, value in host_vars.items():
            # API data is never a template: a node attribute holding "{{ ... }}" stays text.
            self.inventory.set_variable(host, name, wrap_var(value))
        for group in self._groups(node):
            self.inventory.add_child(self.inventory.add_group(group), host)
        strict = self.get_option("strict")
        all_vars = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option("compose"), all_vars, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), all_vars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), all_vars, host, strict=strict)
