"""Flush slots: the aggregator writes a statistic at the multiples of its flush interval on the wall
clock, and agents send just before the multiples of theirs. With the agent's interval dividing the
statistic's (5 s and 30 s), a line then waits at most one statistic flush interval plus the agent's
lead and the transaction, instead of the agent's interval on top (clocks synchronised by NTP)."""

from __future__ import annotations

import time


def until_slot(interval: float, lead: float = 0.0) -> float:
    """Seconds until the next multiple of `interval` on the wall clock, less `lead` (never 0)."""
    wait = -(time.time() + lead) % interval
    return wait or interval
