"""The batch parser: every line of a chunk is either counted or rejected for one reason, whichever
path (fast or slow) the chunk takes, and bad lines never disturb the good lines around them."""

from __future__ import annotations

import polars as pl
import pytest

from streamstats import generate
from streamstats.formats import builtin_formats
from streamstats.parse import TS, ChunkParser

BOUNDS = (946_684_800, 4_102_444_800)
CDN = ChunkParser(builtin_formats()["cdn"], BOUNDS)
GOOD = generate.to_bytes(generate.frame(0, 200, seed=5)).splitlines(keepends=True)


def _field(line: bytes, index: int, value: bytes) -> bytes:
    fields = line.rstrip(b"\n").split(b"\t")
    fields[index] = value
    return b"\t".join(fields) + b"\n"


BAD = {
    "binary": [b"\x00\x00\x00" + GOOD[0], b"\xff\xfe\xfd garbage\n", GOOD[1].replace(b"GET", b"G\rT")],
    "field_count": [b"just some words\n", b"\n", GOOD[2][:120] + b"\n", GOOD[3].rstrip(b"\n") + b"\textra\n"],
    "invalid_timestamp": [
        _field(GOOD[4], 0, b"0.000"),
        _field(GOOD[4], 0, b"99999999999.000"),
        _field(GOOD[4], 0, b"nan"),
        _field(GOOD[4], 0, b"yesterday"),
    ],
    "invalid_number": [
        _field(GOOD[5], 9, b"12x"),
        _field(GOOD[5], 9, b"-"),
        _field(GOOD[5], 9, b"-5"),
        _field(GOOD[5], 12, b"inf"),
        _field(GOOD[5], 18, b"AS123"),
    ],
}


def _totals(frame: pl.DataFrame) -> tuple[int, int]:
    return frame.height, int(frame["bytes_sent"].sum())


def _expected(lines: list[bytes]) -> tuple[int, int]:
    return len(lines), sum(int(line.split(b"\t")[9]) for line in lines)


def test_a_clean_chunk_takes_the_fast_path_and_types_every_field():
    parsed = CDN.parse(b"".join(GOOD))
    assert (parsed.lines, parsed.good, parsed.rejected) == (200, 200, {})
    frame = parsed.frame
    assert _totals(frame) == _expected(GOOD)
    first = GOOD[0].decode().rstrip("\n").split("\t")
    assert frame[TS][0] == int(float(first[0]))
    assert frame["request_time"][0] == round(float(first[12]) * 1000)
    assert frame["customer"][0] == first[1]


@pytest.mark.parametrize("reason", sorted(BAD))
def test_each_kind_of_bad_line_is_counted_under_its_reason(reason):
    chunk = b"".join(GOOD[10:20] + BAD[reason] + GOOD[20:30])
    parsed = CDN.parse(chunk)
    assert parsed.rejected == {reason: len(BAD[reason])}
    assert parsed.samples[reason]
    assert _totals(parsed.frame) == _expected(GOOD[10:30])


def test_every_bad_line_at_once_and_the_good_lines_exactly():
    bad = [line for lines in BAD.values() for line in lines]
    lines = [line for pair in zip(GOOD[: len(bad)], bad, strict=True) for line in pair] + GOOD[len(bad) :]
    parsed = CDN.parse(b"".join(lines))
    assert parsed.lines == len(lines)
    assert parsed.rejected == {reason: len(v) for reason, v in BAD.items()}
    assert _totals(parsed.frame) == _expected(GOOD)


def test_fast_and_slow_paths_agree_line_by_line():
    """A line is good or bad on its own: the same whatever chunk it shares."""
    odd = [
        GOOD[0].replace(b"\n", b"\r\n"),
        _field(GOOD[1], 13, b"0.010, 0.020 : 0.005"),
        _field(GOOD[2], 16, b""),
    ]
    clean = CDN.parse(b"".join(odd))
    dirty = CDN.parse(b"".join([*odd, b"\x00garbage\n"]))
    assert clean.good == dirty.good == 3
    assert clean.frame.equals(dirty.frame)
    assert clean.frame["upstream_time"][1] == 35


def test_required_fields_and_optional_dashes():
    line = _field(_field(GOOD[6], 13, b"-"), 18, b"-")
    frame = CDN.parse(line).frame
    assert frame["upstream_time"][0] is None and frame["asn"][0] is None
    assert CDN.parse(_field(GOOD[6], 12, b"-")).rejected == {"invalid_number": 1}


def test_timestamp_bounds_are_configuration():
    narrow = ChunkParser(builtin_formats()["cdn"], (0, 1_000_000_000))
    assert narrow.parse(GOOD[0]).rejected == {"invalid_timestamp": 1}


def test_combined_format():
    parser = ChunkParser(builtin_formats()["combined"], BOUNDS)
    lines = (
        b'203.0.113.9 - - [26/Nov/2024:10:00:00 +0000] "GET /a.jpg?x=1 HTTP/1.1" 200 1234 "-" "curl/8.11"\n'
        b'203.0.113.9 - bob [26/Nov/2024:11:00:01 +0100] "-" 400 0 "-" "-"\n'
        b'203.0.113.9 - - [26/Nov/2024:10:00:02 +0000] "GET / HTTP/2.0" 304 - '
        b'"http://x/" "Mozilla \\"quoted\\""\n'
        b"not a log line\n"
        b'203.0.113.9 - - [31/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    )
    parsed = parser.parse(lines)
    assert parsed.rejected == {"format": 1, "invalid_timestamp": 1}
    frame = parsed.frame
    assert frame[TS].to_list() == [1732615200, 1732615201, 1732615202]
    assert frame["method"].to_list() == ["GET", "-", "GET"]
    assert frame["bytes_sent"].to_list() == [1234, 0, None]
    assert frame["user_agent"][2] == 'Mozilla \\"quoted\\"'


@pytest.mark.parametrize(
    ("index", "value", "reason"),
    [
        (0, b"nan", "invalid_timestamp"),
        (0, b"inf", "invalid_timestamp"),
        (0, b"1e300", "invalid_timestamp"),
        (12, b"2000000000", "invalid_number"),
        (13, b"2000000000", "invalid_number"),
        (13, b"999999999, 1", "invalid_number"),
    ],
)
def test_non_finite_timestamps_and_durations_past_bounds_on_both_paths(index, value, reason):
    """Found by the native parser's differential tests: a non-finite timestamp alone in a chunk raised
    from the fast path; a duration past its bounds passed the slow path as a one-number list."""
    line = _field(GOOD[4], index, value)
    assert CDN.parse(line).rejected == {reason: 1}
    assert CDN.parse(line + b"\x00\n").rejected == {reason: 1, "binary": 1}
