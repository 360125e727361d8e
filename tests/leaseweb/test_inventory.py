"""The leaseweb inventory plugin through real ansible-inventory / ansible runs against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.leaseweb.ansible_run import REPO, run_ansible

# Every exchange of these tests is checked against the official spec afterwards.
pytestmark = pytest.mark.usefixtures("spec_checked")
CONFIG = Path(__file__).parent / "inventory" / "simulator.leaseweb.yml"


def _graph(sim, config: Path, *extra: str) -> dict[str, set[str]]:
    """`ansible-inventory --graph` as {group: hosts directly in it}."""
    done = run_ansible(sim, "ansible-inventory", "-i", str(config), "--graph", *extra)
    assert done.returncode == 0, done.stderr
    groups: dict[str, set[str]] = {}
    current = None
    for line in done.stdout.splitlines():
        name = line.strip(" |-")
        if name.startswith("@"):
            current = groups.setdefault(name[1:].rstrip(":"), set())
        elif name and current is not None:
            current.add(name)
    return groups


def test_graph_lists_the_servers_in_constructed_groups(sim):
    groups = _graph(sim, CONFIG)
    assert groups["leaseweb"] == {"edge-ams-01", "edge-ams-02", "edge-fra-01", "db-fra-01", "10005"}
    assert groups["site_AMS_01"] == {"edge-ams-01", "edge-ams-02"}
    assert groups["site_FRA_10"] == {"edge-fra-01", "db-fra-01"}
    assert groups["site_SIN_11"] == {"10005"}
    assert groups["remote_power"] == {"edge-ams-01", "edge-ams-02", "edge-fra-01", "10005"}
    assert groups["edge"] == {"edge-ams-01", "edge-ams-02", "edge-fra-01"}


UNSAFE = "__ansible_unsafe"


def _unwrap(value):
    """ansible-inventory writes unsafe values as {"__ansible_unsafe": value}."""
    if isinstance(value, dict):
        return value[UNSAFE] if set(value) == {UNSAFE} else {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


def test_host_variables_are_marked_unsafe(sim):
    done = run_ansible(sim, "ansible-inventory", "-i", str(CONFIG), "--list")
    assert done.returncode == 0, done.stderr
    raw = json.loads(done.stdout)["_meta"]["hostvars"]
    assert raw["edge-ams-01"]["leaseweb_reference"] == {UNSAFE: "edge-ams-01"}
    assert raw["edge-ams-01"]["ansible_host"] == {UNSAFE: "192.0.2.11"}
    hostvars = _unwrap(raw)
    edge = hostvars["edge-ams-01"]
    assert (edge["leaseweb_id"], edge["leaseweb_site"], edge["leaseweb_rack"]) == ("10001", "AMS-01", "13")
    assert edge["leaseweb_macs"] == ["52:54:00:10:00:01", "52:54:00:10:01:01", "52:54:00:10:02:01"]
    assert edge["leaseweb_ips"] == ["192.0.2.11", "10.0.1.11", "10.1.1.11"]
    assert edge["ansible_host"] == "192.0.2.11"
    assert edge["leaseweb_boot_mac"] == "52:54:00:10:00:01"  # composed
    assert edge["leaseweb_network_interfaces"]["internal"]["gateway"] == "10.0.1.1"
    assert hostvars["db-fra-01"]["leaseweb_feature_availability"]["powerCycle"] is False
    assert hostvars["10005"]["leaseweb_reference"] is None


def test_api_data_is_never_templated(sim):
    done = run_ansible(
        sim,
        "ansible",
        "-i",
        str(CONFIG),
        "10005",
        "-m",
        "ansible.builtin.debug",
        "-a",
        "msg={{ leaseweb_specs.chassis }}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "{{ 6 * 7 }}" in done.stdout
    assert "42" not in done.stdout


def test_cache_serves_until_flushed(sim, client, tmp_path):
    config = tmp_path / "cached.leaseweb.yml"
    cache_options = {
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(tmp_path / "cache"),
    }
    config.write_text(
        CONFIG.read_text() + "".join(f"{key}: {json.dumps(value)}\n" for key, value in cache_options.items())
    )
    assert "10005" in _graph(sim, config)["leaseweb"]
    client.update_reference("10005", "edge-sin-01")
    listed = len([e for e in sim.exchanges() if e["path"] == "/bareMetals/v2/servers"])
    assert "10005" in _graph(sim, config)["leaseweb"]  # from the cache: the API was not asked
    assert len([e for e in sim.exchanges() if e["path"] == "/bareMetals/v2/servers"]) == listed
    assert "edge-sin-01" in _graph(sim, config, "--flush-cache")["leaseweb"]


PLUGIN_FAILED = "Failed to parse inventory with 'ansible_collections.cdn.infra.plugins.inventory.leaseweb'"


def _listings(sim) -> int:
    return len([e for e in sim.exchanges() if e["path"] == "/bareMetals/v2/servers"])


def test_a_source_without_a_key_fails_the_run(sim):
    done = run_ansible(sim, "ansible-inventory", "-i", str(CONFIG), "--graph", key_in_env=False)
    assert done.returncode != 0
    assert "LeaseWeb inventory: no LeaseWeb API key" in done.stderr
    env_key = run_ansible(sim, "ansible-inventory", "-i", str(CONFIG), "--list")
    assert env_key.returncode == 0


def test_a_source_the_api_refuses_fails_the_play_and_is_asked_once(sim, tmp_path):
    """A 500 (not retried): the run fails instead of running on no hosts; `auto` does not ask again."""
    sim.fault(status=500, path="/bareMetals/v2/servers")
    play = tmp_path / "play.yml"
    play.write_text(
        "- name: Would run on no hosts\n  hosts: leaseweb\n  gather_facts: false\n  tasks:\n"
        "    - name: Nothing\n      ansible.builtin.meta: noop\n"
    )
    done = run_ansible(sim, "ansible-playbook", "-i", str(CONFIG), str(play))
    assert done.returncode != 0
    assert "HTTP 500" in done.stderr and "Completely failed to parse inventory source" in done.stderr
    assert done.stderr.count(PLUGIN_FAILED) == 2 and "inventory.auto" not in done.stderr  # one attempt
    assert _listings(sim) == 1


def test_a_wrong_key_fails_the_run(sim, tmp_path):
    config = tmp_path / "wrong-key.leaseweb.yml"
    config.write_text(CONFIG.read_text() + "api_key: not-the-key\n")
    done = run_ansible(sim, "ansible-inventory", "-i", str(config), "--graph")
    assert done.returncode != 0 and "HTTP 401" in done.stderr
    assert "not-the-key" not in done.stdout + done.stderr


def test_on_error_empty_goes_on_without_hosts(sim, tmp_path):
    sim.fault(status=500, path="/bareMetals/v2/servers")
    config = tmp_path / "lenient.leaseweb.yml"
    config.write_text(
        CONFIG.read_text() + "on_error: empty\ncache: true\n"
        f"cache_plugin: ansible.builtin.jsonfile\ncache_connection: {tmp_path / 'cache'}\n"
    )
    done = run_ansible(sim, "ansible-inventory", "-i", str(config), "--list")
    assert done.returncode == 0, done.stderr
    assert "on_error is 'empty': this source adds no hosts" in done.stderr
    assert json.loads(done.stdout)["_meta"]["hostvars"] == {}
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())  # nothing cached


def test_shared_and_invalid_references_name_no_host(sim, client):
    """Two servers with one reference: neither is named by it; a reference no host name can be: the id."""
    client.update_reference("10002", "edge-ams-01")
    client.update_reference("10005", "edge sin/01")
    done = run_ansible(sim, "ansible-inventory", "-i", str(CONFIG), "--list")
    assert done.returncode == 0, done.stderr
    hosts = set(json.loads(done.stdout)["_meta"]["hostvars"])
    assert hosts == {"10001", "10002", "edge-fra-01", "db-fra-01", "10005"}
    assert "2 servers have 'edge-ams-01'; it names none of them" in " ".join(done.stderr.split())


def test_the_production_example_works_against_the_simulator(sim, tmp_path):
    """inventory/examples/production.leaseweb.yml, as is, with only LSW_BASE_URL pointing elsewhere."""
    example = REPO / "inventory" / "examples" / "production.leaseweb.yml"
    # Its cache lives under ~/.cache: a home of the test's own keeps it out of the real one.
    done = run_ansible(sim, "ansible-inventory", "-i", str(example), "--graph", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "@edge:" in done.stdout and "@analytics_db:" in done.stdout and "@site_FRA_10:" in done.stdout
    assert (tmp_path / ".cache" / "cdn-infra" / "leaseweb-inventory").is_dir()
