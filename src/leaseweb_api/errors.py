"""Typed errors of the LeaseWeb API client.

Every failure the client raises is a `LeasewebError`. An answer from the API becomes an `ApiError` (a subclass
per HTTP status family) carrying what LeaseWeb's error body documents: `errorCode`, `errorMessage`,
`correlationId` and `errorDetails`. The live API does not always send that body: it may be `{}`, empty, an
HTML page from the gateway, a symbol as the code ("ACCESS_DENIED", "APP00800") or details as a list, so
parsing is defensive.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import requests

CORRELATION_HEADER = "APIGW-CORRELATION-ID"
_SNIPPET = 200


class LeasewebError(Exception):
    """Base class of everything the client raises."""


class ConfigurationError(LeasewebError):
    """The client cannot be built (no API key, bad base URL)."""


class TransportError(LeasewebError):
    """The API could not be reached (connection refused or reset, timeout), after the retries allowed."""

    def __init__(self, message: str, *, method: str, url: str, attempts: int, may_have_applied: bool = False):
        super().__init__(message)
        self.method = method
        self.url = url
        self.attempts = attempts
        self.may_have_applied = may_have_applied

    def __str__(self) -> str:
        return super().__str__() + _outcome_note(self.attempts, None, self.may_have_applied)


def _outcome_note(attempts: int, retry_after: float | None, may_have_applied: bool) -> str:
    """What the operator needs to know beyond the error itself: how often it was tried, what may have run."""
    note = f" (after {attempts} attempts)" if attempts > 1 else ""
    if retry_after is not None:
        note += f" (the last answer asked to retry after {retry_after:g} s)"
    if may_have_applied:
        note += " (the request may have been carried out: check the server's state before repeating it)"
    return note


class ProtocolError(LeasewebError):
    """The API answered successfully with something the client cannot read."""


class ApiError(LeasewebError):
    """The API answered with an error status."""

    def __init__(
        self,
        status: int,
        *,
        error_code: str | None,
        error_message: str,
        correlation_id: str | None,
        error_details: Any = None,
        user_message: str | None = None,
        reference: str | None = None,
        method: str = "",
        url: str = "",
        attempts: int = 1,
        retry_after: float | None = None,
        may_have_applied: bool = False,
    ):
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.correlation_id = correlation_id
        self.error_details = error_details
        self.user_message = user_message
        self.reference = reference
        self.method = method
        self.url = url
        self.attempts = attempts
        self.retry_after = retry_after
        self.may_have_applied = may_have_applied
        super().__init__(status, error_message)

    def __str__(self) -> str:
        code = f" {self.error_code}" if self.error_code and self.error_code != str(self.status) else ""
        text = f"{self.method} {self.url}: HTTP {self.status}{code}: {self.error_message}"
        details = self.detail_messages()
        if details:
            text += f" ({'; '.join(details)})"
        if self.correlation_id:
            text += f" [correlation id {self.correlation_id}]"
        return text + _outcome_note(self.attempts, self.retry_after, self.may_have_applied)

    def detail_messages(self) -> list[str]:
        """`errorDetails` flattened to "field: message" lines, whatever its shape."""
        return list(_flatten_details(self.error_details, ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "correlation_id": self.correlation_id,
            "error_details": self.error_details,
            "user_message": self.user_message,
            "reference": self.reference,
            "method": self.method,
            "url": self.url,
            "attempts": self.attempts,
            "retry_after": self.retry_after,
            "may_have_applied": self.may_have_applied,
        }


class BadRequestError(ApiError):
    """400: the API could not interpret the request (see `error_details`)."""


class AuthenticationError(ApiError):
    """401: no API key, or one the API does not accept."""


class ForbiddenError(ApiError):
    """403: the key may not touch this resource."""


class NotFoundError(ApiError):
    """404: unknown server, job or lease."""


class ConflictError(ApiError):
    """409: the resource is busy (an active job, an existing reservation)."""


class RateLimitError(ApiError):
    """429: too many requests; `retry_after` holds the wait the API asked for, if any."""


class ServerError(ApiError):
    """5xx: the API or its gateway failed."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_class(status: int) -> type[ApiError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def _flatten_details(details: Any, prefix: str):
    if isinstance(details, dict):
        for key, value in details.items():
            yield from _flatten_details(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(details, list):
        for item in details:
            yield from _flatten_details(item, prefix)
    elif details is not None and details != "":
        yield f"{prefix}: {details}" if prefix else str(details)


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _default_message(response: requests.Response) -> str:
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = response.reason or "error"
    text = response.text.strip() if response.content else ""
    if text and _json_object(response) is None:
        # A gateway's HTML or plain-text page: keep the start so the operator sees what answered.
        return f"{phrase} (non-JSON body: {' '.join(text.split())[:_SNIPPET]})"
    return phrase


def _as_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def api_error_from_response(
    response: requests.Response,
    *,
    method: str,
    url: str,
    attempts: int,
    retry_after: float | None = None,
    may_have_applied: bool = False,
) -> ApiError:
    """The typed error for an error response, from its body (any of the shapes seen) and headers."""
    body = _json_object(response) or {}
    return error_class(response.status_code)(
        response.status_code,
        error_code=_as_text(body.get("errorCode")),
        error_message=_as_text(body.get("errorMessage")) or _default_message(response),
        correlation_id=_as_text(body.get("correlationId")) or response.headers.get(CORRELATION_HEADER),
        error_details=body.get("errorDetails"),
        user_message=_as_text(body.get("userMessage")),
        reference=_as_text(body.get("reference")),
        method=method,
        url=url,
        attempts=attempts,
        retry_after=retry_after,
        may_have_applied=may_have_applied,
    )
