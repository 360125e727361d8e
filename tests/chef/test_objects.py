"""Unit tests of the logic that decides what to write: node plans, attribute lookup, the inventory's node
summary, deployment records and their history filter, key files."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime

import pytest

from chef_api.clients import flag_changes, save_private_key
from chef_api.deployments import (
    Deployment,
    DeploymentSpec,
    HistoryFilter,
    check_id,
    new_deployment_id,
    parse_time,
    plan_record,
    record_item,
)
from chef_api.nodes import (
    NodePlan,
    NodeSpec,
    NodeSummary,
    deep_merge,
    node_attribute,
    normalize_run_list,
    ohai_time_iso,
    plan_present,
    project,
)
from chef_api.search import and_query, quote_term

NOW = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def _node(**fields):
    node = plan_present(None, NodeSpec("web1")).desired
    node.update(fields)
    return node


def test_run_list_items_are_normalised_and_bad_ones_refused():
    assert normalize_run_list(["app", " role[edge] ", "recipe[app::web]", "app::db"]) == [
        "recipe[app]",
        "role[edge]",
        "recipe[app::web]",
        "recipe[app::db]",
    ]
    for bad in ("role[edge", "a b", "", "thing[x]"):
        with pytest.raises(ValueError, match="not a run list item"):
            normalize_run_list([bad])


def test_a_new_node_gets_chefs_defaults_and_the_spec():
    plan = plan_present(None, NodeSpec("web1", run_list=["app"], normal={"a": 1}))
    assert plan.changed and plan.current is None
    assert plan.desired["chef_environment"] == "_default" and plan.desired["json_class"] == "Chef::Node"
    assert plan.diff == {
        "before": {},
        "after": {"chef_environment": "_default", "run_list": ["recipe[app]"], "normal": {"a": 1}},
    }


def test_an_update_merges_normal_attributes_and_keeps_the_rest():
    current = _node(
        chef_environment="prod",
        run_list=["role[edge]"],
        normal={"deploy": {"app": "shop", "version": "1"}, "keep": True},
        automatic={"ohai_time": 1.0},
    )
    plan = plan_present(current, NodeSpec("web1", normal={"deploy": {"version": "2"}}))
    assert plan.changed
    assert plan.desired["normal"] == {"deploy": {"app": "shop", "version": "2"}, "keep": True}
    assert plan.desired["automatic"] == {"ohai_time": 1.0} and plan.desired["run_list"] == ["role[edge]"]
    assert current["normal"]["deploy"]["version"] == "1"  # the plan never mutates what was read
    replaced = plan_present(current, NodeSpec("web1", normal={"only": 1}, replace_normal=True))
    assert replaced.desired["normal"] == {"only": 1}


def test_an_update_that_matches_changes_nothing():
    current = _node(chef_environment="prod", run_list=["recipe[app]"], normal={"a": {"b": 1}})
    assert not plan_present(current, NodeSpec("web1", "prod", ["app"], {"a": {"b": 1}})).changed
    assert not NodePlan(None, None).changed and NodePlan(current, None).changed


def test_deep_merge_replaces_lists_and_scalars():
    assert deep_merge({"a": {"x": 1, "l": [1]}, "b": 1}, {"a": {"l": [2]}, "b": {"c": 1}}) == {
        "a": {"x": 1, "l": [2]},
        "b": {"c": 1},
    }


def test_node_attributes_resolve_by_precedence():
    node = _node(
        default={"port": 80, "tls": {"on": False, "ciphers": "a"}},
        normal={"port": 81},
        override={"tls": {"on": True}},
        automatic={"ipaddress": "10.0.0.1"},
    )
    assert node_attribute(node, ["port"]) == 81
    assert node_attribute(node, ["tls"]) == {"on": True, "ciphers": "a"}
    assert node_attribute(node, ["ipaddress"]) == "10.0.0.1"
    assert node_attribute(node, ["absent", "deeper"]) is None
    assert node_attribute(node, ["chef_environment"]) == "_default"
    assert project(node, {"ip": "ipaddress", "on": ["tls", "on"]}) == {
        "name": "web1",
        "ohai_time": None,
        "ip": "10.0.0.1",
        "on": True,
    }


def test_ohai_time_as_a_date():
    assert ohai_time_iso(1738324800.75) == "2025-01-31T12:00:00Z"
    assert ohai_time_iso(None) is None and ohai_time_iso("soon") is None and ohai_time_iso(True) is None


def test_node_summary_from_a_knife_status_row():
    summary = NodeSummary.from_row(
        {
            "name": "web1",
            "chef_environment": None,
            "run_list": ["role[edge]", "recipe[app]", "role[base]"],
            "roles": ["edge", "base", "monitoring"],
            "tags": "canary",
            "ohai_time": 1738324800,
            "cloud": {"provider": "x"},
            "datacenter": "AMS-01",
        }
    )
    assert summary.environment == "_default"
    assert summary.roles == ("edge", "base", "monitoring")
    assert summary.tags == ("canary",)
    assert summary.last_run == "2025-01-31T12:00:00Z"
    assert summary.extra == {"cloud": {"provider": "x"}, "datacenter": "AMS-01"}


def test_search_terms_are_quoted():
    assert quote_term('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert and_query({"app": "shop", "hosts": "web1.example.com", "environment": None}) == (
        'app:"shop" AND hosts:"web1.example.com"'
    )
    assert and_query({"app": None}) == "*:*"


def test_a_new_deployment_record():
    record = plan_record(
        None, DeploymentSpec(app="shop", version="1.4.2", hosts=["edge1"]), now=NOW, user="ci"
    )
    assert re.fullmatch(r"shop-1\.4\.2-20250131T120000Z-[0-9a-f]{6}", record.id)
    assert (record.deployed_at, record.deployed_by, record.result) == (
        "2025-01-31T12:00:00Z",
        "ci",
        "success",
    )
    assert record.item()["hosts"] == ["edge1"]
    odd = new_deployment_id("my app/x", "1.0 beta", NOW)
    assert check_id(odd) == odd and odd.startswith("my_app_x-1.0_beta-")


def test_a_deployment_with_an_id_keeps_its_time_and_takes_updates():
    spec = DeploymentSpec(app="shop", version="2", id="shop-2", result="in_progress")
    opened = plan_record(None, spec, now=NOW, user="ci")
    later = datetime(2025, 2, 1, tzinfo=UTC)
    assert plan_record(opened.item(), spec, now=later, user="other") == opened
    done = plan_record(opened.item(), DeploymentSpec(id="shop-2", result="success"), now=later, user="other")
    assert done.result == "success" and done.deployed_at == opened.deployed_at and done.deployed_by == "ci"


def test_deployment_inputs_are_checked():
    with pytest.raises(ValueError, match="needs app and version"):
        plan_record(None, DeploymentSpec(app="shop"), now=NOW, user="ci")
    with pytest.raises(ValueError, match="may contain only"):
        plan_record(None, DeploymentSpec(app="a", version="1", id="bad id"), now=NOW, user="ci")
    with pytest.raises(ValueError, match="result must be one of"):
        plan_record(None, DeploymentSpec(app="a", version="1", result="meh"), now=NOW, user="ci")
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_time("yesterday")
    assert parse_time("2025-01-31") == datetime(2025, 1, 31, tzinfo=UTC)
    record = plan_record(
        None, DeploymentSpec(app="a", version="1", deployed_at="2025-01-31T14:00:00+02:00"), now=NOW, user="u"
    )
    assert record.deployed_at == "2025-01-31T12:00:00Z"


def test_history_filter():
    record = Deployment("id", "shop", "1", "2025-01-31T12:00:00Z", "ci", "success", ("edge1",), "production")
    assert HistoryFilter(app="shop", host="edge1", environment="production", result="success").matches(record)
    assert HistoryFilter(since=datetime(2025, 1, 31, 12, tzinfo=UTC)).matches(record)
    assert not HistoryFilter(since=datetime(2025, 2, 1, tzinfo=UTC)).matches(record)
    assert not HistoryFilter(host="edge2").matches(record)
    assert not HistoryFilter(app="other").matches(record)
    assert HistoryFilter(app="shop", host="edge1").query() == 'app:"shop" AND hosts:"edge1"'


def test_search_rows_and_written_items_become_plain_records():
    wrapped = {
        "name": "data_bag_item_d_x",
        "chef_type": "data_bag_item",
        "data_bag": "d",
        "raw_data": {"id": "x", "app": "a"},
    }
    assert record_item(wrapped) == {"id": "x", "app": "a"}
    assert record_item({"id": "x", "chef_type": "data_bag_item", "data_bag": "d"}) == {"id": "x"}


def test_client_flags_compare_only_what_the_server_reports():
    assert flag_changes({"admin": False, "validator": False}, {"admin": True}) == {"admin": True}
    assert flag_changes({"validator": False}, {"admin": True, "validator": False}) == {}


def test_a_saved_key_is_private(tmp_path):
    path = tmp_path / "client.pem"
    save_private_key(path, "-----BEGIN RSA PRIVATE KEY-----\nAAA\n-----END RSA PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().endswith("-----END RSA PRIVATE KEY-----\n")
    assert [p.name for p in tmp_path.iterdir()] == ["client.pem"]
