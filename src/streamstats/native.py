"""The native parser of the tab-separated formats (`streamstats._tsv`, in C), and the choice of path.

It gives the same `ParsedChunk` as the polars `ChunkParser` (the reference: the differential tests and
the fuzz target hold the two equal) without a Python object per field: one pass over the bytes splits,
checks and converts every line, and polars imports the good lines' columns through the Arrow C Data
Interface. A chunk the C code cannot decide exactly like the reference (see `_tsv.c`) is parsed by the
reference; so are the `regex` formats, timestamps other than `msec`, and everything when the extension
is not built (a source checkout without a compiler).

Given the batch's `Dictionary` of each string key column the agent counts, the parser also numbers
those columns: the codes go to `ParsedChunk.codes`, which the dense counters take as they are
(`streamstats.dense.DictionaryCodes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from streamstats.formats import FieldSpec, LogFormat
from streamstats.parse import _NUL_ERRORS, TS, ChunkParser, ParsedChunk

try:
    from streamstats import _tsv
    from streamstats._tsv import Dictionary, DictionaryFull  # noqa: F401 (for streamstats.dense)
except ImportError:  # not built: the polars path does everything (and no DictionaryCodes is made)
    _tsv = None

NATIVE, POLARS = "native", "polars"
REASONS = (None, "binary", "field_count", "invalid_timestamp", "invalid_number")  # the C codes, in order


def _kind(spec: FieldSpec) -> str:
    kinds = {"string": "S", "timestamp": "T", "int": "I", "duration": "D"}
    kind = kinds[spec.type]
    return kind.lower() if spec.type in ("int", "duration") and not spec.required else kind


def supports(fmt: LogFormat) -> bool:
    """Whether the native parser reads this format (the extension built, tsv, timestamps in seconds)."""
    return _tsv is not None and fmt.type == "tsv" and fmt.timestamp.encoding == "msec"


@dataclass(frozen=True)
class ArrowCapsules:
    """The capsules of an array the C code made (the parser's struct array, a Dictionary's values), for
    polars' Arrow PyCapsule import (read once)."""

    capsules: tuple[object, object]

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self.capsules


class NativeChunkParser:
    """`ChunkParser.parse` in C for the tsv formats; the polars reference for the chunks it declines."""

    def __init__(self, fmt: LogFormat, ts_bounds: tuple[int, int]) -> None:
        if not supports(fmt):
            raise ValueError(f"the native parser does not read format {fmt.name!r}")
        self.format = fmt
        self.reference = ChunkParser(fmt, ts_bounds)
        self._names = tuple(f.name for f in fmt.fields)
        self._kinds = "".join(_kind(f) for f in fmt.fields)
        self._bounds = ts_bounds
        self.declined = 0  # chunks handed to the reference

    def parse(self, chunk: bytes, dictionaries: Mapping[str, Dictionary] | None = None) -> ParsedChunk:
        """The chunk parsed; the string fields in `dictionaries` numbered there (not in a chunk the
        reference parses: its caller numbers those columns itself)."""
        if not chunk:
            return self.reference.parse(chunk)
        low, high = self._bounds
        fill = tuple(dictionaries.get(n) for n in self._names) if dictionaries else None
        result = _tsv.parse(chunk, self._names, self._kinds, low, high, TS, fill)
        if result is None:
            self.declined += 1
            return self.reference.parse(chunk)
        lines, reasons, firsts, capsules, codes = result
        out = ParsedChunk(pl.DataFrame(ArrowCapsules(capsules)), lines)
        good = out.good
        for name, buffer in zip(self._names, codes, strict=True):
            if dictionaries and name in dictionaries:
                out.codes[name] = None if buffer is None else np.frombuffer(buffer, np.intp, good)
        for code, first in enumerate(firsts):
            if first is not None:
                start, end = first
                sample = chunk[start:end].decode("utf-8", _NUL_ERRORS)
                out.reject(REASONS[code], reasons.count(code), sample)
        return out


def chunk_parser(
    fmt: LogFormat, ts_bounds: tuple[int, int], wanted: str = NATIVE
) -> tuple[ChunkParser | NativeChunkParser, str]:
    """The parser for `fmt` and the name of its path: native where it can (unless `wanted` is polars),
    polars otherwise."""
    if wanted == NATIVE and supports(fmt):
        return NativeChunkParser(fmt, ts_bounds), NATIVE
    return ChunkParser(fmt, ts_bounds), POLARS
