"""Roles, environments (with their cookbook version pins) and generic data bag items: read, plan, write.

Chef has no partial update for these objects: a write sends the whole object, so a plan starts from what
the server has (or a new object's defaults) and replaces only the fields a task gives."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chef_api.client import ChefClient, check_name, path_segment
from chef_api.nodes import normalize_run_list

# Chef::VersionConstraint: an operator and a version of one to three numbers.
_CONSTRAINT = re.compile(r"(=|>=|<=|>|<|~>)\s*\d+(\.\d+){0,2}")


@dataclass(frozen=True)
class Kind:
    """One kind of object: its API collection, the fields a task manages, and a new object's defaults."""

    collection: str
    json_class: str
    chef_type: str
    fields: tuple[str, ...]

    def path(self, name: str | None = None) -> str:
        return self.collection + (
            f"/{path_segment(check_name(self.chef_type + ' name', name))}" if name else ""
        )

    def new(self, name: str) -> dict[str, Any]:
        empty: dict[str, Any] = {
            "description": "",
            "run_list": [],
            "cookbook_versions": {},
            "env_run_lists": {},
        }
        base = {"name": name, "json_class": self.json_class, "chef_type": self.chef_type}
        base.update({field: empty.get(field, {}) for field in self.fields})
        return base


ENVIRONMENT = Kind(
    "environments",
    "Chef::Environment",
    "environment",
    ("description", "cookbook_versions", "default_attributes", "override_attributes"),
)
ROLE = Kind(
    "roles",
    "Chef::Role",
    "role",
    ("description", "run_list", "env_run_lists", "default_attributes", "override_attributes"),
)


def check_cookbook_versions(pins: Mapping[str, str]) -> dict[str, str]:
    """{cookbook: constraint}, each checked (`= 1.2.3`, `~> 2.0`, `>= 1.0`) before any request."""
    for cookbook, constraint in pins.items():
        check_name("cookbook name", cookbook)
        if not _CONSTRAINT.fullmatch(str(constraint).strip()):
            raise ValueError(
                f"cookbook {cookbook!r}: {constraint!r} is not a version constraint "
                "(an operator =, >=, <=, >, < or ~> and a version such as 1.2.3)"
            )
    return {cookbook: str(constraint).strip() for cookbook, constraint in pins.items()}


def normalize_fields(kind: Kind, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The given fields in the server's form (run lists with `recipe[...]`), checked."""
    given = {k: v for k, v in wanted.items() if v is not None}
    if "cookbook_versions" in given:
        given["cookbook_versions"] = check_cookbook_versions(given["cookbook_versions"])
    if "run_list" in given:
        given["run_list"] = normalize_run_list(given["run_list"])
    if "env_run_lists" in given:
        given["env_run_lists"] = {
            check_name("environment name", env): normalize_run_list(items)
            for env, items in given["env_run_lists"].items()
        }
    return given


def managed(kind: Kind, obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a task compares and shows: the name and the managed fields."""
    if obj is None:
        return {}
    return {"name": obj.get("name"), **{field: obj.get(field) for field in kind.fields}}


def plan(
    kind: Kind, name: str, current: Mapping[str, Any] | None, wanted: Mapping[str, Any]
) -> dict[str, Any]:
    """The whole object to write: the current one (or a new one) with the given fields replaced."""
    return {**(dict(current) if current is not None else kind.new(name)), **normalize_fields(kind, wanted)}


def get_object(client: ChefClient, kind: Kind, name: str) -> dict[str, Any] | None:
    return client.get_or_none(kind.path(name))


def put_object(client: ChefClient, kind: Kind, obj: Mapping[str, Any], *, exists: bool) -> None:
    if exists:
        client.put(kind.path(obj["name"]), obj)
    else:
        client.post(kind.path(), obj)


def delete_object(client: ChefClient, kind: Kind, name: str) -> None:
    client.delete(kind.path(name))
