"""The batch counters (numpy dense groups, rows of integers for the top-N statistics) against the
straightforward polars group-by path (`Engine.count` per chunk, summed with `merge`), on generated
chunks with bad lines, several buckets per chunk, late lines, missing integer keys, constant fields,
filters, sampling and every kind of value; also with the groups' limits made tiny, so that every
hand-over path (window too wide, new key values, lookup tables, top values and rows) is taken. With
either parser: the native one numbers the string keys into the batch's C dictionaries (also made to
fill up), the polars one leaves them to polars' Categorical casts."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from streamstats import dense, generate, native, top
from streamstats.aggregate import TOP_CANDIDATES, Engine, merge
from streamstats.counters import Counters
from streamstats.formats import load_formats
from streamstats.native import NATIVE, POLARS, NativeChunkParser, _tsv
from streamstats.parse import ChunkParser
from streamstats.statistics import BUCKET_COLUMN, Statistic, StatisticSet, load_statistic_set
from tests.streamstats.test_native import CORPUS
from tests.streamstats.test_parse import BAD, GOOD, _field

FORMATS = load_formats(None)
BOUNDS = (946_684_800, 4_102_444_800)
CDN = load_statistic_set("cdn", FORMATS, Path("."))


def _stat(name: str, keys: list[str], values: dict[str, str], bucket: str = "1m", **more: object) -> dict:
    return {
        "name": name,
        "keys": keys,
        "bucket": bucket,
        "values": values,
        "flush_interval": "1m",
        "retention": "1d",
        **more,
    }


# Every feature a statistic may use; top-N statistics get an n that nothing reaches, so that their
# pruning (approximate by design) keeps every row and the comparison is exact.
FEATURES = load_statistic_set(
    {
        "format": "cdn",
        "constant_fields": ["region"],
        "statistics": [
            _stat("total", [], {"requests": "count", "rt": "avg(request_time)", "up": "avg(upstream_time)"}),
            _stat("by_asn", ["asn"], {"requests": "count", "bytes": "sum(bytes_sent)"}, "5m"),
            _stat(
                "by_class", ["customer", "status_class"], {"requests": "count", "up": "avg(upstream_time)"}
            ),
            _stat("by_hit", ["cache_hit", "region"], {"requests": "count", "hits": "sum(cache_hit)"}, "1h"),
            _stat("three", ["pop", "country", "method"], {"requests": "count"}, "5m"),
            _stat("vhosts", ["customer", "vhost"], {"bytes": "sum(body_bytes)"}, "1h"),
            _stat(
                "errors", ["customer"], {"requests": "count"}, "1m", where={"status_class": ["4xx", "5xx"]}
            ),
            _stat("tls", ["customer"], {"requests": "count"}, "5m", where={"tls_version": ["TLSv1.2", "-"]}),
            _stat(
                "sampled",
                ["country"],
                {"requests": "count", "bytes": "sum(bytes_sent)", "up": "avg(upstream_time)"},
                "5m",
                sample={"one_in": 3, "by": "request_id"},
            ),
            _stat(
                "top_paths",
                ["customer"],
                {"requests": "count", "bytes": "sum(bytes_sent)"},
                "1h",
                top={"field": "path", "n": 10000, "max_length": 20},
                sample={"one_in": 4, "by": "request_id"},
            ),
            _stat(
                "top_agents",
                ["region"],
                {"requests": "count"},
                "1h",
                top={"field": "user_agent", "n": 10000},
                where={"status_class": ["2xx"]},
            ),
        ],
    },
    FORMATS,
    Path("."),
)
CONSTANTS = {"region": "eu-west"}
# The parser of the batch: the native one numbers the string keys into the batch's dictionaries.
PATHS = [
    POLARS,
    pytest.param(NATIVE, marks=pytest.mark.skipif(_tsv is None, reason="streamstats._tsv not built")),
]


def _chunks(seed: int, count: int = 6) -> list[bytes]:
    """Chunks of 4,000 lines at 3 lines a second (each spans about 22 one-minute buckets), some lines
    late (from the chunk before), some bad, some with a missing ASN or a list of upstream times."""
    frame = generate.frame(0, 4000 * count, seed=seed, rate=3.0, start=1_732_579_200 + 1234)
    frame = frame.with_columns(
        asn=pl.when(pl.int_range(pl.len()) % 17 == 0).then(pl.lit("-")).otherwise("asn"),
        vhost=pl.when(pl.int_range(pl.len()) % 501 == 0).then(pl.lit("x" * 300)).otherwise("vhost"),
    )
    lines = generate.to_bytes(frame).splitlines(keepends=True)
    out = []
    for i in range(count):
        chunk = lines[i * 4000 : (i + 1) * 4000]
        if i:
            chunk[100:100] = lines[i * 4000 - 50 : i * 4000 - 40]  # late lines, older buckets
        chunk[7:7] = [b"not a log line\n", chunk[3].replace(b"\tGET\t", b"\tGET\t\t")]
        out.append(b"".join(chunk))
    return out


def _reference(stats: StatisticSet, chunks: list[bytes], active: list[list[str]]) -> dict[str, pl.DataFrame]:
    engine, parser = Engine(stats), ChunkParser(stats.format, BOUNDS)
    parts: dict[str, list[pl.DataFrame]] = {s.name: [] for s in stats.statistics}
    for chunk, names in zip(chunks, active, strict=True):
        counted = [s for s in stats.statistics if s.name in names]
        for name, frame in engine.count(parser.parse(chunk).frame, counted, CONSTANTS).items():
            parts[name].append(frame)
    return {s.name: merge(s, parts[s.name]) for s in stats.statistics}


def _counted(
    stats: StatisticSet, chunks: list[bytes], active: list[list[str]], path: str = POLARS
) -> dict[str, pl.DataFrame]:
    """The counters of a batch; `path` native: the native parser numbers the string keys."""
    parser = NativeChunkParser(stats.format, BOUNDS) if path == NATIVE else ChunkParser(stats.format, BOUNDS)
    counters = Counters(Engine(stats), parser)
    for chunk, names in zip(chunks, active, strict=True):
        parsed = counters.parse(chunk)
        counted = [s for s in stats.statistics if s.name in names]
        counters.add(parsed.frame, counted, CONSTANTS, parsed.codes)
    return counters.take()


def _assert_leaders(stat: Statistic, got: pl.DataFrame, want: pl.DataFrame) -> None:
    """A pruned top-N: its rows are exact rows of the full count, as many per bucket and key as the
    full count has up to the 2 x n kept, and none dropped counts more than one kept (ties at the cut
    are broken arbitrarily)."""
    assert stat.top is not None
    group, first = [BUCKET_COLUMN, *(k.name for k in stat.keys)], stat.value_columns[0]
    assert got.join(want, on=list(stat.columns), how="anti").is_empty()
    dropped = want.join(got, on=list(stat.columns), how="anti")
    kept = got.group_by(group).agg(pl.len().alias("kept"), pl.col(first).min().alias("least"))
    full = want.group_by(group).agg(pl.len().alias("all"))
    sizes = kept.join(full, on=group)
    assert sizes.height == full.height
    assert (sizes["kept"] == sizes["all"].clip(upper_bound=stat.top.n * TOP_CANDIDATES)).all()
    cut = dropped.join(kept, on=group).filter(pl.col(first) > pl.col("least"))
    assert cut.is_empty()


def _assert_same(stats: StatisticSet, got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    assert set(got) == {s.name for s in stats.statistics}
    for stat in stats.statistics:
        order = list(stat.columns)
        mine, theirs = got[stat.name].sort(order), want[stat.name].sort(order)
        assert mine.schema == theirs.schema, stat.name
        if stat.top and stat.top.n * TOP_CANDIDATES < 10000:
            _assert_leaders(stat, mine, theirs)
        else:
            assert mine.equals(theirs), f"{stat.name}: {mine.height} rows against {theirs.height}"


def _all(stats: StatisticSet, count: int) -> list[list[str]]:
    return [[s.name for s in stats.statistics]] * count


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("stats", [CDN, FEATURES], ids=["cdn", "features"])
def test_the_same_rows_as_the_polars_group_bys(stats: StatisticSet, path: str):
    chunks = _chunks(seed=3)
    counted = _counted(stats, chunks, _all(stats, len(chunks)), path)
    _assert_same(stats, counted, _reference(stats, chunks, _all(stats, len(chunks))))
    assert counted["top_paths" if stats is FEATURES else "customer_traffic"].height > 100


@pytest.mark.parametrize("path", PATHS)
def test_malformed_lines_and_chunks_the_native_parser_declines(path: str):
    """Bad lines among good ones, the fuzzer's corpus (odd but good lines too: long and non-ASCII keys,
    cut to their length), and chunks the native parser leaves to polars (whose keys are numbered into
    the same dictionaries)."""
    bad = [line for lines in BAD.values() for line in lines]
    corpus = [p.read_bytes() for p in sorted(CORPUS.iterdir())]
    declined = _field(GOOD[0], 13, b"0.001, 0.002, 0.003 : 0.004")
    chunks = [b"".join(GOOD[:100] + bad), *(c if c.endswith(b"\n") else c + b"\n" for c in corpus)]
    chunks += [declined + b"".join(GOOD[100:])]
    active = _all(FEATURES, len(chunks))
    _assert_same(FEATURES, _counted(FEATURES, chunks, active, path), _reference(FEATURES, chunks, active))


@pytest.mark.skipif(_tsv is None, reason="streamstats._tsv not built")
@pytest.mark.parametrize("caps", [{"max_values": 40}, {"max_bytes": 200}], ids=["values", "bytes"])
def test_dictionaries_that_fill_up_leave_their_columns_to_polars(monkeypatch: pytest.MonkeyPatch, caps):
    monkeypatch.setattr(native, "Dictionary", functools.partial(_tsv.Dictionary, **caps))
    chunks = _chunks(seed=5, count=3)
    active = _all(FEATURES, len(chunks))
    _assert_same(FEATURES, _counted(FEATURES, chunks, active, NATIVE), _reference(FEATURES, chunks, active))


@pytest.mark.parametrize(
    ("module", "limits"),
    [
        (dense, {"MAX_WINDOW_CELLS": 64}),  # the window is handed over (or the chunk counted by polars)
        (dense, {"DIRECT_CELLS": 4}),  # lookup tables for every group with keys
        (dense, {"DIRECT_CELLS": 4, "MAX_LOOKUP": 64}),  # lookup tables too large: polars
        (dense, {"DIRECT_CELLS": 4, "MAX_WINDOW_CELLS": 20_000}),
        (top, {"MERGE_ROWS": 0}),  # top-N rows merged after every chunk
        (top, {"MAX_TOP_VALUES": 100}),  # the paths' numbering fills up mid-batch: hand-overs
        (top, {"MAX_TOP_VALUES": 30}),  # not even one chunk's paths fit (about 100): polars
        (top, {"MAX_TOP_ROWS": 50, "MERGE_ROWS": 0}),  # too many top-N rows held: hand-overs
    ],
    ids=[
        "narrow-window", "lookup", "lookup-too-large", "lookup-narrow",
        "top-merged", "top-values", "top-values-polars", "top-rows",
    ],
)  # fmt: skip
@pytest.mark.parametrize("path", PATHS)
def test_every_hand_over_gives_the_same_rows(
    monkeypatch: pytest.MonkeyPatch, module: object, limits: dict[str, int], path: str
):
    for name, value in limits.items():
        monkeypatch.setattr(module, name, value)
    chunks = _chunks(seed=4)
    active = _all(FEATURES, len(chunks))
    _assert_same(FEATURES, _counted(FEATURES, chunks, active, path), _reference(FEATURES, chunks, active))


def test_new_key_values_in_later_chunks_and_statistics_that_start_later():
    """Customers that appear only later outgrow the first chunk's numbering; statistics that waited
    for their position join mid-batch (a group of their own)."""
    few = generate.to_bytes(generate.frame(0, 3000, seed=6, rate=50.0, customers=3))
    many = _chunks(seed=6, count=3)
    chunks = [few, *many]
    names = [s.name for s in FEATURES.statistics]
    active = [names[:4], names[:4], names, names]
    _assert_same(FEATURES, _counted(FEATURES, chunks, active), _reference(FEATURES, chunks, active))


def test_null_keys_go_to_the_polars_path():
    parser = ChunkParser(CDN.format, BOUNDS)
    frame = parser.parse(_chunks(seed=7, count=1)[0]).frame.with_columns(
        country=pl.when(pl.int_range(pl.len()) % 9 == 0).then(None).otherwise("country")
    )
    counters = Counters(Engine(CDN), parser)
    counters.add(frame, CDN.statistics, {})
    want = Engine(CDN).count(frame, CDN.statistics, {})
    got = counters.take()
    for name in ("customer_country", "pop_country", "customer_traffic"):
        stat = CDN.get(name)
        assert stat is not None
        assert got[name].sort(list(stat.columns)).equals(merge(stat, [want[name]]).sort(list(stat.columns)))


@pytest.mark.parametrize("merged", [False, True], ids=["appended", "merged"])
def test_rows_are_the_rows_held_and_take_starts_afresh(monkeypatch: pytest.MonkeyPatch, merged: bool):
    """`rows` (what bounds a batch) counts the distinct cells of the dense groups, and for the top-N
    statistics the lines appended since their last merge, or after it the distinct rows merged (at most
    the leaders kept of each bucket and key, which none of these reaches)."""
    if merged:
        monkeypatch.setattr(top, "MERGE_ROWS", 0)
    parser = ChunkParser(CDN.format, BOUNDS)
    frame = parser.parse(_chunks(seed=8, count=1)[0]).frame
    counters = Counters(Engine(CDN), parser)
    counters.add(frame, CDN.statistics, {})
    tops = [s for s in CDN.statistics if s.top]
    parts = Engine(CDN).count(frame, tops, {})
    rows = counters.rows
    taken = counters.take()
    assert counters.rows == 0
    cells = sum(taken[s.name].height for s in CDN.statistics if not s.top)
    if merged:
        held = sum(f.height for f in parts.values())
    else:
        held = sum(f["requests"].sum() // s.sample.one_in for s in tops if s.sample for f in [parts[s.name]])
    assert rows == cells + held > cells > 0
    counters.add(frame, CDN.statistics, {})
    again = counters.take()
    for stat in (s for s in CDN.statistics if not s.top):  # pruned top-N: ties broken arbitrarily
        order = list(stat.columns)
        assert again[stat.name].sort(order).equals(taken[stat.name].sort(order))


@pytest.mark.parametrize("wide", [False, True], ids=["radix", "lexsort"])
def test_sorted_runs_order_rows_and_find_their_runs(wide: bool):
    """Rows in lexicographic order and the start of each run of equal ones, through one int64 key or,
    when the columns' spans overflow it, a lexsort."""
    rng = np.random.default_rng(3)
    high = 2**31 - 1 if wide else 5
    columns = rng.integers(-high if wide else 0, high, (3, 400)).astype(np.int32)
    columns[:, 200:] = columns[:, :200]  # every row twice at least
    order, starts = top.sorted_runs(columns)
    rows = [tuple(r) for r in columns.T[order].tolist()]
    assert rows == sorted(rows)
    assert [rows[i] for i in starts] == sorted(set(rows))


@pytest.mark.parametrize("largest", [9, 2**62], ids=["argsort", "lexsort"])
def test_leaders_are_the_largest_of_each_group(largest: int):
    groups = np.array([0, 0, 0, 0, 1, 1, 2])
    ranked = np.array([5, largest, -1, 7, 3, 8, 4])
    assert top.leaders(groups, ranked, 2).tolist() == [1, 3, 5, 4, 6]
    assert sorted(top.leaders(groups, ranked, 10).tolist()) == list(range(7))
    assert top.leaders(groups[:0], ranked[:0], 2).size == 0
