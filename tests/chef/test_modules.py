"""The modules through real ansible-playbook runs against goiardi: check mode predicts, apply changes,
apply again changes nothing; the server's errors reach the operator; keys never reach the output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chef_api.deployments import get_record
from chef_api.nodes import NodeSpec, apply_plan, get_node, plan_present
from tests.chef.conftest import Goiardi, run_ansible, run_playbook, unique

MODULES = [
    "chef_node",
    "chef_node_info",
    "chef_client",
    "chef_deployment",
    "chef_deployment_info",
    "chef_release_notes",
    "chef_deployment_tracker",
    "chef_environment",
    "chef_role",
    "chef_data_bag_item",
    "chef_node_status",
]


def changes(tasks: dict, *names: str) -> list[bool]:
    return [tasks[name]["changed"] for name in names]


def test_node_lifecycle(goiardi: Goiardi):
    name, env = unique("node"), unique("env")
    run = run_playbook("node.yml", goiardi.env(), {"node_name": name, "node_env": env})
    assert run.returncode == 0, run.output
    tasks = run.tasks()
    assert changes(tasks, "Create (check mode)", "Create", "Create again") == [True, True, False]
    assert tasks["Create (check mode)"]["diff"] == {
        "before": {},
        "after": {
            "chef_environment": env,
            "run_list": ["recipe[app]", "role[edge]"],
            "normal": {"deploy": {"app": "shop", "version": "1.0"}},
        },
    }
    update = ("Update a nested attribute (check mode)", "Update a nested attribute", "Update again")
    assert changes(tasks, *update) == [True, True, False]
    diff = tasks[update[0]]["diff"]
    assert diff["before"]["normal"] == {"deploy": {"app": "shop", "version": "1.0"}}
    assert diff["after"]["normal"] == {"deploy": {"app": "shop", "version": "1.1"}}
    assert diff["after"]["run_list"] == ["recipe[app]", "role[edge]"]  # untouched by a normal-only update

    partial = tasks["Read by name, partial"]
    assert partial["nodes"] == [
        {"name": name, "ohai_time": None, "app": "shop", "version": "1.1", "env": env}
    ]
    assert partial["missing"] == [f"{name}-missing"]
    (full,) = tasks["Read by query, full"]["nodes"]
    assert full["name"] == name and full["normal"]["deploy"]["version"] == "1.1" and "automatic" in full

    assert changes(tasks, "Delete (check mode)", "Delete", "Delete again") == [True, True, False]
    with goiardi.client() as client:
        assert get_node(client, name) is None


def test_node_update_keeps_what_it_does_not_manage(goiardi: Goiardi):
    """A PUT replaces the whole node: automatic attributes written by chef-client must survive."""
    name, env = unique("ohai"), unique("env")
    with goiardi.client() as client:
        node = plan_present(None, NodeSpec(name, environment=env)).desired
        node["automatic"] = {"ohai_time": 1738324800.5, "ipaddress": "10.1.2.3"}
        client.post("nodes", node)
    extra = {"node_name": name, "node_env": env}
    run = run_playbook("node.yml", goiardi.env(), extra, args=["--tags", "update,read"])
    assert run.returncode == 0, run.output
    tasks = run.tasks()
    update = ("Update a nested attribute (check mode)", "Update a nested attribute", "Update again")
    assert changes(tasks, *update) == [True, True, False]
    assert tasks["Read by name, partial"]["nodes"][0]["ohai_time"] == "2025-01-31T12:00:00Z"
    (full,) = tasks["Read by query, full"]["nodes"]
    assert full["automatic"] == {"ohai_time": 1738324800.5, "ipaddress": "10.1.2.3"}
    assert full["ohai_time"] == "2025-01-31T12:00:00Z"
    assert full["normal"] == {"deploy": {"version": "1.1"}}


def test_client_lifecycle(goiardi: Goiardi, tmp_path: Path):
    name = unique("client")
    run = run_playbook("client.yml", goiardi.env(), {"new_client": name, "key_dir": str(tmp_path)})
    assert run.returncode == 0, run.output
    tasks = run.tasks()
    check = tasks["Create (check mode)"]
    assert check["changed"] and check["private_key"] is None and check["diff"]["after"]["name"] == name
    # The no_log task's displayed result is censored; the key worked, as the next task shows.
    assert "censored" in tasks["Create"] and tasks["Create"]["changed"] is True
    assert tasks["Sign a request with the new key"]["missing"] == [name]
    assert tasks["Create again"]["changed"] is False
    admin = ("Make it an admin (check mode)", "Make it an admin", "Make it an admin again")
    assert changes(tasks, *admin) == [True, True, False]
    assert tasks[admin[0]]["diff"] == {
        "before": {
            "name": name,
            "admin": False,
            "validator": False,
            "chef_type": "client",
            "json_class": "Chef::ApiClient",
        },
        "after": {
            "name": name,
            "admin": True,
            "validator": False,
            "chef_type": "client",
            "json_class": "Chef::ApiClient",
        },
    }
    assert tasks["Create again"]["private_key"] is None
    key_file = tmp_path / f"{name}.pem"
    assert key_file.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert key_file.stat().st_mode & 0o777 == 0o600
    refused = tasks["Refused before creating"]
    assert refused["failed"] and refused["error_code"] == "private_key_unprotected"
    assert "mark the task no_log" in refused["msg"]
    assert changes(tasks, "Delete", "Delete again") == [True, False]
    with goiardi.client() as client:
        assert client.get_or_none(f"clients/{name}-unsafe") is None  # refused before anything was created


def test_deployment_log(goiardi: Goiardi):
    bag, deployment_id = unique("deploys"), unique("shop-1.5.0")
    run = run_playbook("deployment.yml", goiardi.env(), {"bag": bag, "deployment_id": deployment_id})
    assert run.returncode == 0, run.output
    tasks = run.tasks()
    predicted, recorded = tasks["Record (check mode)"], tasks["Record"]
    assert predicted["changed"] and recorded["changed"]
    assert predicted["deployment"]["id"] != recorded["deployment"]["id"]  # no id: every run is a new record
    record = recorded["deployment"]
    assert re.fullmatch(r"shop-1\.4\.2-\d{8}T\d{6}Z-[0-9a-f]{6}", record["id"])
    assert {k: record[k] for k in ("app", "version", "hosts", "environment", "deployed_by", "result")} == {
        "app": "shop",
        "version": "1.4.2",
        "hosts": ["edge1", "edge2"],
        "environment": "production",
        "deployed_by": "ci",
        "result": "success",
    }
    assert tasks["Record an older one"]["deployment"]["deployed_at"] == "2024-06-01T08:00:00Z"

    opened = ("Open a record with an id (check mode)", "Open a record with an id", "Open it again")
    assert changes(tasks, *opened) == [True, True, False]
    assert changes(tasks, "Complete it", "Complete it again") == [True, False]
    diff = tasks["Complete it"]["diff"]
    assert (diff["before"]["result"], diff["after"]["result"]) == ("in_progress", "success")
    assert diff["before"]["deployed_at"] == diff["after"]["deployed_at"]  # the id's time stays

    shop = tasks["History of the shop"]["deployments"]
    assert [d["version"] for d in shop] == ["1.5.0", "1.4.2", "1.4.1"]  # newest first
    edge2 = tasks["History of edge2, read item by item"]["deployments"]
    assert sorted(d["app"] for d in edge2) == ["analytics_agent", "shop"]
    assert [d["version"] for d in tasks["History of the shop since 2025"]["deployments"]] == [
        "1.5.0",
        "1.4.2",
    ]
    assert tasks["History of a bag that does not exist"]["deployments"] == []

    assert changes(tasks, "Delete the record", "Delete it again") == [True, False]
    with goiardi.client() as client:
        assert get_record(client, bag, deployment_id) is None
        assert get_record(client, bag, record["id"])["details"] == {"commit": "3f2c1d0"}


ATTEMPTS = ("Create a client", "Delete a node", "Record a deployment")


@pytest.fixture(scope="module")
def victim(goiardi: Goiardi) -> str:
    """A node that clients without the rights try to delete."""
    name = unique("victim")
    with goiardi.client() as client:
        apply_plan(client, plan_present(None, NodeSpec(name)))
    return name


def test_a_client_without_the_rights_gets_403_with_the_servers_message(goiardi: Goiardi, victim, tmp_path):
    env = goiardi.env(goiardi.user_name, goiardi.user_key)
    run = run_playbook("errors.yml", env, {"victim": victim, "key_dir": str(tmp_path)})
    assert run.returncode == 0, run.output
    tasks = run.tasks()
    for attempt in ATTEMPTS:
        result = tasks[attempt]
        assert result["failed"] and result["status"] == 403, result
        assert re.search(r"not allowed to (take|perform) this action", result["msg"])
        assert "not allowed to do this (ask for an admin client or an ACL change)" in result["msg"]
        assert result["request_id"] and result["errors"]
    assert tasks["Create a client"]["path"] == "/clients"
    assert tasks["Delete a node"]["method"] == "DELETE"
    with goiardi.client() as client:
        assert get_node(client, victim) is not None


def test_a_key_the_server_does_not_know_gets_401_with_the_servers_message(
    goiardi: Goiardi, stranger_key, victim, tmp_path
):
    run = run_playbook(
        "errors.yml", goiardi.env("admin", stranger_key), {"victim": victim, "key_dir": str(tmp_path)}
    )
    assert run.returncode == 0, run.output
    tasks = run.tasks()
    for attempt in ATTEMPTS:
        result = tasks[attempt]
        assert result["failed"] and result["status"] == 401, result
        assert "crypto/rsa: verification error" in result["msg"]
        assert "check client_name, the client key and this machine's clock" in result["msg"]


def _key_lines(pem_text: str) -> list[str]:
    """The base64 body of a PEM key: any of these lines in the output would be a leak."""
    return [line for line in pem_text.splitlines() if line and not line.startswith("-----")]


def test_keys_never_appear_in_verbose_output(goiardi: Goiardi, tmp_path):
    name = unique("secret")
    extra = {"admin_key": str(goiardi.admin_key), "new_client": name, "key_dir": str(tmp_path)}
    run = run_playbook(
        "secrets.yml", {"CHEF_SERVER_URL": goiardi.url}, extra, args=["-vvv"], json_output=False
    )
    assert run.returncode == 0, run.output
    assert "Failed to authenticate as" in run.output  # the error path ran, and its message is shown
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.output  # client_key_content was masked, not dropped
    new_key = (tmp_path / f"{name}.pem").read_text()
    for secret in (goiardi.admin_key.read_text(), new_key):
        leaked = [line for line in _key_lines(secret) if line in run.output]
        assert not leaked
        assert "PRIVATE KEY" not in run.output


def test_every_module_documentation_renders():
    run = run_ansible(["ansible-doc", *(f"cdn.infra.{m}" for m in MODULES)], {}, json_output=False)
    assert run.returncode == 0, run.stderr
    for module in MODULES:
        assert f"> MODULE cdn.infra.{module} " in run.stdout
    assert run.stdout.count("EXAMPLES:") == len(MODULES)
    assert run.stdout.count("RETURN VALUES:") == len(MODULES)
