# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible callback: a deployment record that a stopped run left in progress is completed at the run's end."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: deployment_record
type: aggregate
short_description: Complete the deployment record of a run that stopped before its completing play
description:
  - A rollout opens its record in Chef (M(cdn.infra.chef_deployment) with C(result=in_progress)) and
    completes it in its last play. When the run stops before that play - a batch failed beyond
    C(max_fail_percentage), a whole batch was unreachable, or a play ended on a fatal error - this callback
    completes the record when the playbook ends, as C(failure), with the hosts that failed or were
    unreachable and their messages in C(failed_hosts) and the reason.
  - It acts only on records that the run itself opened and did not complete, and only if they are still
    C(in_progress) in Chef (a record that check mode predicted, or that a later task completed, is left
    alone).
  - It signs with the connection the opening task used (its module arguments); a key given as
    C(client_key_content) is never in those, so it is read from C(CHEF_CLIENT_KEY_CONTENT) or the record
    is left for the next run, which closes it. It never fails the run; a problem is a warning.
  - Always active when loaded from the repository's C(callback_plugins) path (C(ansible.cfg)); from the
    collection, enable it as C(cdn.infra.deployment_record) in C(callbacks_enabled).
author: cdn-infra team (@cdn-infra)
requirements:
  - python >= 3.11
  - chef_api (the C(cdn-infra) Python distribution; the collection's C(requirements.txt))
"""

import os
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from ansible.plugins.callback import CallbackBase

try:
    from chef_api import ChefClient, ChefError, ChefSettings
    from chef_api.deployments import DeploymentSpec, get_record, plan_record, write_record

    CHEF_API_MISSING = None
except ImportError as exc:
    CHEF_API_MISSING = exc

RECORD_ACTIONS = frozenset({"cdn.infra.chef_deployment", "chef_deployment"})
NO_LOG_PLACEHOLDER = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class OpenRecord:
    """A record this run opened: where it is and how to reach the server."""

    id: str
    bag: str
    connection: dict[str, Any] = field(repr=False)


def _message(result: dict[str, Any]) -> str:
    text = str(result.get("msg") or result.get("stderr") or "failed").strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _settings(connection: dict[str, Any]) -> ChefSettings:
    # The chef_* modules' connection options are ChefSettings' fields (module_utils/chef_common.py).
    options = {f.name: connection[f.name] for f in fields(ChefSettings) if connection.get(f.name) is not None}
    if options.get("client_key_content") == NO_LOG_PLACEHOLDER:
        # The module's own fallback for it; None when unset, and then the path (if any) is used.
        options["client_key_content"] = os.environ.get("CHEF_CLIENT_KEY_CONTENT")
    return ChefSettings(**options)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "cdn.infra.deployment_record"
    # Loaded from a callback_plugins path it runs without being listed in callbacks_enabled: a record must
    # not stay open because someone chose other callbacks.
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[str, OpenRecord] = {}
        self._failed: dict[str, str] = {}

    def v2_runner_on_ok(self, result: Any) -> None:
        task = result._task
        if (getattr(task, "resolved_action", None) or task.action) not in RECORD_ACTIONS:
            return
        record = result._result.get("deployment") or {}
        args = (result._result.get("invocation") or {}).get("module_args") or {}
        if not record.get("id") or args.get("state", "present") != "present":
            return
        if record.get("result") == "in_progress":
            self._open[record["id"]] = OpenRecord(record["id"], args.get("bag") or "deployments", args)
        else:
            self._open.pop(record["id"], None)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if not ignore_errors:
            self._failed[result._host.get_name()] = _message(result._result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._failed[result._host.get_name()] = f"unreachable: {_message(result._result)}"

    def v2_playbook_on_stats(self, stats: Any) -> None:
        # A host whose failure a rescue handled is not failed in the end: the stats say which ones are.
        failed = {
            host: why
            for host, why in self._failed.items()
            if stats.failures.get(host) or stats.dark.get(host)
        }
        for record in self._open.values():
            self._complete(record, failed)

    def _complete(self, record: OpenRecord, failed_anywhere: dict[str, str]) -> None:
        if CHEF_API_MISSING is not None:
            self._display.warning(
                f"deployment record {record.id} stays in progress (the next run closes it): "
                f"chef_api is missing: {CHEF_API_MISSING}"
            )
            return
        try:
            with ChefClient.from_settings(_settings(record.connection)) as client:
                current = get_record(client, record.bag, record.id)
                if current is None or current.get("result") != "in_progress":
                    return
                hosts = set(current.get("hosts") or ())
                failed = {host: why for host, why in failed_anywhere.items() if host in hosts}
                spec = DeploymentSpec(
                    id=record.id,
                    finish=True,
                    result="failure",
                    failed_hosts=failed,
                    reason=self._reason(failed, hosts),
                )
                after = plan_record(current, spec, now=datetime.now(UTC), user="").item()
                write_record(client, record.bag, after, exists=True)
        except (ChefError, ValueError) as exc:
            self._display.warning(
                f"deployment record {record.id} stays in progress (the next run closes it): {exc}"
            )
            return
        # On stderr: stdout may be a machine-readable callback's (ansible.posix.json).
        self._display.display(
            f"deployment record {record.id}: completed as failure ({spec.reason})", stderr=True
        )

    @staticmethod
    def _reason(failed: dict[str, str], hosts: set[str]) -> str:
        if not failed:
            return (
                "the run stopped before completing its record (no host of the rollout failed: see the output)"
            )
        unreachable = sorted(host for host, why in failed.items() if why.startswith("unreachable"))
        what = f"{len(failed)} of {len(hosts)} host(s) failed"
        if unreachable:
            what += f" ({len(unreachable)} unreachable: {', '.join(unreachable)})"
        stopped = "the run stopped before completing its record"
        return f"{stopped}: {what}; the hosts after the stop were not deployed"
