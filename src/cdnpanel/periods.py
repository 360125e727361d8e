"""Time ranges and billing arithmetic, free of I/O: the range picker's ranges and their resolution,
UTC calendar months, the 95th percentile of 5-minute bandwidth, units for display."""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

FIVE_MINUTES = 300
# The range picker: (name, length in seconds, resolution in seconds).
RANGES: dict[str, tuple[int, int]] = {
    "hour": (3600, 60),
    "day": (86400, 300),
    "week": (7 * 86400, 3600),
    "month": (30 * 86400, 3 * 3600),
}
STEPS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400)
MAX_POINTS = 750
MONTH = re.compile(r"(\d{4})-(\d{2})")


class RangeError(ValueError):
    """A range or month the panel cannot show."""


@dataclass(frozen=True)
class TimeRange:
    name: str  # hour, day, week, month, custom
    start: int  # epoch seconds, inclusive, a multiple of step
    end: int  # epoch seconds, exclusive, a multiple of step
    step: int  # resolution of the series, seconds

    @property
    def points(self) -> list[int]:
        return list(range(self.start, self.end, self.step))

    def label(self) -> str:
        return f"{fmt_time(self.start)} \u2013 {fmt_time(self.end)} UTC"


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def start(self) -> int:
        return calendar.timegm((self.year, self.month, 1, 0, 0, 0))

    @property
    def end(self) -> int:
        return self.next().start

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def fmt_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def month_of(epoch: float) -> Month:
    moment = datetime.fromtimestamp(epoch, UTC)
    return Month(moment.year, moment.month)


def parse_month(text: str | None, now: float) -> Month:
    if not text:
        return month_of(now)
    match = MONTH.fullmatch(text)
    if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
        raise RangeError(f"month {text!r}: expected YYYY-MM")
    return Month(int(match[1]), int(match[2]))


def _parse_time(text: str, what: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise RangeError(f"{what} {text!r}: expected YYYY-MM-DDTHH:MM (UTC)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def step_for(span: int) -> int:
    """The finest resolution that keeps a series under MAX_POINTS points."""
    return next((s for s in STEPS if span / s <= MAX_POINTS), STEPS[-1])


def parse_range(name: str | None, start: str | None, end: str | None, now: float) -> TimeRange:
    """The range picker's choice. Fixed ranges end at the next step boundary after `now`, so the last
    point is the current, still-filling interval."""
    name = name or "day"
    if name in RANGES:
        length, step = RANGES[name]
        stop = (int(now) // step + 1) * step
        return TimeRange(name, stop - length, stop, step)
    if name != "custom":
        raise RangeError(f"range {name!r}: one of {', '.join([*RANGES, 'custom'])}")
    first = _parse_time(start or "", "from")
    last = _parse_time(end or "", "to")
    if last <= first:
        raise RangeError("the end of a custom range must be after its start")
    if last - first > 400 * 86400:
        raise RangeError("a custom range is at most 400 days")
    step = step_for(last - first)
    return TimeRange("custom", first // step * step, -(-last // step) * step, step)


def percentile_95(samples: Sequence[float], intervals: int) -> float:
    """The 95th percentile the way burstable billing counts it: every 5-minute interval of the period
    is a sample (intervals without traffic are 0), sorted; the top 5 % are discarded and the highest
    remaining sample is the figure (nearest rank: the ceil(0.95 N)-th smallest). `samples` are the
    non-zero intervals; `intervals` is N."""
    if intervals <= 0:
        return 0.0
    if len(samples) > intervals:
        raise ValueError(f"{len(samples)} samples for {intervals} intervals")
    rank = math.ceil(0.95 * intervals)  # 1-based
    zeros = intervals - len(samples)
    if rank <= zeros:
        return 0.0
    return sorted(samples)[rank - zeros - 1]


def billing_intervals(month: Month, complete_up_to: float | None) -> int:
    """How many 5-minute intervals of the month are counted: all of a finished month; of the current
    month, those that began before the data is complete (so a partial month is not diluted by the
    intervals still to come)."""
    end = month.end
    if complete_up_to is not None and complete_up_to < end:
        end = max(month.start, -(-int(complete_up_to) // FIVE_MINUTES) * FIVE_MINUTES)
    return (end - month.start) // FIVE_MINUTES


def human_bits(bps: float) -> str:
    for unit, size in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= size:
            return f"{bps / size:.2f} {unit}"
    return f"{bps:.0f} bit/s"


def human_bytes(count: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return f"{count:.0f} B"
