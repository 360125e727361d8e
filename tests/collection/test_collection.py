"""`make collection` builds cdn.infra; installed into an empty directory, it is used by a playbook outside
the repository, as a new user would: one LeaseWeb and one Chef module by their fully qualified names, the
credentials carried once by module_defaults through the action groups of meta/runtime.yml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from lab.paths import REPO_ROOT
from tests.chef.conftest import Goiardi, unique
from tests.leaseweb.simulator_process import SimulatorProcess
from tests.support import require_binary

PLAYBOOK = """
- name: The installed collection against the simulator and goiardi
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/cdn.infra.leaseweb:
      api_key: "{{ lsw_key }}"
      base_url: "{{ lsw_url }}"
    group/cdn.infra.chef:
      server_url: "{{ chef_url }}"
      client_name: admin
      client_key: "{{ chef_key }}"
  tasks:
    - name: Look a server up
      cdn.infra.leaseweb_server_info:
        server_id: "10001"
      register: server

    - name: Register a node
      cdn.infra.chef_node:
        name: "{{ node }}"
        run_list: ["role[edge]"]
        normal: {leaseweb: {server_id: "{{ server.servers[0].id }}"}}
      register: node_result

    - name: Register it again
      cdn.infra.chef_node:
        name: "{{ node }}"
        run_list: ["role[edge]"]
        normal: {leaseweb: {server_id: "{{ server.servers[0].id }}"}}
"""


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: int = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("collection-build")
    env = {**os.environ, "COLLECTION_BUILD_DIR": str(out)}
    done = _run([str(REPO_ROOT / "scripts" / "collection.sh")], REPO_ROOT, env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.parent == out and path.is_file()
    return path


def _outside_env(collections: Path) -> dict[str, str]:
    """No trace of the repository: no ansible.cfg, no collections path but the installed one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "LSW_", "CHEF_"))}
    return {
        **env,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
    }


def test_the_tarball_holds_the_collection_layout(tarball):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for name in (
        "CHANGELOG.md",
        "MANIFEST.json",
        "meta/runtime.yml",
        "requirements.txt",
        "plugins/modules/leaseweb_dhcp_lease.py",
        "plugins/module_utils/leaseweb.py",
        "plugins/doc_fragments/chef.py",
        "plugins/inventory/chef.py",
        "roles/ipxe_server/tasks/main.yml",
        "playbooks/provision.yml",
    ):
        assert name in names, name
    assert not [n for n in names if "__pycache__" in n or n.startswith(("library/", "tests/output"))]


def test_installed_collection_runs_outside_the_repository(
    tarball, sim: SimulatorProcess, goiardi: Goiardi, tmp_path
):
    work = tmp_path / "elsewhere"
    collections = work / "collections"
    collections.mkdir(parents=True)
    env = _outside_env(collections)
    galaxy = [require_binary("ansible-galaxy"), "collection", "install", "--offline"]
    install = _run([*galaxy, "-p", str(collections), str(tarball)], work, env)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (
        collections / "ansible_collections" / "cdn" / "infra" / "plugins" / "modules" / "chef_node.py"
    ).is_file()

    (work / "play.yml").write_text(PLAYBOOK)
    node = unique("collection")
    extra = {
        "lsw_key": sim.api_key,
        "lsw_url": sim.url,
        "chef_url": goiardi.url,
        "chef_key": str(goiardi.admin_key),
        "node": node,
        # The modules need the Python distribution of requirements.txt: this virtualenv has it.
        "ansible_python_interpreter": sys.executable,
    }
    run = _run(
        [require_binary("ansible-playbook"), "-i", "localhost,", "play.yml", "-e", json.dumps(extra)],
        work,
        env,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    tasks = [task["hosts"]["localhost"] for play in json.loads(run.stdout)["plays"] for task in play["tasks"]]
    looked_up, created, again = tasks
    assert looked_up["servers"][0]["id"] == "10001"
    assert (created["changed"], again["changed"]) == (True, False)
    assert created["node"]["normal"] == {"leaseweb": {"server_id": "10001"}}
    with goiardi.client() as client:
        assert client.get(f"nodes/{node}")["run_list"] == ["role[edge]"]
    # From the installed copy, not from this checkout.
    assert str(REPO_ROOT) not in run.stdout


def test_roles_and_action_groups_are_declared():
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())
    modules = {path.stem for path in (REPO_ROOT / "library").glob("*.py")}
    grouped = [m for group in runtime["action_groups"].values() for m in group]
    assert sorted(grouped) == sorted(modules), "every module is in the action group of its API"
    for api, group in runtime["action_groups"].items():
        assert all(m.startswith(f"{api}_") for m in group)


# The least each module accepts; with no leaseweb_api/chef_api, it must fail with missing_required_lib
# before it would call anything (so the URLs need not answer).
MINIMAL_ARGS = {
    "leaseweb_server_info": {"server_id": "1"},
    "leaseweb_dhcp_lease": {"server_id": "1", "state": "absent"},
    "leaseweb_power": {"server_id": "1", "state": "on"},
    "leaseweb_job": {"server_id": "1", "job_id": "x"},
    "leaseweb_hardware_info": {"server_id": "1"},
    "leaseweb_network_interface": {"server_id": "1", "state": "open"},
    "leaseweb_credential": {"server_id": "1", "type": "VNC", "username": "u", "state": "absent"},
    "leaseweb_credential_info": {"server_id": "1"},
    "leaseweb_server": {"server_id": "1", "reference": "r"},
    "chef_node_info": {},
    "chef_node": {"name": "n"},
    "chef_client": {"name": "n"},
    "chef_deployment": {"app": "a", "version": "1"},
    "chef_deployment_info": {},
    "chef_release_notes": {"app": "a", "repo": "/nonexistent"},
    "chef_deployment_tracker": {
        "app": "a",
        "repo": "/nonexistent",
        "redmine_url": "http://127.0.0.1:9",
        "redmine_api_key": "unused",
    },
    "chef_environment": {"name": "e"},
    "chef_role": {"name": "r"},
    "chef_data_bag_item": {"bag": "b", "id": "i", "data": {}},
    "chef_node_status": {},
}


def test_every_module_says_which_library_is_missing(tmp_path):
    """A Python without site-packages has neither leaseweb_api nor chef_api: no traceback, the message."""
    assert set(MINIMAL_ARGS) == {path.stem for path in (REPO_ROOT / "library").glob("*.py")}
    no_site = tmp_path / "python-without-site-packages"
    no_site.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    no_site.chmod(0o755)
    tasks = [
        {
            "name": module,
            f"cdn.infra.{module}": args,
            "ignore_errors": True,
        }
        for module, args in MINIMAL_ARGS.items()
    ]
    play = [
        {
            "name": "Every module without its Python library",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": str(no_site)},
            "module_defaults": {
                "group/cdn.infra.leaseweb": {"api_key": "unused", "base_url": "http://127.0.0.1:9"},
                "group/cdn.infra.chef": {
                    "server_url": "http://127.0.0.1:9",
                    "client_name": "unused",
                    "client_key": "/nonexistent.pem",
                },
            },
            "tasks": tasks,
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",
    }
    run = _run(
        [require_binary("ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml")], REPO_ROOT, env
    )
    results = {
        task["task"]["name"]: task["hosts"]["localhost"]
        for play in json.loads(run.stdout)["plays"]
        for task in play["tasks"]
    }
    assert set(results) == set(MINIMAL_ARGS), run.stderr[-2000:]
    for module, result in results.items():
        library = "leaseweb_api" if module.startswith("leaseweb") else "chef_api"
        assert result["failed"], module
        assert f"Failed to import the required Python library ({library}" in result["msg"], (module, result)
        assert "Traceback" not in result["msg"], module
