"""The deployment log: one data bag item per deployment (what, version, where, when, by whom, result).

Release notes and issue-tracker updates are built from `history()`. Reading goes through search (server-side
filters, scales) or through the bag's item list (no index lag: Chef Infra Server commits its search index
about every 60 s, goiardi at once).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from chef_api.client import ChefClient, check_name
from chef_api.databags import delete_item, get_item, item_path, put_item, record_item
from chef_api.errors import ChefNotFoundError
from chef_api.search import and_query, search

DEFAULT_BAG = "deployments"
# The record's shape version (docs/deployments.md): 1 had no `schema` key, 2 added the run's end, its batches,
# failed hosts and per-host changes.
SCHEMA = 2
# success: every host done and something changed; no_change: every host done and nothing changed; partial:
# some hosts failed; failure: all failed or the run stopped; in_progress: opened, not completed yet.
RESULTS = ("success", "no_change", "partial", "failure", "rolled_back", "in_progress")
FINAL_RESULTS = tuple(r for r in RESULTS if r != "in_progress")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def utc_iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """ISO 8601 date or date-time; naive values are taken as UTC."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or date-time: {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_id(value: str) -> str:
    return check_name("deployment id", value)


def new_deployment_id(app: str, version: str, when: datetime) -> str:
    """Sortable and readable: `shop-1.2.3-20250101T120000Z-a1b2c3`."""
    slug = _ID_UNSAFE.sub("_", f"{app}-{version}")
    return f"{slug}-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Deployment:
    """One rollout. `deployed_at` is when it started, `finished_at` when it was completed (None while
    in_progress); `changes` maps a host to its state `before` and `after` (only hosts whose state changed),
    `failed_hosts` a host to the reason it failed."""

    id: str
    app: str
    version: str
    deployed_at: str
    deployed_by: str
    result: str = "success"
    hosts: tuple[str, ...] = ()
    environment: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA
    finished_at: str | None = None
    batches: tuple[tuple[str, ...], ...] = ()
    failed_hosts: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)
    # What the issue tracker was told: {"state": "done"|"pending", "attempted_at", "error", "issues"}.
    tracker: Mapping[str, Any] = field(default_factory=dict)

    def item(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "schema": self.schema,
            "app": self.app,
            "version": self.version,
            "deployed_at": self.deployed_at,
            "finished_at": self.finished_at,
            "deployed_by": self.deployed_by,
            "result": self.result,
            "reason": self.reason,
            "hosts": list(self.hosts),
            "batches": [list(batch) for batch in self.batches],
            "failed_hosts": dict(self.failed_hosts),
            "environment": self.environment,
            "changes": dict(self.changes),
            "tracker": dict(self.tracker),
            "details": dict(self.details),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Deployment:
        return cls(
            id=str(item["id"]),
            app=str(item.get("app", "")),
            version=str(item.get("version", "")),
            deployed_at=str(item.get("deployed_at", "")),
            deployed_by=str(item.get("deployed_by", "")),
            result=str(item.get("result", "")),
            hosts=tuple(str(h) for h in item.get("hosts") or ()),
            environment=item.get("environment"),
            details=dict(item.get("details") or {}),
            # A record without `schema` is of the first shape, which had none of the fields below.
            schema=int(item.get("schema") or 1),
            finished_at=item.get("finished_at"),
            batches=tuple(tuple(str(h) for h in batch) for batch in item.get("batches") or ()),
            failed_hosts={str(k): str(v) for k, v in (item.get("failed_hosts") or {}).items()},
            reason=item.get("reason"),
            changes=dict(item.get("changes") or {}),
            tracker=dict(item.get("tracker") or {}),
        )

    @property
    def when(self) -> datetime | None:
        try:
            return parse_time(self.deployed_at)
        except ValueError:
            return None


@dataclass(frozen=True)
class DeploymentSpec:
    """What a task asks for; None keeps the recorded value (or the default, for a new record)."""

    app: str | None = None
    version: str | None = None
    id: str | None = None
    hosts: Sequence[str] | None = None
    environment: str | None = None
    deployed_at: str | None = None
    deployed_by: str | None = None
    result: str | None = None
    details: Mapping[str, Any] | None = None
    batches: Sequence[Sequence[str]] | None = None
    failed_hosts: Mapping[str, str] | None = None
    reason: str | None = None
    changes: Mapping[str, Any] | None = None
    # Complete the record: stamp finished_at (once) and, without a result, derive it (derive_result).
    finish: bool = False
    finished_at: str | None = None


def changed_hosts(states: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """{host: {"before": ..., "after": ...}} reduced to the hosts whose state differs."""
    return {
        host: {"before": state.get("before"), "after": state.get("after")}
        for host, state in sorted(states.items())
        if state.get("before") != state.get("after")
    }


def derive_result(hosts: Sequence[str], failed_hosts: Mapping[str, str], changes: Mapping[str, Any]) -> str:
    """failure when every host failed, partial when some did, else success or no_change."""
    if failed_hosts and set(hosts) <= set(failed_hosts):
        return "failure"
    if failed_hosts:
        return "partial"
    return "success" if changes else "no_change"


def plan_record(
    current: Mapping[str, Any] | None, spec: DeploymentSpec, *, now: datetime, user: str
) -> Deployment:
    """The record to write: the current one (or a new one stamped now, by user) with the spec applied.

    Without an explicit id every call is a new deployment; with one, repeating the call changes nothing,
    and a later call can complete it (result in_progress -> success).
    """
    if spec.result is not None and spec.result not in RESULTS:
        raise ValueError(f"result must be one of {', '.join(RESULTS)}, got {spec.result!r}")
    if current is None:
        if not spec.app or not spec.version:
            raise ValueError("a new deployment record needs app and version")
        base = Deployment(
            id=check_id(spec.id) if spec.id else new_deployment_id(spec.app, spec.version, now),
            app=spec.app,
            version=spec.version,
            deployed_at=utc_iso(now),
            deployed_by=user,
        )
    else:
        base = Deployment.from_item(current)
    updates = {
        "app": spec.app,
        "version": spec.version,
        "hosts": tuple(spec.hosts) if spec.hosts is not None else None,
        "environment": spec.environment,
        "deployed_at": utc_iso(parse_time(spec.deployed_at)) if spec.deployed_at else None,
        "deployed_by": spec.deployed_by,
        "result": spec.result,
        "details": dict(spec.details) if spec.details is not None else None,
        "batches": tuple(tuple(b) for b in spec.batches) if spec.batches is not None else None,
        "failed_hosts": dict(spec.failed_hosts) if spec.failed_hosts is not None else None,
        "reason": spec.reason,
        "changes": dict(spec.changes) if spec.changes is not None else None,
        "finished_at": utc_iso(parse_time(spec.finished_at)) if spec.finished_at else None,
    }
    record = replace(base, schema=SCHEMA, **{k: v for k, v in updates.items() if v is not None})
    if not spec.finish:
        return record
    return replace(
        record,
        finished_at=record.finished_at or utc_iso(now),
        result=spec.result or derive_result(record.hosts, record.failed_hosts, record.changes),
    )


# The log's items are generic data bag items.
get_record = get_item
write_record = put_item
delete_record = delete_item


@dataclass(frozen=True)
class HistoryFilter:
    app: str | None = None
    host: str | None = None
    environment: str | None = None
    result: str | None = None
    since: datetime | None = None

    def query(self) -> str:
        return and_query(
            {"app": self.app, "hosts": self.host, "environment": self.environment, "result": self.result}
        )

    def matches(self, record: Deployment) -> bool:
        when = record.when
        return (
            (self.app is None or record.app == self.app)
            and (self.host is None or self.host in record.hosts)
            and (self.environment is None or record.environment == self.environment)
            and (self.result is None or record.result == self.result)
            and (self.since is None or (when is not None and when >= self.since))
        )


def _all_items(client: ChefClient, bag: str) -> Iterable[Mapping[str, Any]]:
    for item_id in sorted(client.get(item_path(bag)) or {}):
        item = client.get_or_none(item_path(bag, item_id))
        if item is not None:
            yield item


def history(
    client: ChefClient,
    bag: str = DEFAULT_BAG,
    filters: HistoryFilter | None = None,
    *,
    use_search: bool = True,
    limit: int | None = None,
) -> list[Deployment]:
    """Matching records, newest first; an absent bag is an empty history."""
    filters = filters or HistoryFilter()
    try:
        items: Iterable[Mapping[str, Any]] = (
            search(client, bag, filters.query()) if use_search else _all_items(client, bag)
        )
        records = [Deployment.from_item(record_item(item)) for item in items]
    except ChefNotFoundError:
        return []
    # Search narrows by app/host/environment; `since` (and everything, for the item list) is checked here.
    found = sorted(
        (r for r in records if filters.matches(r)),
        key=lambda r: (r.when or datetime.min.replace(tzinfo=UTC), r.id),
        reverse=True,
    )
    return found[:limit] if limit else found
