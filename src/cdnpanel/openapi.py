"""The JSON API's OpenAPI 3.1 document, built from the route table so it cannot miss a route."""

from __future__ import annotations

import re
from typing import Any

from cdnpanel.periods import RANGES

_RANGE = [
    {"name": "range", "in": "query",
     "schema": {"type": "string", "enum": [*RANGES, "custom"], "default": "day"},
     "description": "hour (1-minute points), day (5 minutes), week (1 hour), month (3 hours) or custom"},
    {"name": "from", "in": "query", "schema": {"type": "string"},
     "description": "custom: start, ISO 8601, UTC"},
    {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "custom: end, ISO 8601, UTC"},
]  # fmt: skip
_MONTH = [
    {"name": "month", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
     "description": "a UTC calendar month, YYYY-MM (default: the current month)"},
]  # fmt: skip
_QUERY: dict[str, list[dict[str, Any]]] = {
    "traffic": _RANGE,
    "breakdowns": _RANGE,
    "sites": _RANGE,
    "usage": [*_MONTH, {"name": "series", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]},
                        "description": "1: include the month's 5-minute bandwidth"}],
    "customers": _MONTH,
}  # fmt: skip
_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}


def _operation(path: str, summary: str, access: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    params += _QUERY.get(path.rstrip("/").rsplit("/", 1)[-1], [])
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
        "401": {"description": "missing or wrong token",
                "content": {"application/json": {"schema": _ERROR}}},
    }  # fmt: skip
    if access == "customer":
        responses["404"] = {"description": "no such customer, or not the caller's",
                            "content": {"application/json": {"schema": _ERROR}}}  # fmt: skip
        responses["400"] = {"description": "a malformed range or month",
                            "content": {"application/json": {"schema": _ERROR}}}  # fmt: skip
    if access == "operator":
        responses["403"] = {
            "description": "for operators only",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return {"summary": summary, "parameters": params, "responses": responses, "security": [{"token": []}]}


def document() -> dict[str, Any]:
    from cdnpanel.web import ROUTES

    paths: dict[str, Any] = {}
    for spec in ROUTES:
        if spec.api and spec.access != "public":
            plain = re.sub(r"{(\w+)(:\w+)?}", r"{\1}", spec.path)
            paths.setdefault(plain, {})["get"] = _operation(plain, spec.summary, spec.access)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CDN control panel API",
            "version": "1",
            "description": "Times are UTC epoch seconds. Billing figures (customer_traffic) are exact; "
            "top lists are approximate (sampled top-N). Create a token on the Account page and send it as "
            "`Authorization: Bearer TOKEN`.",
        },
        "servers": [{"url": "/"}],
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
