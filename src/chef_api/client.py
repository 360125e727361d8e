"""A signed-request client for the Chef Infra Server API (and goiardi) on a requests Session."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from chef_api.errors import ChefConnectionError, ChefNotFoundError, ChefSigningError, api_error
from chef_api.signing import DEFAULT_SIGN_VERSION, Signer, check_version, load_private_key

# 1 is what both erchef (0..2) and goiardi (0..1) accept; it returns client keys as `chef_key`.
DEFAULT_SERVER_API_VERSION = "1"
# The API docs say X-Chef-Version must be set; nothing enforces a value.
CHEF_VERSION = "18.0.0"
# Safe to send twice: a repeated GET/HEAD reads again, a repeated PUT writes the same full object.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_RETRY_AFTER = 30.0

log = logging.getLogger("chef_api")


# Chef's names of API clients, data bags and data bag items (Chef::ApiClient, Chef::DataBag VALID_NAME,
# Chef::DataBagItem VALID_ID; goiardi enforces the same): letters, digits, '_', '-', '.'.
_VALID_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def check_name(kind: str, value: str) -> str:
    """The value, or a ValueError naming what is wrong, before any request carries it."""
    if not _VALID_NAME.fullmatch(value):
        raise ValueError(f"{kind} {value!r} may contain only letters A-Z and a-z, digits, '_', '-' and '.'")
    return value


def path_segment(name: str) -> str:
    """One URL path segment (a node, client, bag or item name), percent-encoded."""
    return quote(name, safe="")


@dataclass(frozen=True)
class ChefSettings:
    """Where the server is and how to authenticate; what modules and the inventory plugin take as options."""

    server_url: str
    client_name: str
    client_key: str | None = None
    client_key_content: str | None = field(default=None, repr=False)
    sign_version: str = DEFAULT_SIGN_VERSION
    server_api_version: str = DEFAULT_SERVER_API_VERSION
    validate_certs: bool = True
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5

    def key_pem(self) -> bytes:
        if self.client_key_content:
            return self.client_key_content.encode("ascii", "replace")
        if not self.client_key:
            raise ChefSigningError("no client key: set client_key (a path) or client_key_content")
        try:
            return Path(self.client_key).expanduser().read_bytes()
        except OSError as exc:
            raise ChefSigningError(
                f"cannot read the client key file {self.client_key}: {exc.strerror}"
            ) from None

    def signer(self) -> Signer:
        if not self.client_name:
            raise ChefSigningError("no client name: set client_name")
        return Signer(
            user_id=self.client_name,
            key=load_private_key(self.key_pem()),
            version=check_version(self.sign_version),
            server_api_version=str(self.server_api_version),
        )


@dataclass(frozen=True)
class ChefResponse:
    status: int
    data: Any
    headers: Mapping[str, str]
    request_id: str


def _error_details(response: requests.Response) -> tuple[list[str], str | None]:
    """The server's messages and error code from `{"error": [...]}` or `{"error": code, "message": ...}`."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return ([text[:300]] if text else []), None
    if not isinstance(data, dict):
        return [str(data)[:300]], None
    error, message = data.get("error"), data.get("message")
    if isinstance(error, list):
        return [str(e) for e in error], None
    if isinstance(error, str):
        return [str(message) if message else error], error
    return ([str(message)] if message else [json.dumps(data)[:300]]), None


class ChefClient:
    """Signed requests against one server base URL, with or without `/organizations/ORG`.

    Paths are relative to the base URL (`nodes/web1`); the signature covers the full request path.
    Idempotent requests are retried on connection errors and on 429/502/503/504, each attempt signed
    anew so its timestamp stays fresh.
    """

    def __init__(
        self,
        server_url: str,
        signer: Signer,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        verify: bool | str = True,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(server_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"server_url must be an http(s) URL, got {server_url!r}")
        self.base_url = server_url.rstrip("/")
        self.signer = signer
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.verify = verify
        self.session = session or requests.Session()
        # Learnt from the first response: goiardi announces itself with X-Goiardi.
        self.is_goiardi: bool | None = None

    @classmethod
    def from_settings(cls, settings: ChefSettings) -> ChefClient:
        return cls(
            settings.server_url,
            settings.signer(),
            timeout=settings.timeout,
            retries=settings.retries,
            backoff=settings.backoff,
            verify=settings.validate_certs,
        )

    def __enter__(self) -> ChefClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def wire_path(self, path: str) -> str:
        """The path as requests sends it (percent-encoded), which is what the error reports."""
        return urlsplit(requests.utils.requote_uri(self.url(path))).path

    def _prepare(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: bytes, request_id: str
    ) -> requests.PreparedRequest:
        prepared = self.session.prepare_request(
            requests.Request(method, self.url(path), params=params, data=body or None)
        )
        # Sign exactly the path that goes on the wire (the query string is never signed).
        prepared.headers.update(self.signer.headers(method, urlsplit(prepared.url).path, body))
        prepared.headers.update(
            {
                "Accept": "application/json",
                "X-Chef-Version": CHEF_VERSION,
                "X-Ops-Server-API-Version": self.signer.server_api_version,
                "X-Remote-Request-Id": request_id,
            }
        )
        if body:
            prepared.headers["Content-Type"] = "application/json"
        return prepared

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        if retry_after.isdigit():
            return min(float(retry_after), _MAX_RETRY_AFTER)
        return self.backoff * (2**attempt)

    def _send(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: bytes, retry: bool
    ) -> tuple[requests.Response, str]:
        request_id = str(uuid.uuid4())
        settings = self.session.merge_environment_settings(self.url(path), {}, None, self.verify, None)
        retries_left = self.retries if retry else 0
        attempt = 0
        while True:
            response = None
            try:
                response = self.session.send(
                    self._prepare(method, path, params, body, request_id), timeout=self.timeout, **settings
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == retries_left:
                    failure = f"{type(exc).__name__} after {attempt + 1} attempt(s)"
                    raise ChefConnectionError(f"{method} {self.url(path)}: {failure}: {exc}") from None
            else:
                log.debug(
                    "chef_request method=%s url=%s status=%s attempt=%d request_id=%s",
                    method,
                    self.url(path),
                    response.status_code,
                    attempt + 1,
                    request_id,
                )
                if response.status_code not in RETRY_STATUSES or attempt == retries_left:
                    return response, request_id
            time.sleep(self._delay(attempt, response))
            attempt += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> ChefResponse:
        """One API call; raises a ChefAPIError subclass for any status >= 400.

        `idempotent` overrides the method's default for retries (partial search is a POST that only reads).
        """
        method = method.upper()
        # Serialised once: the bytes hashed into the signature are the bytes sent.
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode("utf-8")
        retry = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        response, request_id = self._send(method, path, params, body, retry)
        self.is_goiardi = "X-Goiardi" in response.headers
        request_id = response.headers.get("X-Request-Id", request_id)
        if response.status_code >= 400:
            errors, code = _error_details(response)
            raise api_error(
                response.status_code,
                method,
                self.wire_path(path),
                errors,
                code=code,
                request_id=request_id,
            )
        data = None
        if response.content and method != "HEAD":
            try:
                data = response.json()
            except ValueError:
                data = response.text
        return ChefResponse(response.status_code, data, response.headers, request_id)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).data

    def post(
        self, path: str, body: Any, params: Mapping[str, Any] | None = None, *, idempotent: bool = False
    ) -> Any:
        return self.request("POST", path, params=params, json_body=body, idempotent=idempotent).data

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json_body=body).data

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path).data

    def get_or_none(self, path: str) -> Any:
        """The object at path, or None when the server answers 404."""
        try:
            return self.get(path)
        except ChefNotFoundError:
            return None

    def __repr__(self) -> str:
        return f"ChefClient({self.base_url!r}, {self.signer!r})"
