"""A small client of Redmine's REST API (https://www.redmine.org/projects/redmine/wiki/Rest_api): read an
issue with its journals, list the issue statuses, add a note (and change the status) to an issue."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class RedmineError(Exception):
    """Redmine answered with an error: `status` and its messages (`{"errors": [...]}` on 422)."""

    def __init__(self, message: str, *, status: int | None = None, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class RedmineUnavailableError(RedmineError):
    """Redmine cannot be reached, or answers 5xx: try again later."""


class RedmineClient:
    """Requests authenticated with an API key (X-Redmine-API-Key), with timeouts. Connection failures are
    retried for every method (nothing was sent); 502/503/504 only for GET, since a repeated PUT of a note
    would add it twice."""

    def __init__(
        self, url: str, api_key: str, *, timeout: float = 10.0, retries: int = 2, verify: bool | str = True
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the Redmine URL must be an http(s) URL, got {url!r}")
        if not api_key:
            raise ValueError("no Redmine API key (My account, API access key)")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.verify = verify
        self.session.headers.update({"X-Redmine-API-Key": api_key, "Accept": "application/json"})
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,
            status=retries,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            backoff_factor=0.3,
            raise_on_status=False,
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def __enter__(self) -> RedmineClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"RedmineClient({self.url!r})"

    def _request(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = f"{self.url}/{path}"
        try:
            response = self.session.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RedmineUnavailableError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise RedmineUnavailableError(
                f"{method} {url}: HTTP {response.status_code}", status=response.status_code
            )
        if response.status_code >= 400 and response.status_code != 404:
            errors = _errors(response)
            detail = "; ".join(errors) or response.reason
            raise RedmineError(
                f"{method} {url}: HTTP {response.status_code}: {detail}",
                status=response.status_code,
                errors=errors,
            )
        return response

    def issue(self, number: int) -> dict[str, Any] | None:
        """The issue with its journals (notes), or None if there is none (or it is not visible)."""
        response = self._request("GET", f"issues/{int(number)}.json?include=journals")
        return None if response.status_code == 404 else response.json()["issue"]

    def statuses(self) -> dict[str, int]:
        return {
            s["name"]: s["id"] for s in self._request("GET", "issue_statuses.json").json()["issue_statuses"]
        }

    def add_note(self, number: int, notes: str, *, status_id: int | None = None) -> None:
        issue: dict[str, Any] = {"notes": notes}
        if status_id is not None:
            issue["status_id"] = status_id
        response = self._request("PUT", f"issues/{int(number)}.json", {"issue": issue})
        if response.status_code == 404:
            raise RedmineError(f"issue #{number} does not exist (or is not visible to this key)", status=404)


def _errors(response: requests.Response) -> list[str]:
    try:
        data = response.json()
    except ValueError:
        return [response.text.strip()[:300]] if response.text.strip() else []
    errors = data.get("errors") if isinstance(data, dict) else None
    return [str(e) for e in errors] if isinstance(errors, list) else []
