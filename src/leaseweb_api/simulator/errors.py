"""Error answers: the documented `errorResult` shape, and the other shapes the live API was seen to send."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MESSAGES = {
    400: "The API could not interpret your request correctly.",
    401: "You are not authorized to view this resource.",
    403: "Access to the requested resource is forbidden.",
    404: "Resource not found",
    405: "Method not allowed.",
    409: "The resource is in a state that does not allow this request.",
    413: "The request body is too large.",
    429: "Too many requests. Please slow down.",
    500: "The API could not handle your request at this time.",
    502: "Bad gateway.",
    503: "The API is not available at the moment.",
    504: "The server took too long to respond.",
}
# Symbolic codes and the longer body of the "Errors" prose (userMessage, reference), per status.
SYMBOLS = {
    401: ("ACCESS_DENIED", "The access token is expired or invalid."),
    409: ("CONFLICT", "The resource is in a state that does not allow this request."),
}
DEFAULT_SYMBOL = ("APP00800", "The connection with the DB cannot be established.")
BODY_STYLES = ("documented", "symbol", "details-list", "details-nested", "empty-object", "empty", "html")


@dataclass
class ApiFault(Exception):
    """An error answer raised from a route: status, message and `errorDetails` (field -> messages)."""

    status: int
    message: str | None = None
    details: dict[str, list[str]] | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data).encode(), "application/json", headers or {})

    @classmethod
    def empty(cls, status: int = 204) -> Reply:
        return cls(status)


def error_body(
    status: int,
    correlation_id: str,
    *,
    message: str | None = None,
    details: Any = None,
    code: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "correlationId": correlation_id,
        "errorCode": code or str(status),
        "errorMessage": message or MESSAGES.get(status, "Error"),
    }
    if details is not None:
        body["errorDetails"] = details
    return body


def fault_reply(fault: ApiFault, correlation_id: str) -> Reply:
    return Reply.json(
        fault.status,
        error_body(
            fault.status, correlation_id, message=fault.message, details=fault.details, code=fault.code
        ),
        fault.headers,
    )


def styled_error(status: int, style: str, correlation_id: str, headers: dict[str, str]) -> Reply:
    """An injected error in one of BODY_STYLES."""
    if style == "empty":
        return Reply(status, b"", "application/json", headers)
    if style == "empty-object":
        return Reply.json(status, {}, headers)
    if style == "html":
        title = f"{status} {MESSAGES.get(status, '')}"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return Reply(status, page.encode(), "text/html", headers)
    if style == "symbol":
        code, message = SYMBOLS.get(status, DEFAULT_SYMBOL)
        body = error_body(status, correlation_id, message=message, code=code)
        body["userMessage"] = "Cannot handle your request at the moment. Please try again later."
        body["reference"] = f"https://developer.leaseweb.com/errors/{code}"
        return Reply.json(status, body, headers)
    if style == "details-list":
        return Reply.json(status, error_body(status, correlation_id, details=[1001, 1002]), headers)
    if style == "details-nested":
        details = {"bootfile": {"format": ["This value is not a valid URL."]}}
        return Reply.json(status, error_body(status, correlation_id, details=details), headers)
    return Reply.json(status, error_body(status, correlation_id), headers)
