"""What a new user ran into (issue 16): an unwritable key path, invalid data bag item ids, non-ASCII client
names, `python -m chef_api GET //nodes`. Against goiardi, through the modules, the library and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chef_api import ChefAuthenticationError, ChefSettings, ChefSigningError
from chef_api.clients import KeyNotSavedError, create_client_saving_key, get_client
from tests.chef.conftest import Goiardi, run_playbook, unique


def test_modules_refuse_bad_input_before_any_request(goiardi: Goiardi, tmp_path: Path):
    name = unique("keyless")
    run = run_playbook("bad_input.yml", goiardi.env(), {"new_client": name, "key_dir": str(tmp_path)})
    assert run.returncode == 0, run.output
    tasks = run.tasks()

    unwritable = tasks["Create a client with its key in a missing directory"]
    assert unwritable["failed"] and unwritable["error_code"] == "private_key_path_unwritable"
    assert "cannot be written" in unwritable["msg"] and "missing" in unwritable["msg"]
    # Refused before creating: the next task creates the client and writes its key.
    created = tasks["Create it with a writable key path"]
    assert created["changed"] and created["created"]
    assert (tmp_path / f"{name}.pem").read_text().startswith("-----BEGIN")

    for task in ("Delete a record by an id with a slash", "Record a deployment with an id with a space"):
        refused = tasks[task]
        assert refused["failed"] and refused["status"] is None, refused
        assert "data bag item id" in refused["msg"] and "may contain only letters" in refused["msg"]
        assert "clock" not in refused["msg"]

    bad_client = tasks["Create a client with a non-ASCII name"]
    assert bad_client["failed"] and "client name 'клиент' may contain only letters" in bad_client["msg"]
    bad_signer = tasks["Read nodes as a non-ASCII client name"]
    assert bad_signer["failed"] and "'админ' is not printable ASCII" in bad_signer["msg"]
    assert "codec" not in bad_signer["msg"]


def test_a_key_that_cannot_be_written_after_creation_leaves_no_keyless_client(goiardi: Goiardi, tmp_path):
    name = unique("lostkey")
    with goiardi.client() as admin:
        with pytest.raises(KeyNotSavedError, match="was deleted again") as raised:
            create_client_saving_key(admin, name, tmp_path / "gone" / "key.pem")
        assert raised.value.client_deleted and raised.value.private_key is None
        # A re-run can repair: the name is free again.
        assert get_client(admin, name) is None
        create_client_saving_key(admin, name, tmp_path / "key.pem")
        assert get_client(admin, name) is not None


def test_a_401_after_a_percent_encoded_path_does_not_blame_the_key(goiardi: Goiardi):
    with goiardi.client() as admin, pytest.raises(ChefAuthenticationError) as raised:
        admin.get("data/deployments/a b")
    message = str(raised.value)
    assert "/data/deployments/a%20b" in message
    assert "check that every name in it is valid" in message and "check client_name" not in message


def test_a_non_ascii_signing_name_is_a_clear_error(goiardi: Goiardi):
    with pytest.raises(ChefSigningError, match="not printable ASCII"):
        ChefSettings(goiardi.url, "админ", client_key=str(goiardi.admin_key)).signer()


def test_the_command_line_takes_a_path_with_a_double_slash(goiardi: Goiardi):
    node = unique("slashes")
    with goiardi.client() as admin:
        admin.post("nodes", {"name": node, "chef_type": "node", "json_class": "Chef::Node"})
    command = [sys.executable, "-m", "chef_api", "GET", "//nodes"]
    done = subprocess.run(command, env=goiardi.env(), capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert node in json.loads(done.stdout)
