"""The counts of one batch: every statistic of a set, counted chunk by chunk.

Statistics are counted by groups, one per grouping: numpy's dense counters (`streamstats.dense`) for
all but the top-N ones, rows of integers merged by sorting (`streamstats.top`) for those. What a group
hands over (a chunk it cannot count, or its counts when its layout has to change) goes to the polars
path (`streamstats.aggregate`). Both give the same rows: `take` merges what the two hold for a
statistic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from streamstats.aggregate import Accumulator, Engine, Grouping, grouping, owned
from streamstats.dense import ChunkColumns, Codes, DenseGroup, DictionaryCodes, Unsupported, new_codes
from streamstats.native import NativeChunkParser
from streamstats.parse import ChunkParser, ParsedChunk
from streamstats.statistics import Statistic
from streamstats.top import TopGroup

if TYPE_CHECKING:  # the extension built (no Dictionary is made otherwise)
    from streamstats.native import Dictionary


class Counters:
    """The counters of a statistic set since each statistic's last batch; every `take` starts the
    groups afresh, and with them the numbering of the key columns, so that the dictionaries never
    outgrow a batch. With the native parser, `parse` has it number the string key columns into the
    batch's dictionaries (C); with the polars parser they are numbered by polars casts."""

    def __init__(self, engine: Engine, parser: ChunkParser | NativeChunkParser) -> None:
        self.engine = engine
        self.parser = parser
        self.native = isinstance(parser, NativeChunkParser)
        fmt = engine.stats.format
        self._nullable = {f.name for f in fmt.fields if not f.required and f.type in ("int", "duration")}

        self.codes: dict[str, Codes] = self._new_codes()
        self.groups: dict[tuple[Grouping, tuple[str, ...]], DenseGroup | TopGroup] = {}
        self.acc = {s.name: Accumulator(s) for s in self.engine.stats.statistics}

    def _new_codes(self) -> dict[str, Codes]:
        """A numbering of every key the groups count by (made before the batch's first chunk is
        parsed: the native parser fills the dictionaries)."""
        keys = {f.name: f for s in self.engine.stats.statistics for f in s.keys}
        return {name: new_codes(field, self.native) for name, field in keys.items()}

    @property
    def dictionaries(self) -> dict[str, Dictionary]:
        """The batch's dictionaries of string keys, by field."""
        return {n: c.dictionary for n, c in self.codes.items() if isinstance(c, DictionaryCodes)}

    def parse(self, chunk: bytes) -> ParsedChunk:
        """A chunk parsed for `add`: by the native parser with the batch's dictionaries, when it is one."""
        if isinstance(self.parser, NativeChunkParser):
            return self.parser.parse(chunk, self.dictionaries)
        return self.parser.parse(chunk)

    def _group(self, group: Grouping, members: list[Statistic]) -> DenseGroup | TopGroup:
        # Keyed by the members too: a statistic that starts counting later (it waited for its position)
        # gets a group of its own, so that one group's counters always cover the same lines.
        key = (group, tuple(s.name for s in members))
        if key not in self.groups:
            if members[0].top:
                self.groups[key] = TopGroup(group, members, self._nullable, self.native)
            else:
                self.groups[key] = DenseGroup(group, members, self._nullable)
        return self.groups[key]

    def _hand_over(self, counted: DenseGroup | TopGroup) -> None:
        for stat, frame in counted.take(self.codes):
            self.acc[stat.name].add(frame)

    def _count_group(self, counted: DenseGroup | TopGroup, lines: ChunkColumns) -> bool:
        try:
            if counted.count(lines, self.codes):
                return True
            self._hand_over(counted)
            return counted.count(lines, self.codes)
        except Unsupported:
            return False

    def add(
        self,
        frame: pl.DataFrame,
        stats: Iterable[Statistic],
        constants: dict[str, str],
        numbered: dict[str, np.ndarray | None] | None = None,
    ) -> None:
        """Count a parsed chunk for each statistic in `stats`; `numbered`: its key columns the native
        parser numbered into this batch's dictionaries (`ParsedChunk.codes` of `parse`)."""
        if frame.is_empty():
            return
        groups: dict[Grouping, list[Statistic]] = {}
        for stat in stats:
            groups.setdefault(grouping(stat), []).append(stat)
        lines = ChunkColumns(frame, constants, self.codes, self.engine.lengths, numbered or {})
        other: list[Statistic] = []
        for group, members in groups.items():
            if not self._count_group(self._group(group, members), lines):
                other += members
        for name, part in self._count_polars(lines, other).items():
            self.acc[name].add(part)

    def _count_polars(self, lines: ChunkColumns, stats: list[Statistic]) -> dict[str, pl.DataFrame]:
        """The polars path (what the groups could not count), over frames
        of just the columns (and the sampled lines) its group-bys read."""
        groups = self.engine.groups(stats)
        frames: dict[tuple[int, str] | None, pl.LazyFrame] = {}
        for group in groups:
            if group.sample not in frames:
                members = [s for g, m in groups.items() if g.sample == group.sample for s in m]
                frames[group.sample] = lines.subset(members, group.sample).lazy()
        if not groups:
            return {}
        return {name: owned(part) for name, part in self.engine.collect(groups, frames).items()}

    @property
    def rows(self) -> int:
        return sum(acc.rows for acc in self.acc.values()) + sum(g.rows for g in self.groups.values())

    def take(self, names: Iterable[str] | None = None) -> dict[str, pl.DataFrame]:
        """The rows since their last take of the statistics `names` (all by default). The others'
        counts stay, as frames: the groups and the key numbering start afresh either way."""
        wanted = set(self.acc if names is None else names)
        grouped: dict[str, list[pl.DataFrame]] = {}
        for group in self.groups.values():
            for stat, frame in group.take(self.codes):
                grouped.setdefault(stat.name, []).append(frame)
        out = {}
        for stat in self.engine.stats.statistics:
            parts, acc = grouped.get(stat.name, []), self.acc[stat.name]
            if stat.name in wanted and len(parts) == 1 and not acc.rows:
                out[stat.name] = parts[0]  # the cells of one group are distinct already
                continue
            for part in parts:
                acc.add(part)
            if stat.name in wanted:
                out[stat.name] = acc.take()
        self.codes, self.groups = self._new_codes(), {}
        return out
