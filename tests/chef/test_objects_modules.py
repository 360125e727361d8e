"""chef_environment, chef_role, chef_data_bag_item and chef_node_status through playbooks against goiardi."""

from __future__ import annotations

import time

from tests.chef.conftest import Goiardi, run_playbook, unique


def test_environments_roles_and_items(goiardi: Goiardi):
    prefix = unique("obj")
    run = run_playbook("objects.yml", goiardi.env(), {"prefix": prefix})
    assert run.returncode == 0, run.output
    tasks = run.tasks()

    def changed(*names: str) -> list[bool]:
        return [tasks[name]["changed"] for name in names]

    assert changed("Environment (check mode)", "Environment", "Environment again") == [True, True, False]
    env = tasks["Environment"]["environment"]
    assert env["cookbook_versions"] == {"edge_nginx": "= 2.4.1", "analytics_agent": "~> 1.3"}
    assert tasks["Environment (check mode)"]["diff"]["before"] == {}
    pin = tasks["Pin a new version"]
    assert pin["changed"] and pin["diff"]["before"]["cookbook_versions"]["edge_nginx"] == "= 2.4.1"
    assert pin["diff"]["after"]["cookbook_versions"]["edge_nginx"] == "= 2.5.0"
    # Only the given fields change: the description and attributes stay.
    assert pin["environment"]["description"] == "Customer traffic"
    assert pin["environment"]["default_attributes"] == {"cdn": {"tier": "gold"}}
    nonsense = tasks["Pin nonsense"]
    assert nonsense["failed"] and "'latest' is not a version constraint" in nonsense["msg"]
    assert tasks["Change _default"]["failed"] and "_default" in tasks["Change _default"]["msg"]

    assert changed("Role (check mode)", "Role", "Role again") == [True, True, False]
    role = tasks["Role"]["role"]
    assert role["run_list"] == ["recipe[edge_nginx]", "role[base]"]
    assert role["env_run_lists"] == {"staging": ["recipe[edge_nginx]"]}

    assert changed("Item (check mode)", "Item", "Item again", "Item changed") == [True, True, False, True]
    assert tasks["Item changed"]["diff"]["before"] == {"id": "pops", "ams1": {"city": "Amsterdam"}}
    assert changed("Delete everything", "Delete the environment again") == [True, False]
    assert changed("Delete the role", "Delete the item") == [True, True]
    with goiardi.client() as client:
        assert client.get_or_none(f"environments/{prefix}-env") is None
        assert client.get_or_none(f"roles/{prefix}-role") is None
        assert client.get_or_none(f"data/{prefix}-bag/pops") is None


def test_node_status_shows_the_last_check_in_like_knife_status(goiardi: Goiardi):
    environment = unique("status")
    now = time.time()
    seeds = {"fresh": now - 600, "late": now - 3 * 3600, "never": None}
    with goiardi.client() as client:
        for suffix, ohai_time in seeds.items():
            automatic = {"ipaddress": "192.0.2.1", "platform": "debian", "platform_version": "12"}
            if ohai_time is not None:
                automatic["ohai_time"] = ohai_time
            node = {
                "name": f"{environment}-{suffix}",
                "chef_environment": environment,
                "run_list": ["role[edge]"],
                "automatic": automatic,
                "json_class": "Chef::Node",
                "chef_type": "node",
            }
            client.post("nodes", node)
    run = run_playbook("node_status.yml", goiardi.env(), {"environment_name": environment})
    assert run.returncode == 0, run.output
    status = run.tasks()["Status"]
    assert status["changed"] is False
    names = [n["name"] for n in status["nodes"]]
    assert names == [f"{environment}-never", f"{environment}-late", f"{environment}-fresh"]
    fresh = status["nodes"][2]
    assert not fresh["stale"] and 9 < fresh["minutes_since_run"] < 60 and fresh["run_list"] == ["role[edge]"]
    assert (
        fresh["roles"] == ["edge"] and fresh["environment"] == environment and fresh["last_run"].endswith("Z")
    )
    assert status["stale"] == [f"{environment}-never", f"{environment}-late"]
