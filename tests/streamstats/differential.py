"""The native parser against the polars reference: the check the differential tests and the fuzz
target share, and the mutations the seeded fuzz run makes of good lines.

Every chunk is compared twice: as it is (the reference takes its fast path when it can) and with a
binary line after it (the reference's slow path, line by line). The native parser has one path, so
this also holds the reference's two paths equal to each other.
"""

from __future__ import annotations

import random

from streamstats.native import NativeChunkParser
from streamstats.parse import ParsedChunk

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


def check(parser: NativeChunkParser, chunk: bytes) -> None:
    """Both paths give the same lines, reject reasons, samples and columns, or AssertionError."""
    for data in (chunk, chunk + b"\x00\n"):
        native, reference = parser.parse(data), parser.reference.parse(data)
        if not same(native, reference):
            raise AssertionError(
                f"native and polars differ on {data!r}:\n"
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
