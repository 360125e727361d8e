"""Checks recorded exchanges (the simulator's journal) against LeaseWeb's OpenAPI spec, with openapi-core.

Requests are checked as the API would see them (path, query, headers, body); answers against the operation's
declared response for that status. Where the simulator must send a status the spec does not declare for the
operation (it declares 404 on a few operations only, and never 409, 429, 502 or 504), the body is checked
against the spec's `errorResult` schema instead, and the status must be one of UNDECLARED_STATUSES.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_PATH = Path(__file__).parent / "spec" / "leaseweb-dedicatedserver-v2.openapi.yaml"
API_HOST = "https://api.leaseweb.com"
PREFIX = "/bareMetals/v2"
UNDECLARED_STATUSES = {
    404: "unknown server or job on an operation whose spec lists no 404",
    409: "a job while one is running, or a lease over a lease (undocumented; a knob)",
    429: "rate limiting, undocumented, injected",
    502: "gateway failure, injected",
    504: "gateway timeout, injected",
}


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH))


@cache
def _raw_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


@cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    ops = []
    for template, methods in _raw_spec()["paths"].items():
        pattern = re.compile("^" + PREFIX + re.sub(r"\{\w+\}", "[^/]+", template) + "$")
        ops.extend((pattern, method.upper(), op) for method, op in methods.items() if method != "parameters")
    # Literal paths before templated ones (/networkInterfaces/open before /networkInterfaces/{type}).
    return sorted(ops, key=lambda item: item[0].pattern.count("[^/]+"))


def declared_statuses(method: str, path: str) -> set[str] | None:
    for pattern, op_method, op in _operations():
        if op_method == method and pattern.match(path):
            return set(op["responses"])
    return None


@dataclass
class RecordedRequest:
    """An exchange's request, in the shape openapi-core reads (its Request protocol)."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class RecordedResponse:
    status_code: int
    headers: Headers
    content_type: str
    data: bytes | None


def _request(exchange: dict[str, Any]) -> RecordedRequest:
    headers = Headers(exchange["request_headers"])
    return RecordedRequest(
        host_url=API_HOST,
        path=exchange["path"],
        method=exchange["method"].lower(),
        body=exchange["request_body"].encode() or None,
        content_type=(headers.get("Content-Type") or "application/json").lower(),
        parameters=RequestParameters(query=ImmutableMultiDict(parse_qsl(exchange["query"])), header=headers),
    )


def _response(exchange: dict[str, Any]) -> RecordedResponse:
    headers = Headers(exchange["response_headers"])
    return RecordedResponse(
        status_code=exchange["status"],
        headers=headers,
        content_type=(headers.get("Content-Type") or "").lower(),
        data=exchange["response_body"].encode() or None,
    )


def request_problems(exchange: dict[str, Any]) -> list[str]:
    try:
        openapi().validate_request(_request(exchange))
    except Exception as exc:  # openapi-core raises a family of errors; each is a finding here
        return [f"{exchange['method']} {exchange['path']}?{exchange['query']} request: {_describe(exc)}"]
    return []


def response_problems(exchange: dict[str, Any]) -> list[str]:
    where = f"{exchange['method']} {exchange['path']} -> {exchange['status']}"
    declared = declared_statuses(exchange["method"], exchange["path"])
    if declared is None:
        return [f"{where}: no such operation in the spec"]
    if str(exchange["status"]) in declared:
        try:
            openapi().validate_response(_request(exchange), _response(exchange))
        except Exception as exc:
            return [f"{where} response: {_describe(exc)}"]
        return []
    if exchange["status"] not in UNDECLARED_STATUSES:
        return [f"{where}: status not declared by the operation"]
    schema = _raw_spec()["components"]["schemas"]["errorResult"]
    errors = [
        e.message for e in OAS30Validator(schema).iter_errors(yaml.safe_load(exchange["response_body"]))
    ]
    return [f"{where} errorResult: {message}" for message in errors]


def _describe(exc: Exception) -> str:
    details = [str(exc)]
    for inner in getattr(exc, "schema_errors", None) or []:
        details.append(f"{list(inner.absolute_path)}: {inner.message}")
    cause = exc.__cause__
    if cause is not None:
        details.append(_describe(cause) if isinstance(cause, Exception) else str(cause))
    return " | ".join(details)


def in_spec(exchange: dict[str, Any]) -> bool:
    """v1 calls are not part of this spec."""
    return exchange["path"].startswith(PREFIX + "/")


def simulator_problems(exchanges: list[dict[str, Any]]) -> list[str]:
    """What does not fit the spec in a simulator's exchanges (those in the spec, without injected faults)."""
    checked = [e for e in exchanges if in_spec(e) and e["fault"] is None]
    return [p for e in checked for p in request_problems(e) + response_problems(e)]
