"""Counting with numpy: key columns numbered once per chunk, one integer cell per line, np.add.at.

Every key column a statistic groups by is numbered (dictionary-encoded) once per chunk, with numbers
that stay the same for the whole batch: strings through a dictionary of the native parser, which numbers
them while it parses (or, with the polars parser, through a polars `Categories` private to the batch),
integers through a small table. A group of statistics (same bucket, keys, filter and sampling) keeps
dense int64 arrays of its counters, one cell per (bucket, combination of keys): a line's cell is
integer arithmetic on its numbers, and `np.add.at` adds its count and values there. Integer sums stay
exact (int64, as polars sums them). Time and memory are linear in the chunk plus the cells; the
combinations are numbered directly (c1 x capacity2 + c2) while their product is small, through a
lookup table of the combinations seen otherwise. What does not fit (a window of buckets too wide, a
key space too large, a layout that has to change) is handed over as ordinary frames, which the polars
path merges: the result is the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from streamstats import native
from streamstats.aggregate import MISSING_INT_KEY, SAMPLE_SEED, Grouping, bucket_column, status_class_values
from streamstats.formats import CACHE_HIT_STATUSES, ValueField
from streamstats.parse import TS, chunked_like
from streamstats.statistics import BUCKET_COLUMN, Statistic, Top, Value

# Combinations per bucket numbered directly; beyond, through a lookup table of those seen.
DIRECT_CELLS = 1 << 16
# The largest lookup table (int32 entries, allocated lazily by the kernel: only touched pages count).
MAX_LOOKUP = 1 << 24
# Cells (buckets x combinations) of one group's window before it hands its counts over.
MAX_WINDOW_CELLS = 1 << 20
# Integer keys spanning fewer values than this are numbered through a table, others by sorting.
_INT_TABLE_SPAN = 1 << 16
_ROWS = ("rows", "")  # the source every group counts: lines per cell


class Unsupported(Exception):
    """This chunk cannot be counted here (a NULL key): the polars path counts it."""


def _capacity(size: int) -> int:
    """A power of two with room to grow: 1.25 x the values seen, at least 4."""
    return 1 << max(2, int(size + size // 4).bit_length())


def _room(size: int) -> int:
    """Numbers a key may take before its layout changes: 1.25 x the values seen, a multiple of 8."""
    return (size + size // 4 + 8) // 8 * 8


def derived_status_class(status: np.ndarray) -> np.ndarray:
    return status // 100


class Full(Unsupported):
    """A numbering holds as many values as it may."""


class StringCodes:
    """A string column's values in this batch, numbered in order of appearance: a polars `Categories`
    private to the batch (it lives as long as data uses it), so the numbers hold from chunk to chunk.
    `max_values`: `Full` past that many (the numbering is to be started afresh)."""

    def __init__(self, max_values: int | None = None) -> None:
        self._categories = pl.Categories.random()
        self._dtype = pl.Categorical(self._categories)
        self._alive = pl.Series([], dtype=self._dtype)
        self._max_values = max_values
        self.size = 0

    def encode(self, column: pl.Series) -> np.ndarray:
        if column.null_count():
            raise Unsupported(f"{column.name} has NULL values")
        codes = column.cast(self._dtype).to_physical().to_numpy().astype(np.intp)
        if len(codes):
            self.size = max(self.size, int(codes.max()) + 1)
        if self._max_values is not None and self.size > self._max_values:
            raise Full(f"{column.name}: more than {self._max_values} values")
        return codes

    def decode(self, codes: np.ndarray) -> pl.Series:
        return pl.Series(codes.astype(np.uint32)).cat.to(self._dtype).cast(pl.String)


class DictionaryCodes:
    """A string column's values in this batch, in a dictionary of the native parser (values cut to the
    key's length, numbered in order of first appearance), which the parser fills and numbers chunks
    with; `encode` numbers the columns it did not (constants, chunks the reference parsed, the lines a
    top-N statistic counts). `Full` past the dictionary's caps."""

    def __init__(self, max_chars: int, **caps: int) -> None:
        self.dictionary = native.Dictionary(max_chars, **caps)

    @property
    def size(self) -> int:
        return len(self.dictionary)

    def encode(self, column: pl.Series) -> np.ndarray:
        if column.null_count():
            raise Unsupported(f"{column.name} has NULL values")
        try:
            return np.frombuffer(self.dictionary.encode_column(column), np.intp)
        except native.DictionaryFull as full:
            raise Full(f"{column.name}: {full}") from full

    def decode(self, codes: np.ndarray) -> pl.Series:
        """The values of `codes`, made in C (no Python object per value)."""
        return pl.Series(native.ArrowCapsules(self.dictionary.take(np.ascontiguousarray(codes, np.intp))))


class IntCodes:
    """An integer column's values in this batch, numbered in order of appearance."""

    def __init__(self) -> None:
        self._index: dict[int, int] = {}
        self._values: list[int] = []

    @property
    def size(self) -> int:
        return len(self._values)

    def _code(self, value: int) -> int:
        code = self._index.get(value)
        if code is None:
            code = self._index[value] = len(self._values)
            self._values.append(value)
        return code

    def encode(self, values: np.ndarray) -> np.ndarray:
        if not len(values):
            return values.astype(np.intp)
        low, high = int(values.min()), int(values.max())
        if high - low < _INT_TABLE_SPAN:
            seen = np.zeros(high - low + 1, np.bool_)
            seen[values - low] = True
            distinct = np.flatnonzero(seen) + low
        else:
            distinct = np.unique(values)
        codes = np.fromiter((self._code(int(v)) for v in distinct), np.intp, len(distinct))
        if high - low < _INT_TABLE_SPAN:
            table = np.empty(high - low + 1, np.intp)
            table[distinct - low] = codes
            return table[values - low]
        return codes[np.searchsorted(distinct, values)]

    def decode(self, codes: np.ndarray) -> pl.Series:
        return pl.Series(np.asarray(self._values, np.int64)[codes], dtype=pl.Int64)


Codes = StringCodes | DictionaryCodes | IntCodes


def new_codes(field: ValueField, native: bool) -> Codes:
    """The numbering of a key field (status_class is grouped as the integer status // 100); strings in
    a dictionary the native parser fills when it parses the chunks."""
    if field.kind != "string" or field.name == "status_class":
        return IntCodes()
    return DictionaryCodes(field.max_length) if native else StringCodes()


class ChunkColumns:
    """One chunk's columns as numpy arrays, each computed once and shared by every group."""

    def __init__(
        self,
        frame: pl.DataFrame,
        constants: dict[str, str],
        codes: dict[str, Codes],
        lengths: dict[str, int],
        numbered: dict[str, np.ndarray | None],
    ) -> None:
        self.frame = frame
        self.constants = constants
        self._codes = codes
        self._numbered = numbered  # columns the native parser numbered into `codes`' dictionaries
        self._lengths = lengths
        self._cache: dict[tuple[str, str], np.ndarray | None] = {}
        self._columns: dict[str, pl.Series] = {}
        self._masks: dict[tuple[object, ...], np.ndarray | None] = {}
        self._ranges: dict[tuple[str, str], tuple[int, int]] = {}
        self._longest: dict[str, int] | None = None
        self.height = frame.height

    def _cached(self, kind: str, name: str) -> np.ndarray | None:
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = getattr(self, f"_{kind}")(name)
        return self._cache[key]

    def array(self, kind: str, name: str) -> np.ndarray:
        out = self._cached(kind, name)
        assert out is not None
        return out

    def series(self, name: str) -> pl.Series:
        """A field as the polars path groups it: constants repeated, derived ones computed, keys cut
        to their length (the byte length, free from the offsets, says when it is needed)."""
        if name not in self._columns:
            self._columns[name] = self._column(name)
        return self._columns[name]

    def _field(self, name: str) -> pl.Series:
        """A field as read: constants repeated, derived ones computed, nothing cut."""
        if name in self.constants:
            column = pl.repeat(self.constants[name], self.height, dtype=pl.String, eager=True).alias(name)
            return chunked_like(column, self.frame[TS])
        if name == "cache_hit":
            return self.frame["cache_status"].is_in(CACHE_HIT_STATUSES).cast(pl.Int64).alias(name)
        if name == "status_class":
            return (self.frame["status"] // 100).alias(name)
        return self.frame[name]

    def _column(self, name: str) -> pl.Series:
        column = self._field(name)
        length = self._lengths.get(name)
        if length and column.dtype == pl.String and self._longest_of(name, column) > length:
            column = column.str.slice(0, length)
        return column

    def top_column(self, top: Top, mask: np.ndarray | None) -> pl.Series:
        """A top-N statistic's field for the lines `mask` keeps (None: all), cut to the top's length,
        as the polars path groups it."""
        column = self._field(top.field)
        if mask is not None:
            column = column.filter(chunked_like(pl.Series(mask), column))
        if top.max_length and (column.str.len_bytes().max() or 0) > top.max_length:  # type: ignore[operator]
            column = column.str.slice(0, top.max_length)
        return column

    def _longest_of(self, name: str, column: pl.Series) -> int:
        """The byte length of a string field's longest value (free from the offsets): of every field
        with a length at once (one query instead of one each)."""
        if self._longest is None:
            schema = self.frame.schema
            names = [n for n in self._lengths if schema.get(n) == pl.String]
            row = self.frame.select(pl.col(names).str.len_bytes().max()).row(0) if names else ()
            self._longest = {n: v or 0 for n, v in zip(names, row, strict=True)}
        if name not in self._longest:
            self._longest[name] = column.str.len_bytes().max() or 0  # type: ignore[assignment]
        return self._longest[name]

    def _bucket(self, size: str) -> np.ndarray:
        return self.array("ts", "") // int(size)

    def bucket_range(self, size: int) -> tuple[int, int]:
        """The first and last bucket of the chunk's lines."""
        key = ("range", str(size))
        if key not in self._ranges:
            bucket = self.array("bucket", str(size))
            self._ranges[key] = (int(bucket.min()), int(bucket.max()))
        return self._ranges[key]

    def relative_bucket(self, size: int, first: int) -> np.ndarray:
        """Each line's bucket counted from `first` (groups of one size mostly share their window)."""
        return self.array("relative", f"{size}:{first}")

    def _relative(self, spec: str) -> np.ndarray:
        size, first = spec.split(":")
        return self.array("bucket", size) - int(first)

    def _ts(self, _: str) -> np.ndarray:
        return self.frame[TS].to_numpy()

    def _code(self, name: str) -> np.ndarray:
        codes = self._codes[name]
        if name in self._numbered:
            numbered = self._numbered[name]
            if numbered is None:
                raise Unsupported(f"{name}: its dictionary is full")
            return numbered
        if isinstance(codes, StringCodes | DictionaryCodes):
            return codes.encode(self.series(name))
        if name == "status_class":
            return codes.encode(derived_status_class(self.array("value", "status")))
        return codes.encode(self.series(name).fill_null(MISSING_INT_KEY).to_numpy())

    def _value(self, name: str) -> np.ndarray:
        column = self.series(name)
        return (column.fill_null(0) if column.null_count() else column).to_numpy()

    def _nulls(self, name: str) -> np.ndarray | None:
        """The rows where an optional number is empty (None when there are none)."""
        column = self.series(name)
        return column.is_null().to_numpy() if column.null_count() else None

    def nulls(self, name: str) -> np.ndarray | None:
        return self._cached("nulls", name)

    def _sampled(self, spec: str) -> np.ndarray:
        one_in, by = spec.split(":", 1)
        # The field as read (not cut), as the polars path hashes it.
        column = self._field(by)
        return (column.hash(seed=SAMPLE_SEED) % int(one_in) == 0).to_numpy()

    def mask(self, group: Grouping) -> np.ndarray | None:
        """The lines a group counts (None: all of them)."""
        key = (group.where, group.sample)
        if key not in self._masks:
            self._masks[key] = self._mask(group)
        return self._masks[key]

    def _mask(self, group: Grouping) -> np.ndarray | None:
        masks: list[np.ndarray] = []
        for name, accepted in group.where:
            if name == "status_class":
                masks.append(
                    np.isin(
                        derived_status_class(self.array("value", "status")), status_class_values(accepted)
                    )
                )
            else:
                masks.append(self.series(name).is_in(list(accepted)).fill_null(False).to_numpy())
        if group.sample:
            masks.append(self.array("sampled", f"{group.sample[0]}:{group.sample[1]}"))
        if not masks:
            return None
        out = masks[0]
        for more in masks[1:]:
            out = out & more
        return out

    def subset(self, stats: list[Statistic], sample: tuple[int, str] | None) -> pl.DataFrame:
        """What the polars path groups `stats` by (bucket columns, the fields they read), for the lines
        `sample` keeps: filtered column by column, all chunked alike (a frame-wide filter or select
        would first copy every column of the chunk into one piece), then put in one piece."""
        by = sample[1] if sample else None
        template = self.frame[TS]
        columns = [
            chunked_like(pl.Series(bucket_column(b), self.array("bucket", str(b)) * b), template)
            for b in sorted({s.bucket for s in stats})
        ]
        columns += [
            self.series(f)
            for f in sorted({f for s in stats for f in s.fields if f != by or f in s.key_columns})
        ]
        if sample:
            mask = chunked_like(pl.Series(self.array("sampled", f"{sample[0]}:{sample[1]}")), template)
            columns = [c.filter(mask) for c in columns]
        # In one piece: group-bys over a chunked frame cost 1.5-3 times more.
        return pl.DataFrame(columns).rechunk()


class KeySpace:
    """Numbers the combinations of a group's key codes: directly (c1 x cap2 + c2) while the product of
    the capacities is small, or through a lookup table of the combinations seen, numbered 1 and up in
    order of appearance (0 marks a combination not seen in the table), whose numbers never change."""

    def __init__(self, sizes: list[int]) -> None:
        self.caps = [_room(s) for s in sizes]
        self.direct = int(np.prod(self.caps)) <= DIRECT_CELLS
        self.count = 0  # combinations numbered through the table
        self.seen: list[np.ndarray] = [np.empty(0, np.intp) for _ in sizes]  # their codes, per key
        self._table: np.ndarray | None = None

    @property
    def width(self) -> int:
        """Cells per bucket."""
        if self.direct:
            return int(np.prod(self.caps))
        return _capacity(self.count + 1)

    def _combined(self, codes: list[np.ndarray], caps: list[int]) -> np.ndarray:
        out = codes[0] if len(codes) == 1 else codes[0] * caps[1] + codes[1]
        for code, cap in zip(codes[2:], caps[2:], strict=True):
            out = out * cap + code
        return out

    def fits(self, sizes: list[int]) -> bool:
        """Whether codes below `sizes` can be numbered without renumbering what was counted."""
        if all(s <= c for s, c in zip(sizes, self.caps, strict=True)):
            return True
        if self.direct:
            return False
        caps = [max(c, _room(s)) if s > c else c for s, c in zip(sizes, self.caps, strict=True)]
        if int(np.prod(caps)) > MAX_LOOKUP:
            return False
        self.caps = caps
        self._table = None  # rebuilt from `seen` with the new capacities
        return True

    def usable(self) -> bool:
        return self.direct or int(np.prod(self.caps)) <= MAX_LOOKUP

    def numbers(self, codes: list[np.ndarray]) -> np.ndarray:
        if not codes:
            return np.zeros(1, np.intp)  # one combination: broadcast
        combined = self._combined(codes, self.caps)
        if self.direct:
            return combined
        if self._table is None:
            self._table = np.zeros(int(np.prod(self.caps)), np.int32)
            if self.count:
                self._table[self._combined(self.seen, self.caps)] = np.arange(1, self.count + 1)
        numbers = self._table[combined]
        new = numbers == 0
        if new.any():
            fresh = np.unique(combined[new])
            self._table[fresh] = np.arange(self.count + 1, self.count + 1 + len(fresh))
            for i, code in enumerate(self._split(fresh)):
                self.seen[i] = np.concatenate([self.seen[i], code])
            self.count += len(fresh)
            numbers = self._table[combined]
        return numbers.astype(np.intp)

    def _split(self, combined: np.ndarray) -> list[np.ndarray]:
        out = []
        for cap in reversed(self.caps[1:]):
            combined, code = np.divmod(combined, cap)
            out.append(code)
        out.append(combined)
        return out[::-1]

    def codes(self, numbers: np.ndarray) -> list[np.ndarray]:
        """The key codes of combinations."""
        if not self.caps:
            return []
        if self.direct:
            return self._split(numbers)
        return [seen[numbers - 1] for seen in self.seen]


Source = tuple[str, str]  # ("rows", ""), ("sum", FIELD) or ("nulls", FIELD): what a group adds up


def sources(stats: list[Statistic], nullable: set[str]) -> list[Source]:
    """What the statistics' values are made of: lines, sums, and the empty values of the optional
    fields they average (an average's count is the lines less those)."""
    out = [_ROWS]
    for stat in stats:
        for value in stat.values:
            wanted = []
            if value.kind in ("sum", "avg"):
                wanted.append(("sum", value.field))
            if value.kind == "avg" and value.field in nullable:
                wanted.append(("nulls", value.field))
            out += [s for s in wanted if s not in out]
    return out


def key_columns(
    keys: tuple[ValueField, ...], numbers: list[np.ndarray], codes: dict[str, Codes]
) -> list[pl.Series]:
    """Key columns from their numbers, as the polars path spells them."""
    out = []
    for key, code in zip(keys, numbers, strict=True):
        decoded = codes[key.name].decode(code).alias(key.name)
        out.append(decoded.cast(pl.String) + "xx" if key.name == "status_class" else decoded)
    return out


def value_columns(stat: Statistic, counts: dict[Source, np.ndarray], weight: int) -> list[pl.Series]:
    """A statistic's value columns from the sums of its sources (weighted when sampled)."""
    out = []
    for value in stat.values:
        for column, array in value_arrays(value, counts):
            out.append(pl.Series(column, array * weight if weight != 1 else array, pl.Int64))
    return out


def value_arrays(value: Value, counts: dict[Source, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """A value's columns from the sums of its sources (unweighted)."""
    rows = counts[_ROWS]
    for column in value.columns:
        if value.kind == "count":
            yield column, rows
        elif column == f"{value.column}_count":
            empty = counts.get(("nulls", value.field))
            yield column, rows - empty if empty is not None else rows
        else:
            yield column, counts[("sum", value.field)]


class DenseGroup:
    """The counters of the statistics that share one grouping, as int64 arrays: one row per source
    (lines, sums, empty values), one column per cell (bucket of the window x combination of keys),
    and a last column where the lines a filter drops go."""

    def __init__(self, group: Grouping, stats: list[Statistic], nullable: set[str]) -> None:
        self.group = group
        self.stats = stats
        self.keys = stats[0].keys
        self.sources = sources(stats, nullable)
        self.weight = group.sample[0] if group.sample else 1
        self.space: KeySpace | None = None
        self.first = 0  # the window's first bucket (epoch seconds // bucket)
        self.buckets = 0  # buckets in the window
        self.width = 0  # cells per bucket
        self.data = np.zeros((len(self.sources), 1), np.int64)
        self._rows: int | None = 0

    @property
    def rows(self) -> int:
        """Rows of the batch: the cells holding counts, for each statistic."""
        if self._rows is None:
            self._rows = int(np.count_nonzero(self.data[0, :-1]))
        return self._rows * len(self.stats)

    def _layout(self, first: int, buckets: int, width: int) -> None:
        """Re-lay the arrays for a wider window or more combinations (what was counted stays)."""
        data = np.zeros((len(self.sources), buckets * width + 1), np.int64)
        if self.buckets:
            old = self.data[:, :-1].reshape(len(self.sources), self.buckets, self.width)
            view = data[:, :-1].reshape(len(self.sources), buckets, width)
            offset = self.first - first
            view[:, offset : offset + self.buckets, : self.width] = old
        self.data, self.first, self.buckets, self.width = data, first, buckets, width

    def count(self, lines: ChunkColumns, codes: dict[str, Codes]) -> bool:
        """Add a chunk's lines; False (nothing added) when the counts so far must be handed over
        first, or, for an empty group, when it cannot count this chunk at all."""
        keys = [lines.array("code", k.name) for k in self.keys]  # numbering first: it grows the sizes
        sizes = [codes[k.name].size for k in self.keys]
        if self.space is None:
            self.space = KeySpace(sizes)
            if not self.space.usable():
                return False
        elif not self.space.fits(sizes):
            return False
        numbers = self.space.numbers(keys)
        low, high = lines.bucket_range(self.group.bucket)
        first = min(self.first, low) if self.buckets else low
        last = max(self.first + self.buckets - 1, high) if self.buckets else high
        buckets = self.buckets if last - first < self.buckets else _capacity(last - first + 1)
        width = max(self.width, self.space.width)
        if buckets * width > MAX_WINDOW_CELLS:
            return False
        if (first, buckets, width) != (self.first, self.buckets, self.width):
            self._layout(first, buckets, width)
        cell = lines.relative_bucket(self.group.bucket, self.first) * self.width + numbers
        mask = lines.mask(self.group)
        if mask is not None:
            cell = np.where(mask, cell, self.data.shape[1] - 1)
        for row, (kind, name) in zip(self.data, self.sources, strict=True):
            if kind == "rows":
                np.add.at(row, cell, 1)
            elif kind == "sum":
                np.add.at(row, cell, lines.array("value", name))
            else:
                empty = lines.nulls(name)
                if empty is not None:
                    np.add.at(row, cell[empty], 1)
        self._rows = None
        return True

    def take(self, codes: dict[str, Codes]) -> Iterator[tuple[Statistic, pl.DataFrame]]:
        """Each statistic's rows (cells with lines); the group is empty afterwards."""
        if self.space is not None and self.buckets:
            cells = np.flatnonzero(self.data[0, :-1])
            bucket, numbers = np.divmod(cells, self.width)
            bucket_column = pl.Series(BUCKET_COLUMN, (bucket + self.first) * self.group.bucket, pl.Int64)
            keys = key_columns(self.keys, self.space.codes(numbers), codes)
            counts = {source: row[cells] for source, row in zip(self.sources, self.data, strict=True)}
            for stat in self.stats:
                yield stat, pl.DataFrame([bucket_column, *keys, *value_columns(stat, counts, self.weight)])
        self.space = None
        self.first = self.buckets = self.width = 0
        self.data = np.zeros((len(self.sources), 1), np.int64)
        self._rows = 0
