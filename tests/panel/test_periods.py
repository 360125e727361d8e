"""The billing arithmetic and the range picker, without I/O."""

from __future__ import annotations

import calendar
import math
import random

import pytest

from cdnpanel.periods import (
    Month,
    RangeError,
    billing_intervals,
    parse_month,
    parse_range,
    percentile_95,
    step_for,
)


def nearest_rank(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def test_p95_discards_the_top_five_percent():
    samples = [float(v) for v in range(1, 101)]  # 100 intervals, all with traffic
    assert percentile_95(samples, 100) == 95.0
    random.Random(3).shuffle(samples)
    assert percentile_95(samples, 100) == 95.0


def test_p95_counts_intervals_without_traffic_as_zero():
    # 20 busy intervals out of 100: the 95th is the 15th busiest of them from the bottom
    busy = [float(v) for v in range(1, 21)]
    assert percentile_95(busy, 100) == nearest_rank(busy + [0.0] * 80) == 15.0
    # at most 5 % busy: the 95th percentile is 0 (the bursts are free)
    assert percentile_95([1e9] * 5, 100) == 0.0
    assert percentile_95([1e9] * 6, 100) == 1e9


@pytest.mark.parametrize("seed", range(20))
def test_p95_equals_nearest_rank_of_the_padded_samples(seed: int):
    rng = random.Random(seed)
    intervals = rng.randint(1, 9000)
    samples = [rng.expovariate(1e-6) for _ in range(rng.randint(0, intervals))]
    assert percentile_95(samples, intervals) == nearest_rank(samples + [0.0] * (intervals - len(samples)))


def test_p95_edge_cases():
    assert percentile_95([], 0) == 0.0
    assert percentile_95([5.0], 1) == 5.0
    with pytest.raises(ValueError):
        percentile_95([1.0, 2.0], 1)


def test_months_are_utc_calendar_months():
    feb = Month(2028, 2)
    assert feb.days == 29 and feb.start == calendar.timegm((2028, 2, 1, 0, 0, 0))
    assert feb.end == calendar.timegm((2028, 3, 1, 0, 0, 0))
    assert Month(2026, 12).next() == Month(2027, 1) and Month(2027, 1).previous() == Month(2026, 12)
    assert str(Month(2026, 3)) == "2026-03"
    assert parse_month("2026-11", 0) == Month(2026, 11)
    assert parse_month(None, calendar.timegm((2026, 12, 2, 15, 0, 0))) == Month(2026, 12)
    for bad in ("2026-13", "2026-1", "26-11", "x"):
        with pytest.raises(RangeError):
            parse_month(bad, 0)


def test_billing_intervals_of_a_finished_and_a_current_month():
    nov = Month(2026, 11)
    assert billing_intervals(nov, None) == 30 * 288
    assert billing_intervals(nov, nov.end + 3600) == 30 * 288
    # the current month counts the intervals begun before the data is complete
    assert billing_intervals(nov, nov.start + 3600 + 1) == 13
    assert billing_intervals(nov, nov.start + 3600) == 12
    assert billing_intervals(nov, nov.start - 10) == 0


def test_fixed_ranges_end_after_now_at_their_resolution():
    now = calendar.timegm((2026, 12, 2, 15, 7, 31))
    hour = parse_range("hour", None, None, now)
    assert (hour.step, hour.end - hour.start, hour.end) == (60, 3600, now - 31 + 60)
    assert len(hour.points) == 60
    day = parse_range(None, None, None, now)
    assert day.name == "day" and day.step == 300 and day.end % 300 == 0 and day.end > now
    assert parse_range("week", None, None, now).step == 3600


def test_custom_ranges():
    rng = parse_range("custom", "2026-11-01T00:00", "2026-11-03T00:00Z", 0)
    assert rng.start == calendar.timegm((2026, 11, 1, 0, 0, 0)) and rng.step == 300
    assert len(rng.points) <= 750
    assert step_for(400 * 86400) == 86400
    for start, end in (("2026-11-02", "2026-11-01"), ("nope", "2026-11-01"), ("2020-01-01", "2026-01-01")):
        with pytest.raises(RangeError):
            parse_range("custom", start, end, 0)
    with pytest.raises(RangeError):
        parse_range("year", None, None, 0)
