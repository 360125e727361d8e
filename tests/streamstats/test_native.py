"""The native tsv parser (C) gives exactly what the polars parser gives: the same columns, reject
reasons and samples, on the generator's logs, on the malformed lines of the other tests, on the edges
of the number grammar, on the fuzzer's corpus and on seeded random mutations, and codes of its string
columns that spell the same values (tests/streamstats/differential.py has the check; `make fuzz` runs
the long, coverage-guided fuzz); and its per-batch dictionaries of string keys."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from streamstats import generate, native
from streamstats.formats import builtin_formats
from streamstats.native import NATIVE, POLARS, NativeChunkParser, chunk_parser, supports
from streamstats.parse import ChunkParser
from tests.streamstats.differential import TOKENS, check, dictionaries, mutate
from tests.streamstats.test_malformed import _garbage
from tests.streamstats.test_parse import BAD, BOUNDS, GOOD, _field

pytestmark = pytest.mark.skipif(not supports(builtin_formats()["cdn"]), reason="streamstats._tsv not built")

CORPUS = Path(__file__).parent / "fuzz_corpus"
NUMBERS = (0, 8, 9, 10, 11, 12, 13, 18)  # the cdn format's timestamp, int and duration fields
SEEDED_RUNS = 400


@pytest.fixture(scope="module")
def parser() -> NativeChunkParser:
    return NativeChunkParser(builtin_formats()["cdn"], BOUNDS)


def test_the_native_path_is_chosen_for_tsv_and_polars_for_regex():
    formats = builtin_formats()
    native, path = chunk_parser(formats["cdn"], BOUNDS)
    assert path == NATIVE and isinstance(native, NativeChunkParser)
    regex, path = chunk_parser(formats["combined"], BOUNDS)
    assert path == POLARS and isinstance(regex, ChunkParser)
    turned_off, path = chunk_parser(formats["cdn"], BOUNDS, "polars")  # the agent's `parser: polars`
    assert path == POLARS and isinstance(turned_off, ChunkParser)


def test_the_generators_logs_in_chunks_of_every_size(parser):
    data = generate.to_bytes(generate.frame(0, 20_000, seed=11))
    lines = data.splitlines(keepends=True)
    start = 0
    shared = dictionaries(parser)  # one batch: the codes of each chunk in the same dictionaries
    for size in (1, 2, 7, 100, 1_000, 5_000, 13_892):
        check(parser, b"".join(lines[start : start + size]), shared)
        start += size
    assert parser.declined == 0
    customers = parser.reference.parse(b"".join(lines[:start])).frame["customer"]
    assert shared["customer"].values() == customers.unique(maintain_order=True).to_list()


def test_the_malformed_lines_of_the_parser_and_agent_tests(parser):
    rng = random.Random(3)
    garbage = _garbage(rng, GOOD)
    bad = [line for lines in [*BAD.values(), *garbage.values()] for line in lines]
    for line in bad:
        check(parser, line)
        check(parser, b"".join(GOOD[:5]) + line + b"".join(GOOD[5:10]))
    check(parser, b"".join(line for pair in zip(GOOD, bad, strict=False) for line in pair))


@pytest.mark.parametrize("token", TOKENS, ids=repr)
def test_each_number_field_at_the_edges_of_the_grammar(parser, token):
    check(parser, b"".join(_field(GOOD[i], field, token) for i, field in enumerate(NUMBERS)))


def test_line_ends_and_byte_order_marks(parser):
    crlf = [line.replace(b"\n", b"\r\n") for line in GOOD[:3]]
    check(parser, b"".join(crlf))
    check(parser, GOOD[0].replace(b"\n", b"\r\r\n") + b"\r\n" + GOOD[1])
    check(parser, b"\xef\xbb\xbf" + b"".join(GOOD[:3]))
    check(parser, b"\xef\xbb\xbf\n" + b"\xef\xbb\xbf" + b"".join(GOOD[:3]))
    check(parser, b"garbage\n" + b"\xef\xbb\xbf" + GOOD[0] + b"\xef\xbb\xbf" + GOOD[1])


def test_a_list_of_four_upstream_times_is_left_to_the_reference(parser):
    declined = parser.declined
    check(parser, _field(GOOD[0], 13, b"0.001, 0.002, 0.003 : 0.004"))
    assert parser.declined == declined + 4  # two chunks, each parsed with two sets of dictionaries


def test_the_fuzzers_corpus(parser):
    files = sorted(CORPUS.iterdir())
    assert files, f"{CORPUS} is empty"
    for path in files:
        data = path.read_bytes()
        check(parser, data if data.endswith(b"\n") else data + b"\n")


def test_seeded_random_mutations(parser):
    rng = random.Random(17)
    lines = GOOD + [line for lines in BAD.values() for line in lines]
    for _ in range(SEEDED_RUNS):
        check(parser, mutate(rng, lines))


def test_a_dictionary_numbers_values_in_order_of_first_appearance_and_keeps_them():
    d = native.Dictionary(6)  # values cut to 6 characters, as the agent cuts a key
    values = ["GET", "", "POST", "GET", "a" * 12, "a" * 13, "é" * 9, "日本語のテキスト", "POST"]
    assert d.encode(values) == [0, 1, 2, 0, 3, 3, 4, 5, 2]
    assert d.encode(["POST", "new", "GET"]) == [2, 6, 0]  # the same codes from call to call
    assert d.values() == ["GET", "", "POST", "a" * 6, "é" * 6, "日本語のテキ", "new"]
    assert d.values(5) == ["日本語のテキ", "new"]
    long = native.Dictionary(100)  # values of more than 12 bytes are kept outside the key
    values = ["a" * 12, "a" * 13, "x" * 20 + "1" + "x" * 20, "x" * 20 + "2" + "x" * 20, "a" * 13, "b" * 99]
    assert long.encode(values) == [0, 1, 2, 3, 1, 4]
    assert long.values() == [values[i] for i in (0, 1, 2, 3, 5)]
    many = [f"value-{i % 7_000}" * (1 + i % 9) for i in range(40_000)]  # the table grows many times
    first: dict[str, int] = {}
    codes = [first.setdefault(v[:64], len(first)) for v in many]
    grown = native.Dictionary(64)
    assert grown.encode(many) == codes
    assert grown.values() == list(first)


def test_a_dictionary_holds_no_more_than_its_caps():
    d = native.Dictionary(100, max_values=3, max_bytes=30)
    assert d.encode(["one", "two", "one"]) == [0, 1, 0]
    with pytest.raises(native.DictionaryFull):
        d.encode(["three", "four"])  # "three" fits, "four" would be a fourth value
    assert d.values() == ["one", "two", "three"]
    assert d.encode(["two", "three"]) == [1, 2]  # values it holds still have their codes
    by_bytes = native.Dictionary(100, max_bytes=30)
    by_bytes.encode(["x" * 20, "y" * 10])
    with pytest.raises(native.DictionaryFull):
        by_bytes.encode(["z"])
    assert (len(by_bytes), by_bytes.max_values, by_bytes.max_chars) == (2, 1 << 18, 100)
    assert native.Dictionary(8).max_bytes == 1 << 23


def test_a_dictionary_numbers_a_polars_column_through_arrow():
    """`encode_column` reads the column's Arrow string views (no Python object per value): the same codes
    as `encode`, from a column in several chunks, sliced or filtered; NULLs and other types refused.
    `take` spells codes back as an Arrow string-view array."""
    values = ["GET", "", "POST", "a" * 13, "é" * 9, "日本語のテキスト", "x" * 20 + "1" + "x" * 20]
    column = pl.Series(values * 3)
    pieces = pl.concat([column.slice(0, 5), column.slice(5)], rechunk=False)
    assert pieces.n_chunks() == 2
    thirds = column.filter(pl.Series([i % 3 == 0 for i in range(21)]))
    for part in (column, pieces, column.slice(2, 9), thirds):
        by_column, by_list = native.Dictionary(6), native.Dictionary(6)
        got = np.frombuffer(by_column.encode_column(part), np.intp).tolist()
        assert got == by_list.encode(part.to_list())
        assert by_column.values() == by_list.values()
    empty = native.Dictionary(3).encode_column(pl.Series([], dtype=pl.String))
    assert np.frombuffer(empty, np.intp).size == 0
    with pytest.raises(ValueError, match="without nulls"):
        native.Dictionary(3).encode_column(pl.Series(["a", None]))
    with pytest.raises(ValueError, match="string-view"):
        native.Dictionary(3).encode_column(pl.Series([1, 2]))
    spelled = native.Dictionary(64)
    codes = np.frombuffer(spelled.encode_column(column), np.intp)[::-1].copy()
    assert pl.Series(native.ArrowCapsules(spelled.take(codes))).to_list() == values[::-1] * 3
    assert pl.Series(native.ArrowCapsules(spelled.take(codes[:0]))).len() == 0
    with pytest.raises(IndexError):
        spelled.take(np.array([len(spelled)], np.intp))
    full = native.Dictionary(10, max_values=2)
    with pytest.raises(native.DictionaryFull):
        full.encode_column(pl.Series(["a", "b", "c", "a"]))
    assert full.values() == ["a", "b"]


def test_a_parse_numbers_into_the_dictionaries_it_is_given(parser):
    chunk = b"".join(GOOD[:50])
    customers = dictionaries(parser)["customer"]
    parsed = parser.parse(chunk, {"customer": customers})
    assert set(parsed.codes) == {"customer"}
    codes = parsed.codes["customer"]
    assert codes is not None
    assert [customers.values()[c] for c in codes] == parsed.frame["customer"].to_list()
    again = parser.parse(chunk, {"customer": customers}).codes["customer"]
    assert again is not None and again.tolist() == codes.tolist() and len(customers) == codes.max() + 1
    full = native.Dictionary(64, max_values=2)
    assert parser.parse(chunk, {"customer": full}).codes == {"customer": None}  # the polars path counts it
    assert len(full) == 2
    with pytest.raises(TypeError):
        parser.parse(chunk, {"status": native.Dictionary(3)})  # not a string field
    with pytest.raises(RuntimeError):
        parser.parse(chunk, {"customer": customers, "vhost": customers})  # one field each
    assert parser.parse(chunk, {"customer": customers}).codes["customer"] is not None  # not left busy
