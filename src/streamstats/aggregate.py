"""Vectorized counting: one lazy group-by per grouping over a parsed chunk, all collected together.

Statistics that group the same way (same bucket, keys, filter and sampling) share one group-by.
Partial results are small frames (bucket, keys, counters); they are merged by summing, which is also
what the aggregator does across agents and what the database does across flushes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

import polars as pl

from streamstats.formats import CACHE_HIT_STATUSES, DERIVED_FIELDS
from streamstats.parse import TS
from streamstats.statistics import BUCKET_COLUMN, Statistic, StatisticSet

SAMPLE_SEED = 0x5EED
# An agent keeps this many top-N candidates per group for each N shown, so that merging agents and
# flushes keeps the real leaders in all but adversarial distributions.
TOP_CANDIDATES = 2
# A missing integer key (an empty "-" field) is stored as -1: key columns cannot be NULL.
MISSING_INT_KEY = -1
_COMPACT_PARTS = 16
_COMPACT_ROWS = 100_000


def bucket_column(size: int) -> str:
    return f"_b{size}"


def _hash_column(field: str) -> str:
    return f"_h_{field}"


def _schema(stat: Statistic) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {BUCKET_COLUMN: pl.Int64()}
    for key in stat.keys:
        schema[key.name] = pl.String() if key.kind == "string" else pl.Int64()
    if stat.top:
        schema[stat.top.field] = pl.String() if stat.top.max_length else pl.Int64()
    schema.update({column: pl.Int64() for column in stat.value_columns})
    return schema


@cache
def frame_schema(stat: Statistic) -> pl.Schema:
    """The columns of a statistic's counts and their types (one shared object: do not modify)."""
    return pl.Schema(_schema(stat))


def empty_frame(stat: Statistic) -> pl.DataFrame:
    return pl.DataFrame(schema=frame_schema(stat))


@dataclass(frozen=True)
class Grouping:
    """What decides the rows of a group-by; statistics with the same grouping share one."""

    bucket: int
    keys: tuple[str, ...]
    where: tuple[tuple[str, tuple[str | int, ...]], ...]
    sample: tuple[int, str] | None


def grouping(stat: Statistic) -> Grouping:
    sample = (stat.sample.one_in, stat.sample.by) if stat.sample else None
    top = (stat.top.field, str(stat.top.max_length)) if stat.top else ()
    return Grouping(stat.bucket, (*(k.name for k in stat.keys), *top), stat.where, sample)


def status_class_values(accepted: tuple[str | int, ...]) -> list[int]:
    """A filter on status_class ("4xx") as the integers it is grouped by."""
    return [int(str(v)[0]) for v in accepted if str(v)[:1].isdigit()]


def _value_aggs(stat: Statistic) -> list[pl.Expr]:
    weight = stat.sample.one_in if stat.sample else 1
    aggs: list[pl.Expr] = []
    for value in stat.values:
        if value.kind == "count":
            aggs.append(pl.len().cast(pl.Int64).alias(value.column))
        elif value.kind == "sum":
            aggs.append(pl.col(value.field).sum().alias(value.column))
        else:
            aggs.append(pl.col(value.field).sum().alias(f"{value.column}_sum"))
            aggs.append(pl.col(value.field).count().cast(pl.Int64).alias(f"{value.column}_count"))
    return [agg * weight for agg in aggs] if weight != 1 else aggs


class Engine:
    """Counts parsed chunks for a statistic set."""

    def __init__(self, stats: StatisticSet) -> None:
        self.stats = stats
        derived = {d.name for d in DERIVED_FIELDS}
        # String keys are cut to their length, for every statistic that reads the field.
        self.lengths = {
            key.name: key.max_length
            for s in stats.statistics
            for key in s.keys
            if key.kind == "string" and key.name not in derived
        }

    def _prepare(
        self, frame: pl.DataFrame, stats: list[Statistic], constants: dict[str, str]
    ) -> pl.DataFrame:
        """The chunk with what `stats` group by: buckets, derived fields, hashes, constants, cut keys."""
        used = {f for s in stats for f in s.fields}
        exprs: list[pl.Expr] = [
            (pl.col(TS) // b * b).alias(bucket_column(b)) for b in sorted({s.bucket for s in stats})
        ]
        if "status_class" in used:
            # Grouped as a small integer; spelled "2xx" only in the (small) result.
            exprs.append((pl.col("status") // 100).alias("status_class"))
        if "cache_hit" in used:
            exprs.append(pl.col("cache_status").is_in(CACHE_HIT_STATUSES).cast(pl.Int64).alias("cache_hit"))
        hashed = sorted({s.sample.by for s in stats if s.sample})
        exprs += [pl.col(f).hash(seed=SAMPLE_SEED).alias(_hash_column(f)) for f in hashed]
        exprs += [pl.lit(value, pl.String).alias(name) for name, value in constants.items() if name in used]
        # One chunk (the CSV reader hands out several): group-bys over a chunked frame cost 3-4 times more.
        frame = frame.rechunk().with_columns(exprs)
        # Cutting long keys costs a pass; the byte length (free from the offsets) says when it is needed.
        cuts = [
            pl.col(name).str.slice(0, length)
            for name, length in self.lengths.items()
            if name in used and name in frame.columns and (frame[name].str.len_bytes().max() or 0) > length  # type: ignore[operator]
        ]
        return frame.with_columns(cuts) if cuts else frame

    @staticmethod
    def _sampled(frame: pl.DataFrame, sample: tuple[int, str], stats: list[Statistic]) -> pl.LazyFrame:
        """The lines a sampling keeps, with only the columns its statistics read: filtered once for all
        of them (a filter per statistic would copy the whole chunk each time)."""
        one_in, by = sample
        columns = {bucket_column(s.bucket) for s in stats}
        columns |= {f for s in stats for f in s.fields if f != by or f in s.key_columns}
        kept = frame.select(sorted(columns)).filter(frame[_hash_column(by)] % one_in == 0)
        return kept.lazy()

    @staticmethod
    def _query(stats: list[Statistic], lf: pl.LazyFrame) -> pl.LazyFrame:
        first = stats[0]
        for name, accepted in first.where:
            values = status_class_values(accepted) if name == "status_class" else list(accepted)
            lf = lf.filter(pl.col(name).is_in(values))
        keys: list[pl.Expr] = [pl.col(bucket_column(first.bucket)).alias(BUCKET_COLUMN)]
        for key in first.keys:
            column = pl.col(key.name)
            keys.append(column if key.kind == "string" else column.fill_null(MISSING_INT_KEY))
        if first.top:
            column = pl.col(first.top.field)
            keys.append(column.str.slice(0, first.top.max_length) if first.top.max_length else column)
        # Statistics sharing the group-by may share column names too: prefix them while together.
        aggs = [
            agg.name.prefix(f"{stat.name}.") if len(stats) > 1 else agg
            for stat in stats
            for agg in _value_aggs(stat)
        ]
        out = lf.group_by(keys).agg(aggs)
        if any(k.name == "status_class" for k in first.keys):
            out = out.with_columns(pl.col("status_class").cast(pl.String) + "xx")
        return out

    @staticmethod
    def groups(stats: Iterable[Statistic]) -> dict[Grouping, list[Statistic]]:
        groups: dict[Grouping, list[Statistic]] = {}
        for stat in stats:
            groups.setdefault(grouping(stat), []).append(stat)
        return groups

    def count(
        self, frame: pl.DataFrame, stats: Iterable[Statistic], constants: dict[str, str]
    ) -> dict[str, pl.DataFrame]:
        """Partial counts of one parsed chunk for each statistic in `stats`."""
        groups = self.groups(stats)
        if not groups or frame.is_empty():
            return {}
        prepared = self._prepare(frame, [s for m in groups.values() for s in m], constants)
        lines = {None: prepared.lazy()}
        for group in groups:
            if group.sample not in lines:
                sampled = [s for g, m in groups.items() if g.sample == group.sample for s in m]
                lines[group.sample] = self._sampled(prepared, group.sample, sampled)
        return self.collect(groups, lines)

    def collect(
        self, groups: dict[Grouping, list[Statistic]], lines: dict[tuple[int, str] | None, pl.LazyFrame]
    ) -> dict[str, pl.DataFrame]:
        """The group-bys of `groups`, over the lines of their sampling (None: unsampled)."""
        queries = [self._query(members, lines[group.sample]) for group, members in groups.items()]
        # The in-memory engine: the default (streaming) one costs twice as much on frames this small.
        results = pl.collect_all(queries, engine="in-memory")
        out: dict[str, pl.DataFrame] = {}
        for members, result in zip(groups.values(), results, strict=True):
            if len(members) == 1:  # bucket, keys, values: in order already
                out[members[0].name] = result
                continue
            for stat in members:
                values = [pl.col(f"{stat.name}.{c}").alias(c) for c in stat.value_columns]
                out[stat.name] = result.select(BUCKET_COLUMN, *stat.key_columns, *values)
        return out


def _merged(stat: Statistic, frames: list[pl.DataFrame], top_keep: int | None) -> pl.LazyFrame:
    keys = [BUCKET_COLUMN, *stat.key_columns]
    merged = pl.concat([f.lazy() for f in frames], how="vertical")
    merged = merged.group_by(keys).agg(pl.col(list(stat.value_columns)).sum())
    if stat.top and top_keep is not None:
        # Strictly bounded: ties at the cut are broken arbitrarily (a top-N is approximate anyway).
        group = [BUCKET_COLUMN, *(k.name for k in stat.keys)]
        rank = pl.col(stat.value_columns[0]).rank("ordinal", descending=True).over(group)
        merged = merged.filter(rank <= top_keep)
    return merged


def merge(
    stat: Statistic,
    frames: list[pl.DataFrame],
    top_keep: int | None = None,
    engine: Literal["in-memory", "streaming"] = "in-memory",
) -> pl.DataFrame:
    """Sum partial frames by key; a top-N statistic keeps `top_keep` rows per bucket and key. The
    streaming engine needs less memory for large merges (it never holds the frames concatenated)."""
    frames = [f for f in frames if not f.is_empty()]
    if not frames:
        return empty_frame(stat)
    return _merged(stat, frames, top_keep).collect(engine=engine)


def owned(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its long strings copied. A group-by's string keys point into the buffers of the
    frame it grouped (a whole chunk, or every part merged): a frame kept for long would keep those
    alive, megabytes for a few rows. Strings of up to 12 bytes live in the column itself."""
    names = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not names or frame.is_empty():
        return frame
    longest = frame.select(pl.col(names).str.len_bytes().max()).row(0)
    copies = [(pl.col(n) + "").alias(n) for n, length in zip(names, longest, strict=True) if length > 12]
    return frame.with_columns(copies) if copies else frame


class Accumulator:
    """A statistic's counts since the last batch: partial frames, compacted as they pile up."""

    def __init__(self, stat: Statistic) -> None:
        self.stat = stat
        self.parts: list[pl.DataFrame] = []
        self._rows = 0
        self._compacted_rows = 0

    def add(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        self.parts.append(frame)
        self._rows += frame.height
        if len(self.parts) >= _COMPACT_PARTS or self._rows > max(_COMPACT_ROWS, 2 * self._compacted_rows):
            self.parts = [owned(self._merged())]
            self._rows = self._compacted_rows = self.parts[0].height

    def _merged(self) -> pl.DataFrame:
        top_keep = self.stat.top.n * TOP_CANDIDATES if self.stat.top else None
        return merge(self.stat, self.parts, top_keep, engine="streaming")

    def take(self) -> pl.DataFrame:
        """The merged counts; the accumulator starts empty again."""
        merged = self._merged()
        self.parts = []
        self._rows = self._compacted_rows = 0
        return merged

    @property
    def rows(self) -> int:
        return self._rows
