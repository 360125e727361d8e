"""HTTP for the LeaseWeb API: one `requests` session, authentication, timeouts, retries, pagination."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from leaseweb_api.errors import (
    ApiError,
    ConfigurationError,
    ProtocolError,
    TransportError,
    api_error_from_response,
)
from leaseweb_api.retry import (
    IDEMPOTENT_METHODS,
    REFUSED_STATUSES,
    RetryEvent,
    RetryPolicy,
    parse_retry_after,
)

log = logging.getLogger("leaseweb_api")

DEFAULT_BASE_URL = "https://api.leaseweb.com"
API_KEY_ENV = "LSW_API_KEY"
BASE_URL_ENV = "LSW_BASE_URL"
AUTH_HEADER = "X-LSW-Auth"
# (connect, read) seconds: connecting is quick or broken; the gateway itself gives up after about a minute.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 60.0)

Timeout = float | tuple[float, float]
Reconcile = Callable[[], bool]
Failure = ApiError | TransportError


def resolve_api_key(api_key: str | None) -> str:
    """The key without surrounding whitespace (a vault string made with `echo` ends in a newline).

    A key with whitespace or control characters inside is refused; no message ever quotes the key.
    """
    key = (api_key or os.environ.get(API_KEY_ENV, "")).strip()
    if not key:
        raise ConfigurationError(f"no LeaseWeb API key: pass api_key or set {API_KEY_ENV}")
    if not key.isascii() or not key.isprintable() or any(char.isspace() for char in key):
        raise ConfigurationError(
            "the LeaseWeb API key contains whitespace, control or non-ASCII characters inside it"
            " (not shown); LeaseWeb's keys have none: check how it was stored"
        )
    return key


def resolve_base_url(base_url: str | None) -> str:
    url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"base URL {url!r} is not an http(s) URL")
    return url


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the API (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class Transport:
    """Sends requests to one LeaseWeb API endpoint; the key travels only in the `X-LSW-Auth` header."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                AUTH_HEADER: resolve_api_key(api_key),
                "Accept": "application/json",
                "User-Agent": f"cdn-infra-leaseweb {requests.utils.default_user_agent()}",
            }
        )

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        reconcile: Reconcile | None = None,
    ) -> requests.Response | None:
        """Send a request, retrying what is safe to retry.

        Returns the successful response, or None when a POST's answer was lost (502, 504, read timeout) and
        `reconcile()` (a read of the state) shows that it was carried out. Without `reconcile` such a POST
        raises, flagged `may_have_applied`.
        """
        method = method.upper()
        url = self.url(path)
        idempotent = method in IDEMPOTENT_METHODS
        last_retry_after: float | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            failure: Failure | None = None
            retry_after: float | None = None
            try:
                response = self.session.request(
                    method, url, params=params, json=json, data=data, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                safe = idempotent or _never_sent(exc)
                failure = TransportError(
                    f"{method} {url}: {type(exc).__name__}: {exc}",
                    method=method,
                    url=url,
                    attempts=attempt,
                    may_have_applied=not safe,
                )
                reason = type(exc).__name__
            else:
                if response.ok:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    last_retry_after = retry_after
                safe = idempotent or response.status_code in REFUSED_STATUSES
                failure = api_error_from_response(
                    response,
                    method=method,
                    url=url,
                    attempts=attempt,
                    retry_after=last_retry_after,
                    may_have_applied=not safe and response.status_code in self.retry.statuses,
                )
                if response.status_code not in self.retry.statuses:
                    raise failure
                reason = f"HTTP {response.status_code}"
            if not safe:
                if reconcile is None:
                    raise failure
                if reconcile():
                    log.info("event=reconciled method=%s url=%s reason=%r", method, url, reason)
                    return None
                failure.may_have_applied = False  # the state shows it did not
            if attempt == self.retry.max_attempts:
                raise failure
            delay = self._delay(attempt, retry_after, failure)
            event = RetryEvent(method, url, attempt, reason, delay, retry_after)
            log.warning(
                "event=retry method=%s url=%s attempt=%d reason=%r delay=%.2f retry_after=%s",
                method,
                url,
                attempt,
                reason,
                delay,
                retry_after,
            )
            if self.retry.on_retry is not None:
                self.retry.on_retry(event)
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None, failure: Failure) -> float:
        if retry_after is None:
            return self.retry.backoff(attempt, self._rng)
        if retry_after > self.retry.retry_after_max:
            # Waiting that long inside one call helps nobody: give the caller the error and the wait.
            raise failure
        return retry_after

    def call_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call whose answer is a JSON object (no `reconcile`, so a response or an exception)."""
        response = self.request(method, path, **kwargs)
        assert response is not None
        return _json_body(response, method=method.upper(), url=self.url(path))

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.call_json("GET", path, params=params)

    def paginate(
        self, path: str, key: str, params: Mapping[str, Any] | None = None, *, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, page by page over `limit`/`offset` until `_metadata.totalCount`."""
        offset = 0
        while True:
            body = self.get_json(path, {**(params or {}), "limit": page_size, "offset": offset})
            items = body.get(key) or []
            yield from items
            # Advance by what came back, not by `limit`: the API may cap the page size below what was asked.
            offset += len(items)
            total = (body.get("_metadata") or {}).get("totalCount")
            if not items or not isinstance(total, int) or offset >= total:
                return


def _json_body(response: requests.Response, *, method: str, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise ProtocolError(
            f"{method} {url}: HTTP {response.status_code} with a body that is not JSON"
        ) from exc
    if not isinstance(body, dict):
        raise ProtocolError(f"{method} {url}: expected a JSON object, got {type(body).__name__}")
    return body
