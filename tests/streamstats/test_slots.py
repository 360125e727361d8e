"""Flush slots on the wall clock: a statistic's slots are its flush offset plus multiples of its
interval; agents send just before them and the aggregator writes at them."""

from __future__ import annotations

import pytest

from streamstats import slots


@pytest.mark.parametrize(
    ("after", "interval", "offset", "slot"),
    [
        (1000.0, 30, 0, 1020.0),  # the next multiple
        (1020.0, 30, 0, 1050.0),  # strictly later: a slot that is now is past
        (1000.0, 30, 25, 1015.0),  # 25 s into the interval
        (1016.0, 30, 25, 1045.0),
        (1000.0, 120, 10, 1090.0),  # 1090 = 9 x 120 + 10
        (1089.5, 120, 10, 1090.0),
    ],
)
def test_next_slot(after, interval, offset, slot):
    assert slots.next_slot(after, interval, offset) == slot


def test_until_slot_counts_the_lead_and_the_offset(monkeypatch):
    monkeypatch.setattr(slots.time, "time", lambda: 1000.0)
    assert slots.until_slot(30) == 20.0
    assert slots.until_slot(30, lead=2.0) == 18.0
    assert slots.until_slot(30, offset=25) == 15.0
    assert slots.until_slot(30, lead=2.0, offset=25) == 13.0
    assert slots.until_slot(30, offset=10) == 30.0  # at a slot: the next one, never 0
