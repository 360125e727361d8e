"""Batch parsing: a chunk of complete lines in, a typed polars frame of the good lines out.

No Python object per line on the fast path. A chunk without NUL or CR bytes goes straight to polars'
CSV reader, which parses the required numbers as numbers and fails on invalid UTF-8, on a malformed
required number and on a line with more than N fields; it fills the missing fields of a shorter line
with null (or "" for text), so a last field never empty proves every line has exactly N fields, one
row per line. Whole-column checks then say whether every value is in bounds. Anything else takes the
slow path, still vectorized: split into lines, classify each, re-join the good ones, read them as text
and convert (the same rules: a number the reader accepts is one the conversion accepts). Every line
ends up in the frame or in one reject reason.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from streamstats.formats import FieldSpec, LogFormat

TS = "_ts"  # the parsed timestamp, whole epoch seconds
SAMPLE_CHARS = 300
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_DURATION_LIST = rf"^{_NUMBER}(?:\s*[,:]\s*{_NUMBER})*$"
_TS_FORMATS = {"iso8601": "%Y-%m-%dT%H:%M:%S%z", "clf": "%d/%b/%Y:%H:%M:%S %z"}
# Invalid UTF-8 decodes to NUL, which (like CR) never occurs in a good line: one test finds both.
_BINARY = "[\x00\r]"
_NUL_ERRORS = "streamstats-nul"
codecs.register_error(_NUL_ERRORS, lambda exc: ("\x00", exc.end))  # type: ignore[arg-type]


@dataclass
class ParsedChunk:
    frame: pl.DataFrame
    lines: int
    rejected: dict[str, int] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)
    # String key columns the native parser numbered into the batch's dictionaries: a code per good
    # line, or None where the dictionary became full.
    codes: dict[str, np.ndarray | None] = field(default_factory=dict)

    def reject(self, reason: str, count: int, sample: str | None) -> None:
        if count:
            self.rejected[reason] = self.rejected.get(reason, 0) + count
            if sample is not None:
                self.samples.setdefault(reason, sample[:SAMPLE_CHARS])

    @property
    def good(self) -> int:
        return self.frame.height


def _nth_line(chunk: bytes, index: int) -> str:
    start = 0
    for _ in range(index):
        start = chunk.index(b"\n", start) + 1
    end = chunk.find(b"\n", start)
    return chunk[start : end if end >= 0 else len(chunk)].decode("utf-8", "replace")


def _lines(chunk: bytes) -> pl.Series:
    """The chunk's lines (it ends with a newline)."""
    return pl.read_lines(chunk.decode("utf-8", _NUL_ERRORS).encode()).to_series()


def _number_expr(spec: FieldSpec, current: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """The typed value and an is-invalid flag of an int or duration field (the value of an invalid
    row does not matter: the row is dropped)."""
    if spec.type == "int":
        value = _as(spec.name, pl.Int64(), current)
        valid = (value >= 0).fill_null(False)
    else:
        seconds = _as(spec.name, pl.Float64(), current)
        valid = ((seconds >= 0) & (seconds < 1e9)).fill_null(False)  # NaN and inf compare false
        value = (seconds * 1000).round().cast(pl.Int64, strict=False)
    if not spec.required:
        valid = valid | (pl.col(spec.name) == "-")
    return value.alias(spec.name), ~valid


def _read_type(spec: FieldSpec) -> pl.DataType:
    """How the fast path reads a field: required numbers as numbers (a malformed one fails the read and
    sends the chunk to the slow path), text otherwise."""
    if spec.type == "timestamp" and spec.encoding == "msec":
        return pl.Float64()
    if spec.required and spec.type == "int":
        return pl.Int64()
    if spec.required and spec.type == "duration":
        return pl.Float64()
    return pl.String()


def _as(column: str, dtype: pl.DataType, current: pl.DataType) -> pl.Expr:
    """A text column converted like polars' CSV reader converts (it allows leading spaces)."""
    if current == dtype:
        return pl.col(column)
    return pl.col(column).str.strip_chars_start(" ").cast(dtype, strict=False)


def chunked_like(series: pl.Series, template: pl.Series) -> pl.Series:
    """`series` in the chunks of `template`: a frame whose columns are chunked alike is never copied
    whole (polars re-chunks every column of a frame at its first select otherwise)."""
    lengths = template.chunk_lengths()
    if len(lengths) == 1 or series.chunk_lengths() == lengths:
        return series
    pieces, start = [], 0
    for length in lengths:
        pieces.append(series.slice(start, length))
        start += length
    return pl.concat(pieces, rechunk=False)


def _duration_list(name: str) -> pl.Expr:
    """nginx lists one time per upstream tried ("0.010, 0.020 : 0.005"); the request took their sum,
    in the bounds of one duration (else a single number past them would pass here and not there)."""
    text = pl.col(name)
    summed = text.str.extract_all(_NUMBER).list.eval(pl.element().cast(pl.Float64)).list.sum()
    valid = text.str.contains(_DURATION_LIST) & (summed < 1e9)
    return pl.when(valid).then((summed * 1000).round().cast(pl.Int64))


class ChunkParser:
    """Parses chunks of one format into the typed fields (strings stay strings; int and duration fields
    become Int64, durations in milliseconds; the timestamp becomes `_ts`, epoch seconds)."""

    def __init__(self, fmt: LogFormat, ts_bounds: tuple[int, int]) -> None:
        self.format = fmt
        self.ts_bounds = ts_bounds
        self._schema = {f.name: pl.String() for f in fmt.fields}
        self._typed_schema = {f.name: _read_type(f) for f in fmt.fields}

    def parse(self, chunk: bytes) -> ParsedChunk:
        if not chunk:
            return ParsedChunk(self._typed_empty(), 0)
        if self.format.type == "tsv":
            return self._parse_tsv(chunk)
        return self._parse_regex(chunk)

    # --- tab-separated ---------------------------------------------------------------------------------
    def _read_tsv(self, data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        return pl.read_csv(
            data,
            has_header=False,
            separator="\t",
            quote_char=None,
            schema=schema,
            empty_string_is_null=False,
            raise_if_empty=False,
            low_memory=True,
        )

    def _parse_tsv(self, chunk: bytes) -> ParsedChunk:
        if b"\x00" not in chunk and b"\r" not in chunk:
            try:
                raw = self._read_tsv(chunk, self._typed_schema)
            except pl.exceptions.PolarsError:
                raw = None  # invalid UTF-8, a malformed number, too many fields: line by line
            if raw is not None and self._complete(raw):
                # One row per line: the reader makes an empty line a row too (caught just above).
                out = ParsedChunk(pl.DataFrame(), raw.height)
                out.frame = self._typed(raw, out, lambda i: _nth_line(chunk, i))
                return out
        return self._parse_tsv_slow(chunk, chunk.count(b"\n"))

    def _complete(self, raw: pl.DataFrame) -> bool:
        """No line has fewer fields than the format: the reader fills the missing ones of a short line
        with null (typed) or "" (text), so its last field says. A real "" there goes the slow way."""
        last = raw.get_column(self.format.fields[-1].name)
        if last.null_count():
            return False
        return last.dtype != pl.String or bool(last.is_empty() or (last.str.len_bytes().min() or 0) > 0)

    def _parse_tsv_slow(self, chunk: bytes, lines: int) -> ParsedChunk:
        out = ParsedChunk(pl.DataFrame(), lines)
        series = _lines(chunk)
        binary = series.str.contains(_BINARY)
        field_count = series.str.count_matches("\t", literal=True) != len(self._schema) - 1
        self._reject_mask(out, series, "binary", binary)
        self._reject_mask(out, series, "field_count", field_count & ~binary)
        good = series.filter(~binary & ~field_count)
        if good.is_empty():
            out.frame = self._typed_empty()
            return out
        raw = self._read_tsv((good.str.join("\n").item() + "\n").encode(), self._schema)
        out.frame = self._typed(raw, out, lambda i: good[i])
        return out

    # --- regular expression ----------------------------------------------------------------------------
    def _parse_regex(self, chunk: bytes) -> ParsedChunk:
        series = _lines(chunk)
        out = ParsedChunk(pl.DataFrame(), series.len())
        binary = series.str.contains(_BINARY)
        self._reject_mask(out, series, "binary", binary)
        series = series.filter(~binary)
        raw = series.str.extract_groups(self.format.pattern).struct.unnest().select(list(self._schema))
        unmatched = raw.select(pl.all_horizontal(pl.all().is_null())).to_series()
        self._reject_mask(out, series, "format", unmatched)
        matched = series.filter(~unmatched)
        raw = raw.filter(~unmatched).select(pl.col(n).fill_null("-").cast(t) for n, t in self._schema.items())
        out.frame = self._typed(raw, out, lambda i: matched[i])
        return out

    # --- typed fields, shared ----------------------------------------------------------------------------
    @staticmethod
    def _reject_mask(out: ParsedChunk, series: pl.Series, reason: str, mask: pl.Series) -> None:
        count = int(mask.sum())
        if count:
            out.reject(reason, count, series.filter(mask)[0])

    def _timestamp_expr(self, spec: FieldSpec, current: pl.DataType) -> pl.Expr:
        low, high = self.ts_bounds
        if spec.encoding == "msec":
            seconds = _as(spec.name, pl.Float64(), current)
            # Bounds are checked on the float, before the cast to an integer that cannot hold them all.
            in_bounds = seconds.is_finite() & (seconds >= low) & (seconds < high)
            return pl.when(in_bounds).then(seconds.floor()).cast(pl.Int64)
        text = pl.col(spec.name).str.strip_chars("[]")
        parsed = text.str.strptime(pl.Datetime("us", "UTC"), _TS_FORMATS[spec.encoding], strict=False)
        seconds = parsed.dt.epoch("s")
        return pl.when((seconds >= low) & (seconds < high)).then(seconds)

    def _typed_empty(self) -> pl.DataFrame:
        empty = pl.DataFrame(schema=self._typed_schema)
        return self._typed(empty, ParsedChunk(pl.DataFrame(), 0), lambda i: "")

    def _typed(self, raw: pl.DataFrame, out: ParsedChunk, line_at: Callable[[int], str]) -> pl.DataFrame:
        """Typed columns for the good rows of `raw` (all text); bad rows go to `out.rejected`."""
        typed = self._typed_valid(raw)
        return typed if typed is not None else self._typed_rows(raw, out, line_at)

    def _typed_valid(self, raw: pl.DataFrame) -> pl.DataFrame | None:
        """The typed columns when every row is good, None otherwise: one sum over whole columns says
        so, instead of a flag per row and field (the same conversions, so the same values)."""
        low, high = self.ts_bounds
        converted: list[pl.Expr] = []  # text and float numbers converted once, kept as _v_NAME
        doubts: list[pl.Expr] = []  # each counts rows that are not plainly good
        lists: list[str] = []
        texts: list[str] = []  # integer fields read as text (optional ones: "-" is allowed)
        schema = raw.schema
        for spec in self.format.fields:
            column, current, value = pl.col(spec.name), schema[spec.name], pl.col(f"_v_{spec.name}")
            if spec.type == "timestamp":
                if spec.encoding != "msec" or current != pl.Float64:
                    return None
                good = column.is_finite() & (column >= low) & (column < high)
                doubts.append((~good).fill_null(True).sum())
                # Not strict: NaN, inf or 1e300 must not raise here (the doubt above rejects them).
                converted.append(column.floor().cast(pl.Int64, strict=False).alias(TS))
            elif spec.type == "int" and current == pl.Int64:
                doubts.append((~(column >= 0).fill_null(False)).sum())
            elif spec.type == "int":
                texts.append(spec.name)
                converted.append(column.cast(pl.Int64, strict=False).alias(f"_v_{spec.name}"))
                doubts.append((~((value >= 0).fill_null(False) | (column == "-"))).sum())
            elif spec.type == "duration":
                seconds = column if current == pl.Float64 else column.cast(pl.Float64, strict=False)
                converted.append(seconds.alias(f"_v_{spec.name}"))
                good = ((value >= 0) & (value < 1e9)).fill_null(False)
                if current == pl.String:
                    # nginx's lists ("0.010, 0.020") fail the cast: parsed apart, row by row.
                    lists.append(spec.name)
                    good = good | value.is_null()
                doubts.append((~good).sum())
        typed = raw.with_columns(converted)
        if doubts and typed.select(pl.sum_horizontal(doubts)).item():
            return None
        durations = [s.name for s in self.format.fields if s.type == "duration"]
        finals = [pl.col(f"_v_{n}").alias(n) for n in texts]
        finals += [
            (pl.col(f"_v_{n}") * 1000).round().cast(pl.Int64, strict=False).alias(n) for n in durations
        ]
        out = typed.with_columns(finals)
        for name in lists:
            rows = typed.select(
                (pl.col(f"_v_{name}").is_null() & (pl.col(name) != "-")).arg_true()
            ).to_series()
            if not rows.is_empty():
                summed = raw.select(pl.col(name).gather(rows)).select(_duration_list(name)).to_series()
                if summed.null_count():
                    return None
                out = out.with_columns(chunked_like(out[name].scatter(rows, summed), out[TS]))
        drop = self.format.timestamp.name
        return out.select([c for c in out.columns if c != drop and not c.startswith("_v_")])

    def _typed_rows(self, raw: pl.DataFrame, out: ParsedChunk, line_at: Callable[[int], str]) -> pl.DataFrame:
        """Typed columns row by row: each bad row goes to `out.rejected` under its reason."""
        text_durations = [s for s in self._durations() if raw.schema[s.name] == pl.String]
        exprs: list[pl.Expr] = [pl.col(s.name).alias(f"_raw_{s.name}") for s in text_durations]
        flags: list[str] = []
        for spec in self.format.fields:
            if spec.type == "timestamp":
                ts = self._timestamp_expr(spec, raw.schema[spec.name])
                exprs += [ts.alias(TS), ts.is_null().alias("_bad_ts")]
            elif spec.type in ("int", "duration"):
                value, invalid = _number_expr(spec, raw.schema[spec.name])
                flags.append(f"_bad_{spec.name}")
                exprs += [value, invalid.alias(flags[-1])]
        # One pass: every expression reads the text columns as they came from the reader.
        typed = self._retry_duration_lists(raw.with_columns(exprs))
        number_flags = [pl.col(name) for name in flags]
        typed = typed.with_columns(
            _bad_number=pl.any_horizontal(number_flags) & ~pl.col("_bad_ts")
            if number_flags
            else pl.lit(False)
        )
        drop = ("_bad", "_raw_", self.format.timestamp.name)
        keep = [c for c in typed.columns if c == TS or not c.startswith(drop)]
        bad_ts, bad_number = typed["_bad_ts"], typed["_bad_number"]
        if not (bad_ts.any() or bad_number.any()):
            return typed.select(keep)
        for reason, mask in (("invalid_timestamp", bad_ts), ("invalid_number", bad_number)):
            if mask.any():
                out.reject(reason, int(mask.sum()), line_at(int(mask.arg_true()[0])))
        return typed.filter(~bad_ts & ~bad_number).select(keep)

    def _durations(self) -> list[FieldSpec]:
        return [s for s in self.format.fields if s.type == "duration"]

    @staticmethod
    def _retry_duration_lists(typed: pl.DataFrame) -> pl.DataFrame:
        """The list form fails the plain cast: parse just those rows and put them back."""
        for column in [c.removeprefix("_raw_") for c in typed.columns if c.startswith("_raw_")]:
            flag = f"_bad_{column}"
            rows = typed[flag].arg_true()
            if rows.is_empty():
                continue
            fixed = typed.select(pl.col(f"_raw_{column}").gather(rows)).select(
                _duration_list(f"_raw_{column}")
            )
            values = fixed.to_series()
            typed = typed.with_columns(
                typed[column].scatter(rows, values), typed[flag].scatter(rows, values.is_null())
            )
        return typed
