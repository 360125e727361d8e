"""chef_environment, chef_role and chef_data_bag_item through ansible-playbook against goiardi."""

from __future__ import annotations

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
