"""Chef nodes: reading them, planning a change (read, merge, write: PUT replaces the whole object), and
the summary an inventory needs."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chef_api.client import ChefClient, path_segment
from chef_api.search import partial_search, search

DEFAULT_ENVIRONMENT = "_default"
# The fields a node module manages; the rest of the object (automatic, default, override) is kept as read.
MANAGED_FIELDS = ("chef_environment", "run_list", "normal")
# `knife status`'s projection (knife/lib/chef/knife/status.rb) plus roles and tags: an inventory's view.
KNIFE_STATUS_KEYS: Mapping[str, Sequence[str]] = {
    "name": ["name"],
    "chef_environment": ["chef_environment"],
    "ipaddress": ["ipaddress"],
    "fqdn": ["fqdn"],
    "ohai_time": ["ohai_time"],
    "run_list": ["run_list"],
    "roles": ["roles"],
    # What chef-client expanded on its last run: recipe names, and the cookbooks (name -> {version}) it used.
    "recipes": ["recipes"],
    "cookbooks": ["cookbooks"],
    "tags": ["tags"],
    "platform": ["platform"],
    "platform_version": ["platform_version"],
    "cloud": ["cloud"],
}
# The projection's keys that NodeSummary has a field for; the rest (cloud, user aliases) go to `extra`.
_SUMMARY_FIELDS = frozenset(KNIFE_STATUS_KEYS) - {"cloud"}
_RUN_LIST_ITEM = re.compile(r"(recipe|role)\[([^\[\]\s]+)\]")


def normalize_run_list(items: Iterable[str]) -> list[str]:
    """Chef's run list form: a bare name is a recipe (`app` -> `recipe[app]`)."""
    result = []
    for raw in items:
        item = raw.strip()
        if not _RUN_LIST_ITEM.fullmatch(item):
            if not item or any(c in item for c in "[] "):
                raise ValueError(f"not a run list item: {raw!r} (use recipe[NAME] or role[NAME])")
            item = f"recipe[{item}]"
        result.append(item)
    return result


def roles_in_run_list(run_list: Iterable[str]) -> list[str]:
    return [m.group(2) for m in map(_RUN_LIST_ITEM.fullmatch, run_list) if m and m.group(1) == "role"]


def recipe_name(item: str) -> str:
    """A recipe as Chef resolves it: no version pin (`app@1.2.0`), and `app::default` is `app`."""
    name = item.split("@", 1)[0]
    return name.removesuffix("::default")


def recipes_in_run_list(run_list: Iterable[str]) -> list[str]:
    return [
        recipe_name(m.group(2))
        for m in map(_RUN_LIST_ITEM.fullmatch, run_list)
        if m and m.group(1) == "recipe"
    ]


def cookbook_of(recipe: str) -> str:
    return recipe.split("::", 1)[0]


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`update` over `base`, recursing into dicts; any other value (lists too) replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def ohai_time_iso(value: Any) -> str | None:
    """Ohai's `ohai_time` (float seconds since the epoch of the last chef-client run) as ISO 8601 UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_node(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "chef_type": "node",
        "json_class": "Chef::Node",
        "chef_environment": DEFAULT_ENVIRONMENT,
        "run_list": [],
        "normal": {},
        "automatic": {},
        "default": {},
        "override": {},
    }


def managed_view(node: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a diff shows: the fields the module manages (empty for a missing node)."""
    if node is None:
        return {}
    return {name: copy.deepcopy(node.get(name)) for name in MANAGED_FIELDS}


@dataclass(frozen=True)
class NodeSpec:
    """The desired state; None means 'leave as it is' (or Chef's default on creation)."""

    name: str
    environment: str | None = None
    run_list: Sequence[str] | None = None
    normal: Mapping[str, Any] | None = None
    # False: deep-merge `normal` into the node's normal attributes; True: replace them.
    replace_normal: bool = False


@dataclass(frozen=True)
class NodePlan:
    current: dict[str, Any] | None
    desired: dict[str, Any] | None = None

    @property
    def changed(self) -> bool:
        if self.current is None or self.desired is None:
            # Creating or deleting is a change; absent and staying absent is not.
            return (self.current is None) != (self.desired is None)
        return managed_view(self.current) != managed_view(self.desired)

    @property
    def diff(self) -> dict[str, Any]:
        return {"before": managed_view(self.current), "after": managed_view(self.desired)}


def plan_present(current: Mapping[str, Any] | None, spec: NodeSpec) -> NodePlan:
    """The full object to write: the current one (or a new one) with the spec's fields applied."""
    desired = copy.deepcopy(dict(current)) if current is not None else new_node(spec.name)
    if spec.environment is not None:
        desired["chef_environment"] = spec.environment
    if spec.run_list is not None:
        desired["run_list"] = normalize_run_list(spec.run_list)
    if spec.normal is not None:
        base = {} if spec.replace_normal else desired.get("normal") or {}
        desired["normal"] = deep_merge(base, spec.normal)
    return NodePlan(copy.deepcopy(dict(current)) if current is not None else None, desired)


def get_node(client: ChefClient, name: str) -> dict[str, Any] | None:
    return client.get_or_none(f"nodes/{path_segment(name)}")


def apply_plan(client: ChefClient, plan: NodePlan) -> None:
    """Write the plan: create, replace (PUT is the whole object) or delete."""
    if not plan.changed:
        return
    if plan.desired is None:
        client.delete(f"nodes/{path_segment(plan.current['name'])}")
    elif plan.current is None:
        client.post("nodes", plan.desired)
    else:
        client.put(f"nodes/{path_segment(plan.desired['name'])}", plan.desired)


def split_attribute_path(path: str | Sequence[str]) -> list[str]:
    """`cloud.public_ipv4` or ['cloud', 'public_ipv4'] -> ['cloud', 'public_ipv4']."""
    parts = path.split(".") if isinstance(path, str) else [str(p) for p in path]
    if not parts or not all(parts):
        raise ValueError(f"not an attribute path: {path!r}")
    return parts


# Attribute levels from lowest to highest precedence, as chef-client merges them.
_PRECEDENCE = ("default", "normal", "override", "automatic")
_NOT_FOUND = object()


def _walk(data: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return _NOT_FOUND
        data = data[part]
    return data


def node_attribute(node: Mapping[str, Any], path: Sequence[str]) -> Any:
    """An attribute of a full node object as partial search resolves it: the node's own fields
    (name, chef_environment, run_list) or the merged attributes (dicts deep-merged, else the highest
    level's value)."""
    if len(path) == 1 and path[0] in ("name", "chef_environment", "run_list"):
        return node.get(path[0])
    found = [v for v in (_walk(node.get(level), path) for level in _PRECEDENCE) if v is not _NOT_FOUND]
    if not found:
        return None
    if all(isinstance(v, Mapping) for v in found):
        merged: dict[str, Any] = {}
        for value in found:
            merged = deep_merge(merged, value)
        return merged
    return copy.deepcopy(found[-1])


def _attribute_paths(attributes: Mapping[str, str | Sequence[str]] | None) -> dict[str, list[str]]:
    # The name and the last run always come along, whatever else is asked for.
    keys = {"name": ["name"], "ohai_time": ["ohai_time"]}
    keys.update({alias: split_attribute_path(path) for alias, path in (attributes or {}).items()})
    return keys


def _with_date(node: dict[str, Any], ohai_time: Any) -> dict[str, Any]:
    """`ohai_time` as an ISO 8601 date (the epoch float stays in `automatic` of full objects)."""
    node["ohai_time"] = ohai_time_iso(ohai_time)
    return node


def project(node: Mapping[str, Any], attributes: Mapping[str, str | Sequence[str]]) -> dict[str, Any]:
    """A full node cut down to the requested attributes, as partial search would return it."""
    return {alias: node_attribute(node, path) for alias, path in _attribute_paths(attributes).items()}


def node_info(
    client: ChefClient,
    *,
    names: Sequence[str] = (),
    query: str | None = None,
    attributes: Mapping[str, str | Sequence[str]] | None = None,
    rows: int = 1000,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Nodes by name (read directly: no search-index lag) or by query, full or only `attributes`
    (alias -> path); each with `ohai_time` as a date. Returns (nodes, names not found)."""
    if names:
        found = {name: get_node(client, name) for name in names}
        missing = [name for name, node in found.items() if node is None]
        full = [node for node in found.values() if node is not None]
        if attributes is None:
            return [_with_date(n, node_attribute(n, ["ohai_time"])) for n in full], missing
        return [_with_date(n, n["ohai_time"]) for n in (project(f, attributes) for f in full)], missing
    if attributes is None:
        nodes = search(client, "node", query or "*:*", rows=rows)
        return [_with_date(n, node_attribute(n, ["ohai_time"])) for n in nodes], []
    rows_found = partial_search(client, "node", _attribute_paths(attributes), query or "*:*", rows=rows)
    return [_with_date(dict(r["data"]), r["data"].get("ohai_time")) for r in rows_found], []


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v is not None)
    return ()


def _cookbooks(recipes: Sequence[str], used: Any) -> dict[str, str | None]:
    """The recipes' cookbooks, then the last run's `cookbooks` attribute ({name: {"version": ...}})."""
    cookbooks: dict[str, str | None] = dict.fromkeys(map(cookbook_of, recipes))
    for name, info in (used or {}).items() if isinstance(used, Mapping) else ():
        version = info.get("version") if isinstance(info, Mapping) else None
        cookbooks[str(name)] = str(version) if version is not None else cookbooks.get(str(name))
    return cookbooks


@dataclass(frozen=True)
class NodeSummary:
    """One node as an inventory sees it: a row of the knife-status partial search."""

    name: str
    environment: str
    run_list: tuple[str, ...]
    roles: tuple[str, ...]
    tags: tuple[str, ...]
    ipaddress: str | None
    fqdn: str | None
    platform: str | None
    platform_version: str | None
    ohai_time: float | None
    # Recipes of the run list, then those chef-client expanded (roles' recipes included) on its last run.
    recipes: tuple[str, ...] = ()
    # Cookbook -> version: the cookbooks of those recipes, and every cookbook the last run used (its
    # dependencies too) with the version it ran; None where no run has reported one.
    cookbooks: Mapping[str, str | None] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def last_run(self) -> str | None:
        return ohai_time_iso(self.ohai_time)

    @classmethod
    def from_row(cls, data: Mapping[str, Any]) -> NodeSummary:
        """From partial-search data keyed as KNIFE_STATUS_KEYS; other aliases land in `extra`."""
        run_list = _strings(data.get("run_list"))
        # Roles named in the run list first, then those chef-client expanded on its last run.
        roles = tuple(dict.fromkeys([*roles_in_run_list(run_list), *_strings(data.get("roles"))]))
        ohai_time = data.get("ohai_time")
        recipes = tuple(
            dict.fromkeys(
                [*recipes_in_run_list(run_list), *(recipe_name(r) for r in _strings(data.get("recipes")))]
            )
        )
        return cls(
            name=str(data["name"]),
            environment=str(data.get("chef_environment") or DEFAULT_ENVIRONMENT),
            run_list=run_list,
            roles=roles,
            tags=_strings(data.get("tags")),
            ipaddress=data.get("ipaddress"),
            fqdn=data.get("fqdn"),
            platform=data.get("platform"),
            platform_version=data.get("platform_version"),
            ohai_time=float(ohai_time) if isinstance(ohai_time, int | float) else None,
            recipes=recipes,
            cookbooks=_cookbooks(recipes, data.get("cookbooks")),
            extra={k: v for k, v in data.items() if k not in _SUMMARY_FIELDS},
        )


def summary_rows(
    client: ChefClient,
    query: str = "*:*",
    extra_attributes: Mapping[str, str | Sequence[str]] | None = None,
    *,
    rows: int = 1000,
) -> list[dict[str, Any]]:
    """Every matching node's partial-search data (plain JSON, for a cache), keyed as KNIFE_STATUS_KEYS
    plus the extra attributes: `NodeSummary.from_row` reads it."""
    keys = {**KNIFE_STATUS_KEYS, **{a: split_attribute_path(p) for a, p in (extra_attributes or {}).items()}}
    rows_found = partial_search(client, "node", keys, query, rows=rows)
    return [row["data"] for row in rows_found if (row.get("data") or {}).get("name")]


def node_status(summary: NodeSummary, now: float, stale_after_minutes: float) -> dict[str, Any]:
    """What `knife status` shows of a node: last check-in (and how long ago), run list, environment,
    platform, addresses; `stale` when it has not checked in for stale_after_minutes (or never)."""
    minutes = None if summary.ohai_time is None else round((now - summary.ohai_time) / 60, 1)
    return {
        "name": summary.name,
        "environment": summary.environment,
        "run_list": list(summary.run_list),
        "roles": list(summary.roles),
        "ipaddress": summary.ipaddress,
        "fqdn": summary.fqdn,
        "platform": summary.platform,
        "platform_version": summary.platform_version,
        "last_run": summary.last_run,
        "minutes_since_run": minutes,
        "stale": minutes is None or minutes > stale_after_minutes,
    }
