# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the leaseweb_* modules: connection options, the client, one error path, waiting.

The modules run on the controller and use this repository's `leaseweb_api` package (src/), the way cloud
modules use their SDK; without it they fail with Ansible's missing-library message.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

try:
    from leaseweb_api import (
        ApiError,
        LeasewebClient,
        LeasewebError,
        NotFoundError,
        TransportError,
        bootfile_problem,
    )

    LEASEWEB_API_IMPORT_ERROR = None
except ImportError:
    LEASEWEB_API_IMPORT_ERROR = traceback.format_exc()

    # Stand-ins so that the modules import without leaseweb_api; leaseweb_module() fails with
    # missing_required_lib before any of them could be raised or caught.
    class LeasewebError(Exception):  # type: ignore[no-redef]
        pass

    class ApiError(LeasewebError):  # type: ignore[no-redef]
        pass

    class NotFoundError(ApiError):  # type: ignore[no-redef]
        pass

    class TransportError(LeasewebError):  # type: ignore[no-redef]
        pass

    LeasewebClient = None  # type: ignore[assignment,misc]
    bootfile_problem = None  # type: ignore[assignment]

__all__ = [
    "CREDENTIAL_TYPES",
    "SERVER_ARGUMENT_SPEC",
    "LeasewebError",
    "NotFoundError",
    "api_errors",
    "bootfile_problem",
    "fail_api",
    "leaseweb_client",
    "leaseweb_module",
    "wait_for",
]

T = TypeVar("T")

LEASEWEB_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "api_key": {"type": "str", "required": True, "no_log": True, "fallback": (env_fallback, ["LSW_API_KEY"])},
    "base_url": {"type": "str", "fallback": (env_fallback, ["LSW_BASE_URL"])},
    "timeout": {"type": "float", "default": 60.0},
}

# LeaseWeb's credential types (the spec's credentialType; leaseweb_api.models has the same list, but the
# modules' argument specs are read before leaseweb_api is known to be importable).
CREDENTIAL_TYPES = (
    "OPERATING_SYSTEM",
    "RESCUE_MODE",
    "REMOTE_MANAGEMENT",
    "CONTROL_PANEL",
    "SWITCH",
    "PDU",
    "FIREWALL",
    "LOAD_BALANCER",
    "VNC",
    "TEMPORARY_OPERATING_SYSTEM",
    "VPN_USER",
    "COMBINATION_LOCK",
    "DATABASE",
)

# The modules that act on one server (documented by the leaseweb.server fragment).
SERVER_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {"server_id": {"type": "str", "required": True}}


def leaseweb_module(argument_spec: dict[str, Any], **kwargs: Any) -> AnsibleModule:
    """An AnsibleModule with the connection options; fails early if `leaseweb_api` cannot be imported."""
    module = AnsibleModule(argument_spec={**LEASEWEB_ARGUMENT_SPEC, **argument_spec}, **kwargs)
    if LEASEWEB_API_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib("leaseweb_api (the cdn-infra Python distribution)"),
            exception=LEASEWEB_API_IMPORT_ERROR,
        )
    return module


def leaseweb_client(module: AnsibleModule) -> LeasewebClient:
    timeout = module.params["timeout"]
    with api_errors(module):
        return LeasewebClient(
            api_key=module.params["api_key"],
            base_url=module.params["base_url"],
            timeout=(min(10.0, timeout), timeout),
        )


def failure_fields(exc: LeasewebError) -> dict[str, Any]:
    """The result fields of a failed call: the API's error body, attempts, Retry-After, may_have_applied."""
    if isinstance(exc, ApiError):
        return {
            "status": exc.status,
            "error_code": exc.error_code,
            "error_message": exc.error_message,
            "correlation_id": exc.correlation_id,
            "error_details": exc.error_details,
            "attempts": exc.attempts,
            "retry_after": exc.retry_after,
            "may_have_applied": exc.may_have_applied,
        }
    if isinstance(exc, TransportError):
        return {"attempts": exc.attempts, "may_have_applied": exc.may_have_applied}
    return {}


def fail_api(module: AnsibleModule, exc: LeasewebError, msg: str | None = None, **result: Any) -> None:
    """fail_json for a failed call. A write that may have been carried out (its answer lost) counts as a
    change: `changed` reports every write that happened or may have happened."""
    fields = failure_fields(exc)
    if fields.get("may_have_applied"):
        result["changed"] = True
    module.fail_json(msg=msg or str(exc), **{**fields, **result})


@contextmanager
def api_errors(module: AnsibleModule, **result: Any) -> Iterator[None]:
    """The one error path: an API failure becomes fail_json with status, code, message and correlation id."""
    try:
        yield
    except LeasewebError as exc:
        fail_api(module, exc, **result)


def wait_for(
    probe: Callable[[], T], done: Callable[[T], bool], timeout: float, interval: float
) -> tuple[T, bool]:
    """Call `probe` until `done(value)` or `timeout` seconds pass; the last value, and whether it was done."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value, True
        if time.monotonic() + interval > deadline:
            return value, False
        time.sleep(interval)
