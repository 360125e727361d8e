"""When and how long the client waits before sending a request again.

LeaseWeb documents no rate limits, but its gateway can time out (504) and answer 502/503; 429 is handled in
case it appears. GET, PUT and DELETE are retried on all of these and on connection errors. A POST (lease,
power, job) is sent again only when it cannot have been carried out: 429 and 503 (refused before processing)
and connection errors before the request left. After 502, 504 or a read timeout a POST may have been applied,
so the client re-reads the state first (see `Transport.request`'s `reconcile`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A POST answered with one of these was refused before it was processed, so sending it again is safe.
REFUSED_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen: what failed and how long the client waits."""

    method: str
    url: str
    attempt: int
    reason: str
    delay: float
    retry_after: float | None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; `Retry-After` wins when the API sends it."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    statuses: frozenset[int] = RETRY_STATUSES
    on_retry: Callable[[RetryEvent], None] | None = field(default=None, compare=False)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Equal jitter: half the capped exponential step, plus a random part of the other half."""
        step = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return step / 2 + rng.uniform(0, step / 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
