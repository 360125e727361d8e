"""Counting the top-N statistics with numpy: one row of integers per line counted, merged by sorting,
cut to the leaders only when the batch is taken.

A top-N statistic groups the lines it counts (its sample, its filter) by bucket, keys and the top field,
whose values are many (URLs, referrers, client addresses): dense arrays of every combination do not fit,
and group-bys over strings cost the polars path most of its time. Here the keys are numbered as the
dense groups number them (`streamstats.dense`), and the top field through a numbering of its own, of
just the lines counted: a C `Dictionary` of the native parser (with the polars parser: a polars
`Categories` private to the group; an integer field: a table). Each chunk appends its lines as columns
of integers (bucket, key codes, top code: int32) with their sums (int64); when
they pile up, equal rows are summed: one int64 per row (its columns in mixed radix) argsorted, runs
reduced. At `take`, each bucket and key keeps its `top.n x TOP_CANDIDATES` leaders, and only their
values are spelled out as strings.

The polars path cuts to the leaders at each of its merges too; cutting once, at the end, keeps every
candidate of the batch, so the leaders here are the exact ones (ties at the cut broken arbitrarily, as
there). What does not fit (a NULL, too many distinct values or rows) goes to the polars path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import polars as pl

from streamstats.aggregate import TOP_CANDIDATES, Grouping
from streamstats.dense import (
    ChunkColumns,
    Codes,
    DictionaryCodes,
    Full,
    IntCodes,
    Source,
    StringCodes,
    Unsupported,
    key_columns,
    sources,
    value_arrays,
    value_columns,
)
from streamstats.statistics import BUCKET_COLUMN, Statistic, Top

# Distinct top values a group numbers (and their bytes, natively) before it hands its counts over and
# numbers afresh.
MAX_TOP_VALUES = 1 << 17
MAX_TOP_BYTES = 1 << 22
# Distinct rows a group holds before it hands its counts over.
MAX_TOP_ROWS = 1 << 21
# Rows appended since the last merge that start a merge (or the merged rows, when more).
MERGE_ROWS = 1 << 18


def sorted_runs(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order that sorts the rows of `columns` (columns x rows, int64) lexicographically, and where
    each run of equal rows starts in that order. One argsort of the rows in mixed radix while that fits
    an int64, a lexsort of the columns otherwise."""
    low, high = columns.min(axis=1).astype(np.int64), columns.max(axis=1).astype(np.int64)
    spans = [int(h - lo) + 1 for lo, h in zip(low, high, strict=True)]
    if math.prod(spans) < 1 << 63:
        key = columns[0] - low[0]
        for row, first, span in zip(columns[1:], low[1:], spans[1:], strict=True):
            key = key * span + (row - first)
        order = np.argsort(key)
        ordered = key[order]
        change = ordered[1:] != ordered[:-1]
    else:
        order = np.lexsort(columns[::-1])
        ordered = columns[:, order]
        change = (ordered[:, 1:] != ordered[:, :-1]).any(axis=0)
    return order, np.flatnonzero(np.concatenate(([True], change)))


def group_starts(columns: np.ndarray) -> np.ndarray:
    """Where a new bucket and key begins among sorted rows (columns x rows): a flag for each row but
    the first."""
    return (columns[:-1, 1:] != columns[:-1, :-1]).any(axis=0)


def first_value(stat: Statistic, counts: dict[Source, np.ndarray]) -> np.ndarray:
    """The statistic's first value column (what its leaders are ranked by), unweighted."""
    return next(value_arrays(stat.values[0], counts))[1]


def leaders(groups: np.ndarray, ranked: np.ndarray, keep: int) -> np.ndarray:
    """The rows with the `keep` largest `ranked` values of each group (`groups`: a group number per row,
    ascending from 0), in that order. One argsort of group x span + (largest - value) while that fits
    an int64, a lexsort otherwise."""
    if not len(groups):
        return np.empty(0, np.intp)
    largest = int(ranked.max())
    span = largest - int(ranked.min()) + 1
    if (int(groups[-1]) + 1) * span < 1 << 63:
        order = np.argsort(groups * span + (largest - ranked))
    else:
        order = np.lexsort((-ranked, groups))
    ordered = groups[order]
    first = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    sizes = np.diff(np.append(first, len(order)))
    place = np.arange(len(order)) - np.repeat(first, sizes)
    return order[place < keep]


class TopGroup:
    """The counts of the top-N statistics that share one grouping (bucket, keys, top field, filter,
    sampling): rows of integers, columns `bucket, key codes..., top code`, with one sum per source."""

    def __init__(self, group: Grouping, stats: list[Statistic], nullable: set[str], native: bool) -> None:
        top = stats[0].top
        assert top is not None
        self.group = group
        self.stats = stats
        self.keys = stats[0].keys
        self.top: Top = top
        self.native = native
        self.sources = sources(stats, nullable)
        self.weight = group.sample[0] if group.sample else 1
        self._start()

    def _start(self) -> None:
        self.values = self._numbering()
        self._origin: int | None = None  # the bucket the rows' buckets count from
        self._columns: list[np.ndarray] = []  # blocks of rows: bucket, key codes, top code (int32)
        self._sums: list[np.ndarray] = []  # their sums, one row per source (int64)
        self._merged = 0  # rows of the first block, merged (distinct)
        self._groups = 0  # the buckets and keys among them
        self._pending = 0  # rows appended since

    def _numbering(self) -> DictionaryCodes | StringCodes | IntCodes:
        if not self.top.max_length:
            return IntCodes()
        if self.native:
            return DictionaryCodes(self.top.max_length, max_values=MAX_TOP_VALUES, max_bytes=MAX_TOP_BYTES)
        return StringCodes(MAX_TOP_VALUES)

    @property
    def rows(self) -> int:
        """What a take would give at most: the leaders of the merged rows, and the rows since."""
        kept = sum(min(self._merged, self._groups * s.top.n * TOP_CANDIDATES) for s in self.stats if s.top)
        return kept + self._pending * len(self.stats)

    def _top_codes(self, lines: ChunkColumns, mask: np.ndarray | None) -> np.ndarray:
        column = lines.top_column(self.top, mask)
        if column.null_count():
            raise Unsupported(f"{self.top.field} has NULL values")
        if isinstance(self.values, IntCodes):
            codes = self.values.encode(column.to_numpy())
            if self.values.size > MAX_TOP_VALUES:
                raise Full(f"{self.top.field}: more than {MAX_TOP_VALUES} values")
            return codes
        return self.values.encode(column)

    def count(self, lines: ChunkColumns, codes: dict[str, Codes]) -> bool:
        """Add a chunk's lines; False (nothing added) when the counts so far must be handed over first,
        or, for an empty group, when it cannot count this chunk at all."""
        if self._merged > MAX_TOP_ROWS:
            return False
        mask = lines.mask(self.group)
        keys = [lines.array("code", k.name) for k in self.keys]
        try:
            top = self._top_codes(lines, mask)
        except Full:
            return False
        rows = np.flatnonzero(mask) if mask is not None else slice(None)
        bucket = lines.array("bucket", str(self.group.bucket))[rows]
        if self._origin is None:
            self._origin = int(bucket.min()) if len(bucket) else 0
        block = np.empty((len(keys) + 2, len(top)), np.int32)
        block[0] = bucket - self._origin
        for row, key in enumerate(keys, 1):
            block[row] = key[rows]
        block[-1] = top
        self._columns.append(block)
        self._sums.append(np.stack([self._source(lines, source, rows, len(top)) for source in self.sources]))
        self._pending += len(top)
        if self._pending > max(MERGE_ROWS, self._merged):
            self._merge()
        return True

    @staticmethod
    def _source(lines: ChunkColumns, source: Source, rows: np.ndarray | slice, length: int) -> np.ndarray:
        kind, name = source
        if kind == "rows":
            return np.ones(length, np.int64)
        if kind == "sum":
            return lines.array("value", name)[rows]
        empty = lines.nulls(name)
        return np.zeros(length, np.int64) if empty is None else empty[rows].astype(np.int64)

    def _merge(self) -> None:
        """Sum the equal rows of every block into one block, sorted (bucket, keys, top)."""
        if not self._pending:
            return
        columns, sums = np.concatenate(self._columns, axis=1), np.concatenate(self._sums, axis=1)
        order, starts = sorted_runs(columns)
        columns = columns[:, order[starts]]
        self._columns, self._sums = [columns], [np.add.reduceat(sums[:, order], starts, axis=1)]
        self._merged, self._pending = columns.shape[1], 0
        self._groups = int(np.count_nonzero(group_starts(columns))) + 1

    def take(self, codes: dict[str, Codes]) -> Iterator[tuple[Statistic, pl.DataFrame]]:
        """Each statistic's leaders; the group is empty afterwards (and numbers its values afresh)."""
        self._merge()
        if self._merged:
            columns = self._columns[0]
            groups = np.concatenate(([0], np.cumsum(group_starts(columns))))
            sums = dict(zip(self.sources, self._sums[0], strict=True))
            for stat in self.stats:
                assert stat.top is not None
                kept = leaders(groups, first_value(stat, sums), stat.top.n * TOP_CANDIDATES)
                yield stat, self._frame(stat, columns[:, kept], {s: v[kept] for s, v in sums.items()}, codes)
        self._start()

    def _frame(
        self, stat: Statistic, columns: np.ndarray, sums: dict[Source, np.ndarray], codes: dict[str, Codes]
    ) -> pl.DataFrame:
        assert self._origin is not None
        bucket = pl.Series(BUCKET_COLUMN, (columns[0] + self._origin) * self.group.bucket, pl.Int64)
        keys = key_columns(self.keys, list(columns[1:-1]), codes)
        top = self.values.decode(columns[-1]).alias(self.top.field)
        return pl.DataFrame([bucket, *keys, top, *value_columns(stat, sums, self.weight)])
