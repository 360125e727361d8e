# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""In ansible-test's virtualenv neither leaseweb_api nor chef_api is installed: every module must fail
with missing_required_lib, before any API call, never with a traceback (ansible-test units)."""

from __future__ import annotations

import importlib
import importlib.util
import json

import pytest
from ansible.module_utils.testing import patch_module_args

LEASEWEB = {"api_key": "unused", "base_url": "http://127.0.0.1:9"}
CHEF = {"server_url": "http://127.0.0.1:9", "client_name": "unused", "client_key": "/nonexistent.pem"}
MODULES = {
    "leaseweb_server_info": ("leaseweb_api", {**LEASEWEB, "server_id": "1"}),
    "leaseweb_dhcp_lease": ("leaseweb_api", {**LEASEWEB, "server_id": "1", "state": "absent"}),
    "leaseweb_power": ("leaseweb_api", {**LEASEWEB, "server_id": "1", "state": "on"}),
    "leaseweb_job": ("leaseweb_api", {**LEASEWEB, "server_id": "1", "job_id": "x"}),
    "leaseweb_hardware_info": ("leaseweb_api", {**LEASEWEB, "server_id": "1"}),
    "leaseweb_network_interface": ("leaseweb_api", {**LEASEWEB, "server_id": "1", "state": "open"}),
    "leaseweb_credential": (
        "leaseweb_api",
        {**LEASEWEB, "server_id": "1", "type": "VNC", "username": "u", "state": "absent"},
    ),
    "leaseweb_credential_info": ("leaseweb_api", {**LEASEWEB, "server_id": "1"}),
    "leaseweb_server": ("leaseweb_api", {**LEASEWEB, "server_id": "1", "reference": "r"}),
    "chef_node_info": ("chef_api", CHEF),
    "chef_node": ("chef_api", {**CHEF, "name": "n"}),
    "chef_client": ("chef_api", {**CHEF, "name": "n"}),
    "chef_deployment": ("chef_api", {**CHEF, "app": "a", "version": "1"}),
    "chef_deployment_info": ("chef_api", CHEF),
    "chef_release_notes": ("chef_api", {**CHEF, "app": "a", "repo": "/nonexistent"}),
    "chef_deployment_tracker": (
        "chef_api",
        {
            **CHEF,
            "app": "a",
            "repo": "/nonexistent",
            "redmine_url": "http://127.0.0.1:9",
            "redmine_api_key": "x",
        },
    ),
    "chef_environment": ("chef_api", {**CHEF, "name": "e"}),
    "chef_role": ("chef_api", {**CHEF, "name": "r"}),
    "chef_data_bag_item": ("chef_api", {**CHEF, "bag": "b", "id": "i", "data": {}}),
    "chef_node_status": ("chef_api", CHEF),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_names_the_missing_library(name, capsys):
    library, args = MODULES[name]
    assert importlib.util.find_spec(library) is None, (
        f"{library} is installed here: this test needs it absent"
    )
    module = importlib.import_module(f"ansible_collections.cdn.infra.plugins.modules.{name}")
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        module.main()
    assert exited.value.code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert f"Failed to import the required Python library ({library}" in result["msg"]
