"""Flush slots: the aggregator writes a statistic at its flush offset plus the multiples of its flush
interval on the wall clock, and agents send it just before those slots. Statistics have different
offsets (statistics.SLOT_SPREAD), so a fleet's sends are spread over the agents' ticks instead of
all statistics of all agents arriving together. With the agent's interval dividing the
statistic's (5 s and 30 s), a line then waits at most one statistic flush interval plus the agent's
lead and the transaction, instead of the agent's interval on top (clocks synchronised by NTP)."""

from __future__ import annotations

import time


def until_slot(interval: float, lead: float = 0.0, offset: float = 0.0) -> float:
    """Seconds until the next `offset` + a multiple of `interval` on the wall clock, less `lead`
    (never 0)."""
    wait = (offset - time.time() - lead) % interval
    return wait or interval


def next_slot(after: float, interval: float, offset: float = 0.0) -> float:
    """The first wall-clock time `offset` + a multiple of `interval` that is later than `after`."""
    return after + ((offset - after) % interval or interval)
