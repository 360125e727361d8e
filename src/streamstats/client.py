"""The agent's side of the protocol: fetch positions, post batches. No retries here: the agent decides
when to try again (it keeps reading meanwhile)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamstats.protocol import V2_CONTENT_TYPE, compress

if TYPE_CHECKING:
    import requests


class AggregatorError(RuntimeError):
    """The aggregator could not be reached or refused the request."""

    def __init__(self, message: str, status: int = 0, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass
class AggregatorClient:
    url: str
    agent: str
    token: str
    timeout: float
    ca_file: str = ""  # for https: the CA the aggregator's certificate must chain to
    _session: requests.Session | None = field(default=None, init=False, repr=False)

    @property
    def session(self) -> requests.Session:
        # Imported at the first request: an agent that only prints (--once --output json) never sends,
        # and requests takes 40 ms of CPU to import.
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.headers["Authorization"] = f"Bearer {self.token}"
            # What a balancer in front of several aggregator processes routes by (consistently).
            self._session.headers["X-Streamstats-Agent"] = self.agent
        return self._session

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import requests

        try:
            response = self.session.request(
                method,
                self.url + path,
                timeout=(min(self.timeout, 5.0), self.timeout),
                # Per request: a session's `verify` gives way to REQUESTS_CA_BUNDLE from the environment.
                verify=self.ca_file or True,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise AggregatorError(f"{method} {path}: {exc.__class__.__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200]}
        if response.status_code != 200:
            raise AggregatorError(
                f"{method} {path}: HTTP {response.status_code} {body.get('error', '')}",
                response.status_code,
                body,
            )
        return body

    def positions(self, agent: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/agents/{agent}/positions")

    def post_batch(self, body: bytes, version: int) -> dict[str, Any]:
        data, headers = compress(body)
        headers["Content-Type"] = V2_CONTENT_TYPE if version == 2 else "application/json"
        return self._request("POST", f"/v{version}/batches", data=data, headers=headers)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
