"""The native parser against the polars reference: the check the differential tests and the fuzz
target share, and the mutations the seeded fuzz run makes of good lines.

Every chunk is compared twice: as it is (the reference takes its fast path when it can) and with a
binary line after it (the reference's slow path, line by line). The native parser has one path, so
this also holds the reference's two paths equal to each other. Each time, the native parser also
numbers every string field, into dictionaries shared by both (codes stable from one call to the next)
and into fresh ones with tiny caps (that fill up): the codes must spell the reference's values cut to
the field's length, and a column's codes are missing exactly when its values do not fit the caps.
The reference's string columns are also numbered through `Dictionary.encode_column` (filtered, and
sliced then in two chunks: views at an offset, in several buffers), and spelled back through
`Dictionary.take`, which must give the same values.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from streamstats import native as native_path
from streamstats.native import NativeChunkParser
from streamstats.parse import ParsedChunk

if TYPE_CHECKING:  # built: the native tests and the fuzz target run only then
    from streamstats.native import Dictionary

# The caps of the small dictionaries: a chunk of a few lines fills some of them.
SMALL_VALUES, SMALL_BYTES = 3, 40

# Field values at the edges of the grammar the polars casts and the CSV reader accept.
TOKENS = (
    b"", b"-", b"+", b"--", b"0", b"-0", b"+5", b" 5", b"5 ", b"  12", b"007", b"1e3", b"1E+2", b"1.e5",
    b".5", b"5.", b".", b"e5", b"1e", b"+.5", b"-.5", b"inf", b"-inf", b"nan", b"NaN", b"Infinity", b"1e400",
    b"1e-400", b"0x10", b"1_0", b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"18446744073709551616", b"0.0005", b"0.0015", b"0.0025", b"999999999.9995", b"999999999.9999996",
    b"1000000000", b"2000000000", b"0.010, 0.020", b"0.010, 0.020 : 0.005", b"1,2,3,4", b"1 ,2", b"1\x0b,2",
    b"1\x0c:2", b"1\xc2\xa0,2", b"\xe2\x80\x83,2", b"1,", b",1", b"1,,2", b"0.1:0.2:0.3", b"1.5.5",
    b"\xef\xbb\xbf1", b"1732579200.123", b"1732579200", b"946684799.999", b"946684800", b"4102444800",
    b"4102444799.9999",
    b"\xc3\xa9", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xff", b"\x00", b"\r",
    b"a\rb", b"\xef\xbb\xbf", b"\xf0\x9f\x98\x80", b"\xc2", b"1" * 600, b"0." + b"1" * 600,
)  # fmt: skip


def same(native: ParsedChunk, reference: ParsedChunk) -> bool:
    return (
        native.lines == reference.lines
        and native.rejected == reference.rejected
        and native.samples == reference.samples
        and native.frame.schema == reference.frame.schema
        and native.frame.equals(reference.frame)
    )


def dictionaries(parser: NativeChunkParser, **caps: int) -> dict[str, Dictionary]:
    """A dictionary for each string field of the parser's format, cut to the field's length."""
    fields = parser.format.fields
    return {f.name: native_path.Dictionary(f.max_length, **caps) for f in fields if f.type == "string"}


def _fits(values: pl.Series) -> bool:
    """Whether a small dictionary takes these values."""
    distinct = values.unique()
    return distinct.len() <= SMALL_VALUES and distinct.str.len_bytes().sum() <= SMALL_BYTES


def wrong_codes(numbered: dict[str, Dictionary], native: ParsedChunk, reference: ParsedChunk) -> str | None:
    """What is wrong with the codes of a chunk the native parser numbered, or None."""
    for name, dictionary in numbered.items():
        want = reference.frame[name].str.slice(0, dictionary.max_chars)
        codes = native.codes[name]
        if codes is None:
            if dictionary.max_values > SMALL_VALUES or _fits(want):
                return f"{name}: no codes, though its values fit"
            continue
        got = pl.Series(dictionary.values(), dtype=pl.String).gather(codes)
        if not got.equals(want, check_names=False):
            return f"{name}: codes spell {got.to_list()[:5]}, not {want.to_list()[:5]}"
    return None


def wrong_column_codes(parser: NativeChunkParser, reference: ParsedChunk) -> str | None:
    """What is wrong with the codes `encode_column` gives the reference's string columns (spelled by
    `take`), or None."""
    frame = reference.frame
    every_other = pl.Series([i % 2 == 1 for i in range(frame.height)], dtype=pl.Boolean)
    for name, dictionary in dictionaries(parser).items():
        whole = frame[name]
        for part in (whole.filter(every_other), pl.concat([whole.slice(1), whole], rechunk=False)):
            codes = np.frombuffer(dictionary.encode_column(part), np.intp)
            got = pl.Series(native_path.ArrowCapsules(dictionary.take(codes)))
            if not got.equals(part.str.slice(0, dictionary.max_chars), check_names=False):
                return f"{name}: encode_column's codes spell {got.to_list()[:5]}"
    return None


def check(parser: NativeChunkParser, chunk: bytes, shared: dict[str, Dictionary] | None = None) -> None:
    """Both paths give the same lines, reject reasons, samples and columns, and the native codes spell
    the reference's values, or AssertionError. `shared`: dictionaries kept from call to call."""
    shared = shared if shared is not None else dictionaries(parser)
    for data in (chunk, chunk + b"\x00\n"):
        for numbered in (shared, dictionaries(parser, max_values=SMALL_VALUES, max_bytes=SMALL_BYTES)):
            declined = parser.declined
            native, reference = parser.parse(data, numbered), parser.reference.parse(data)
            wrong = "" if same(native, reference) else "columns"
            if not wrong and parser.declined == declined:  # a declined chunk is numbered by its caller
                wrong = wrong_codes(numbered, native, reference) or ""
            if not wrong and numbered is shared:
                wrong = wrong_column_codes(parser, reference) or ""
            if wrong:
                raise AssertionError(
                    f"native and polars differ on {data!r} ({wrong}):\n"
                    f"native    {native.lines} {native.rejected} {native.samples}\n{native.frame}\n"
                    f"reference {reference.lines} {reference.rejected} {reference.samples}\n{reference.frame}"
                )


def mutate(rng: random.Random, lines: list[bytes]) -> bytes:
    """A few lines, each changed in a random way or not at all; always whole lines."""
    out = []
    for line in rng.sample(lines, rng.randint(1, min(6, len(lines)))):
        fields = line.rstrip(b"\n").split(b"\t")
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            what = rng.randrange(8)
            index = rng.randrange(len(fields))
            if what < 4:
                fields[index] = rng.choice(TOKENS)
            elif what == 4:
                fields[index] = rng.choice(TOKENS) + fields[index] + rng.choice(TOKENS)
            elif what == 5 and len(fields) > 1:
                del fields[index]
            elif what == 6:
                fields.insert(index, rng.choice(TOKENS))
            elif what == 7:
                raw = bytearray(b"\t".join(fields) or b"-")
                for _ in range(rng.randint(1, 4)):
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
                fields = bytes(raw).replace(b"\n", b" ").split(b"\t")
        joined = b"\t".join(fields)
        if rng.random() < 0.05:
            joined += b"\r"
        if rng.random() < 0.03:
            joined = b"\xef\xbb\xbf" + joined
        out.append(joined + b"\n")
    return b"".join(out)
