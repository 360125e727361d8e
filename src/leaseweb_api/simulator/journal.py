"""The last requests and answers, for tests and operators to inspect (`GET /_simulator/exchanges`).

The API key is never kept: its header is recorded as "[redacted]" so that the exchange still shows it was
sent.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"x-lsw-auth", "authorization"})


@dataclass(frozen=True)
class Exchange:
    correlation_id: str
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    response_headers: dict[str, str]
    response_body: str
    fault: dict[str, Any] | None


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: REDACTED if name.lower() in SECRET_HEADERS else value for name, value in headers.items()}


class Journal:
    def __init__(self, size: int):
        self._entries: deque[Exchange] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._entries.append(exchange)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
