"""The chef inventory plugin through ansible-inventory (and one ad-hoc run) against goiardi."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from chef_api.nodes import NodeSpec, plan_present
from tests.chef.conftest import REPO_ROOT, Goiardi, run_ansible, unique

OHAI_TIME = 1738324800.0  # 2025-01-31T12:00:00Z


def _seed(
    goiardi: Goiardi,
    name: str,
    environment: str,
    run_list: list[str],
    tags: tuple[str, ...] = (),
    **automatic: Any,
) -> None:
    """A node as chef-client leaves it: Ohai data in automatic, tags and a template-looking motd in normal."""
    with goiardi.client() as client:
        node = plan_present(None, NodeSpec(name, environment=environment, run_list=run_list)).desired
        node["automatic"] = {"ohai_time": OHAI_TIME, "platform": "debian", **automatic}
        node["normal"] = {"tags": list(tags), "motd": "{{ 6 * 7 }}"}
        client.post("nodes", node)


@pytest.fixture(scope="module")
def fleet(goiardi: Goiardi) -> dict[str, str]:
    """Three nodes in two environments of their own; names by role."""
    suffix = unique("inv")
    names = {"web1": f"web1-{suffix}", "web2": f"web2-{suffix}", "db1": f"db1-{suffix}"}
    prod, staging = f"prod_{suffix}", f"staging_{suffix}"
    # web1 never ran chef-client: only its run list says what it runs (a pinned recipe here).
    _seed(
        goiardi,
        names["web1"],
        prod,
        ["role[edge]", "recipe[app::default@1.2.0]"],
        ipaddress="10.0.0.1",
        tags=("canary",),
    )
    # chef-client expanded role[edge] to edge and base on its last run, with their recipes and cookbooks.
    _seed(
        goiardi,
        names["web2"],
        prod,
        ["role[edge]"],
        ipaddress="10.0.0.2",
        roles=["edge", "base"],
        recipes=["nginx", "nginx::default", "nginx::server", "base"],
        cookbooks={
            "nginx": {"version": "12.0.1"},
            "base": {"version": "1.0.0"},
            "openssl": {"version": "8.5.5"},
        },
    )
    _seed(goiardi, names["db1"], staging, ["role[db]"], ipaddress="10.0.1.1")
    return {**names, "prod": prod, "staging": staging}


def _config(path: Path, fleet: dict[str, str], **options: Any) -> Path:
    config = {
        "plugin": "cdn.infra.chef",
        "query": f"chef_environment:{fleet['prod']} OR chef_environment:{fleet['staging']}",
        "attributes": {"motd": "motd"},
        "keyed_groups": [{"key": "chef_platform", "prefix": "os"}],
        "groups": {"canaries": "'canary' in chef_tags"},
        "compose": {"chef_run_count": "chef_run_list | length"},
        **options,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _graph(text: str) -> dict[str, set[str]]:
    """`ansible-inventory --graph` output as group -> hosts (direct members)."""
    groups: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        if match := re.match(r"^\s*\|?--@(\S+):$", line) or re.match(r"^@(\S+):$", line):
            current = groups.setdefault(match.group(1), set())
        elif (match := re.match(r"^\s*\|\s+\|--([^@\s]\S*)$", line)) and current is not None:
            current.add(match.group(1))
    return groups


def _inventory(config: Path, env: dict[str, str], *args: str) -> Any:
    run = run_ansible(["ansible-inventory", "-i", str(config), *args], env, json_output=False)
    assert run.returncode == 0, run.output
    return run


def test_graph_groups_nodes_by_environment_role_and_tag(goiardi: Goiardi, fleet, tmp_path):
    config = _config(tmp_path / "lab.chef.yml", fleet)
    groups = _graph(_inventory(config, goiardi.env(), "--graph").stdout)
    web1, web2, db1 = fleet["web1"], fleet["web2"], fleet["db1"]
    # Group names are made safe: the '-' of the environment names becomes '_'.
    assert groups[f"chef_env_{fleet['prod']}".replace("-", "_")] == {web1, web2}
    assert groups[f"chef_env_{fleet['staging']}".replace("-", "_")] == {db1}
    assert groups["chef_role_edge"] == {web1, web2}
    assert groups["chef_role_base"] == {web2}  # from the roles chef-client expanded
    assert groups["chef_role_db"] == {db1}
    assert groups["chef_tag_canary"] == {web1}
    assert groups["canaries"] == {web1}  # constructed: groups
    assert groups["os_debian"] == {web1, web2, db1}  # constructed: keyed_groups


def test_groups_by_recipe_and_cookbook_from_run_lists_and_last_runs(goiardi: Goiardi, fleet, tmp_path):
    config = _config(tmp_path / "lab.chef.yml", fleet, group_by=["recipes", "cookbooks"])
    groups = _graph(_inventory(config, goiardi.env(), "--graph").stdout)
    web1, web2 = fleet["web1"], fleet["web2"]
    assert groups["chef_recipe_app"] == {web1}  # the run list's recipe, pin and ::default dropped
    assert groups["chef_recipe_nginx"] == {web2}  # nginx and nginx::default are one recipe
    assert groups["chef_recipe_nginx__server"] == {web2}
    assert groups["chef_cookbook_app"] == {web1}
    assert groups["chef_cookbook_nginx"] == {web2}
    assert groups["chef_cookbook_openssl"] == {web2}  # a dependency the last run used
    assert not any(name.startswith(("chef_env_", "chef_role_")) for name in groups)
    host = json.loads(_inventory(config, goiardi.env(), "--host", web2).stdout)
    assert host["chef_recipes"] == ["nginx", "nginx::server", "base"]
    assert host["chef_cookbooks"] == {"nginx": "12.0.1", "base": "1.0.0", "openssl": "8.5.5"}


def test_host_variables(goiardi: Goiardi, fleet, tmp_path):
    config = _config(tmp_path / "lab.chef.yml", fleet)
    host = json.loads(_inventory(config, goiardi.env(), "--host", fleet["web1"]).stdout)
    assert host["ansible_host"] == "10.0.0.1"
    assert host["chef_environment"] == fleet["prod"]
    assert host["chef_run_list"] == ["role[edge]", "recipe[app::default@1.2.0]"]
    assert host["chef_recipes"] == ["app"] and host["chef_cookbooks"] == {"app": None}
    assert host["chef_roles"] == ["edge"] and host["chef_tags"] == ["canary"]
    assert host["chef_last_run"] == "2025-01-31T12:00:00Z" and host["chef_ohai_time"] == OHAI_TIME
    assert host["chef_run_count"] == 2  # constructed: compose


def test_api_data_is_never_templated(goiardi: Goiardi, fleet, tmp_path):
    config = _config(tmp_path / "lab.chef.yml", fleet)
    args = ["ansible", "-i", str(config), fleet["web1"], "-m", "ansible.builtin.debug", "-a", "var=chef_motd"]
    run = run_ansible(args, goiardi.env(), json_output=False)
    assert run.returncode == 0, run.output
    assert re.search(r"chef_motd\W+\{\{ 6 \* 7 \}\}", run.stdout), run.stdout


def test_cache_serves_until_flushed(goiardi: Goiardi, fleet, tmp_path):
    cache = {
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(tmp_path / "cache"),
    }
    config = _config(tmp_path / "cached.chef.yml", fleet, cache_timeout=3600, **cache)
    env = goiardi.env()
    before = _graph(_inventory(config, env, "--graph").stdout)
    late = unique("late")
    _seed(goiardi, late, fleet["staging"], ["role[db]"])
    cached = _graph(_inventory(config, env, "--graph").stdout)
    flushed = _graph(_inventory(config, env, "--graph", "--flush-cache").stdout)
    assert cached == before and late not in cached["chef_role_db"]
    assert flushed["chef_role_db"] == {fleet["db1"], late}


def test_a_wrong_key_fails_the_source_with_the_servers_message(
    goiardi: Goiardi, fleet, stranger_key, tmp_path
):
    """With nothing but the repository's ansible.cfg: the run fails, and the plugin was tried once."""
    config = _config(tmp_path / "lab.chef.yml", fleet)
    env = goiardi.env("admin", stranger_key)
    run = run_ansible(["ansible-inventory", "-i", str(config), "--graph"], env, json_output=False)
    assert run.returncode != 0
    assert "HTTP 401: crypto/rsa: verification error" in run.output
    # Tried once, by the plugin itself, not again through `auto`.
    assert (
        run.output.count(
            "Failed to parse inventory with 'ansible_collections.cdn.infra.plugins.inventory.chef'"
        )
        == 2
    )
    assert "inventory.auto" not in run.output
    assert "PRIVATE KEY" not in run.output


def _unreachable_config(tmp_path: Path, fleet, **options: Any) -> Path:
    """A server URL on a port nothing listens on (a socket bound, never listening, holds it)."""
    return _config(
        tmp_path / "down.chef.yml", fleet, server_url=f"http://127.0.0.1:{_closed_port()}", **options
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_is_down_fails_the_play_instead_of_running_it_on_no_hosts(
    goiardi: Goiardi, fleet, tmp_path
):
    config = _unreachable_config(tmp_path, fleet)
    run = run_ansible(
        ["ansible", "-i", str(config), "all", "-m", "ansible.builtin.ping"], goiardi.env(), json_output=False
    )
    assert run.returncode != 0
    assert "chef inventory http://127.0.0.1:" in run.output
    assert "Completely failed to parse inventory source" in run.output


def test_on_error_empty_goes_on_with_no_hosts_and_a_warning(goiardi: Goiardi, fleet, tmp_path):
    config = _unreachable_config(tmp_path, fleet, on_error="empty")
    run = run_ansible(["ansible-inventory", "-i", str(config), "--list"], goiardi.env(), json_output=False)
    assert run.returncode == 0, run.output
    assert "on_error is 'empty': this source adds no hosts" in run.output
    assert json.loads(run.stdout)["_meta"]["hostvars"] == {}


def test_nodes_sharing_an_fqdn_are_named_by_node_name(goiardi: Goiardi, tmp_path):
    suffix = unique("twin")
    names = [f"a-{suffix}", f"b-{suffix}"]
    environment = f"twins_{suffix}"
    for name in names:
        _seed(goiardi, name, environment, ["role[edge]"], fqdn="same.example.net")
    config = _config(
        tmp_path / "fqdn.chef.yml", {"prod": environment, "staging": environment}, hostname="fqdn"
    )
    run = _inventory(config, goiardi.env(), "--list")
    assert sorted(json.loads(run.stdout)["_meta"]["hostvars"]) == sorted(names)
    assert "2 nodes have 'same.example.net': they are named by node name" in run.output


def test_the_example_config_and_the_plugin_documentation():
    example = yaml.safe_load((REPO_ROOT / "inventory" / "examples" / "production.chef.yml").read_text())
    assert example["plugin"] == "cdn.infra.chef" and example["server_url"].endswith("/organizations/cdn")
    run = run_ansible(["ansible-doc", "-t", "inventory", "cdn.infra.chef"], {}, json_output=False)
    assert run.returncode == 0, run.stderr
    assert "> INVENTORY cdn.infra.chef " in run.stdout and "keyed_groups" in run.stdout
