"""What the aggregator holds of a statistic between two writes: the accepted deltas of every agent
summed into one accumulator (bounded by the distinct keys, not by agents x batches), and per agent the
chain of positions they cover (from where its checkpoint stood to where its last delta ends).

Sums stay below MAX_COUNTER (2^62): a delta that would push a key past it is refused before it is
added, so nothing wraps in RAM and a sum added to a database row below 2^62 cannot wrap either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from streamstats.aggregate import TOP_CANDIDATES, merge, owned
from streamstats.protocol import MAX_COUNTER
from streamstats.statistics import BUCKET_COLUMN, Statistic

# Parts of a statistic's generation from which the flusher thread merges them.
COMPACT_PARTS = 16


@dataclass
class Chain:
    """One agent's accepted deltas of a statistic: from position `start` to `end`, the last of them
    sent by run `run` as batch `seq`."""

    start: str
    end: str
    run: str
    seq: int


class Overflow(ValueError):
    """Adding the delta would take a sum to MAX_COUNTER or beyond."""


def peak(frame: pl.DataFrame, stat: Statistic) -> int:
    """The largest counter of the frame (0 when empty)."""
    if frame.is_empty():
        return 0
    return int(frame.select(pl.max_horizontal(pl.col(list(stat.value_columns)).max())).item())


def overflowing_keys(stat: Statistic, held: pl.DataFrame, delta: pl.DataFrame, limit: int) -> int:
    """How many keys of `delta` would reach `limit` once added to `held` (computed without adding)."""
    keys = [BUCKET_COLUMN, *stat.key_columns]
    joined = delta.join(held, on=keys, how="inner", suffix="_held")
    if joined.is_empty():
        return 0
    crossing = pl.any_horizontal(
        pl.col(c) >= pl.lit(limit, pl.Int64) - pl.col(f"{c}_held") for c in stat.value_columns
    )
    return joined.filter(crossing).height


@dataclass
class Pending:
    """One generation of a statistic's accepted deltas: the agents' frames as they came, merged in the
    background (`take_parts` / `give_merged`, outside the aggregator's lock) so that a request only
    appends; what it holds stays bounded by the distinct keys (and by max_pending_rows meanwhile)."""

    stat: Statistic
    parts: list[pl.DataFrame] = field(default_factory=list)
    merging: list[pl.DataFrame] = field(default_factory=list)  # taken by a compaction in progress
    chains: dict[str, Chain] = field(default_factory=dict)
    bound: int = 0  # no key's sum is above this
    rows: int = 0

    def _exact(self) -> pl.DataFrame:
        return merge(self.stat, [*self.merging, *self.parts])

    def check(self, delta: pl.DataFrame, top: int) -> None:
        """Overflow unless adding the delta, whose largest counter is `top`, keeps every sum below
        MAX_COUNTER. Arithmetic in the common case (an upper bound), exact when the bound is not enough."""
        if self.bound + top < MAX_COUNTER:
            return
        held = self._exact()
        self.bound = peak(held, self.stat)
        if self.bound + top < MAX_COUNTER:
            return
        crossing = overflowing_keys(self.stat, held, delta, MAX_COUNTER)
        if crossing:
            raise Overflow(f"{crossing} sums would reach {MAX_COUNTER}")

    def add(self, agent: str, chain: Chain, delta: pl.DataFrame, top: int) -> None:
        """Add a delta `check` accepted, continuing (or starting) the agent's chain."""
        if not delta.is_empty():
            self.parts.append(delta)
            self.rows += delta.height
        self.bound += top
        held = self.chains.get(agent)
        self.chains[agent] = Chain(held.start if held else chain.start, chain.end, chain.run, chain.seq)

    def take_parts(self, at_least: int) -> list[pl.DataFrame]:
        """The parts to merge, when there are `at_least` (under the lock; none while one merge runs)."""
        if self.merging or len(self.parts) < at_least:
            return []
        self.merging, self.parts = self.parts, []
        return self.merging

    def give_merged(self, merged: pl.DataFrame) -> None:
        """The merge of what `take_parts` gave (under the lock)."""
        self.rows += merged.height - sum(f.height for f in self.merging)
        self.parts.insert(0, merged)
        self.merging = []

    def rows_to_write(self) -> pl.DataFrame:
        """The sums as written: a top-N statistic keeps its N leaders per bucket and key."""
        top_keep = self.stat.top.n if self.stat.top else None
        return merge(self.stat, [*self.merging, *self.parts], top_keep)


def merged_parts(stat: Statistic, parts: list[pl.DataFrame]) -> pl.DataFrame:
    """A compaction's result: a top-N statistic keeps TOP_CANDIDATES x N candidates per group."""
    top_keep = stat.top.n * TOP_CANDIDATES if stat.top else None
    return owned(merge(stat, parts, top_keep, engine="streaming"))
