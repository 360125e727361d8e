"""The vectorized engine against a plain Python count of the same lines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from streamstats import generate
from streamstats.aggregate import SAMPLE_SEED, Accumulator, Engine, merge
from streamstats.formats import load_formats
from streamstats.parse import ChunkParser
from streamstats.statistics import load_statistic_set

FORMATS = load_formats(None)
STATS = load_statistic_set("cdn", FORMATS, Path("."))
PARSER = ChunkParser(STATS.format, (946_684_800, 4_102_444_800))
LINES = generate.to_bytes(generate.frame(0, 30_000, seed=9, rate=200))
ROWS = [line.split("\t") for line in LINES.decode().splitlines()]
NAMES = [f.name for f in STATS.format.fields]


def _field(row: list[str], name: str) -> str:
    return row[NAMES.index(name)]


def _count_all() -> dict[str, pl.DataFrame]:
    engine = Engine(STATS)
    accumulators = {s.name: Accumulator(s) for s in STATS.statistics}
    chunks = [LINES[i : i + 1_000_000] for i in range(0, len(LINES), 1_000_000)]
    rest = b""
    for chunk in chunks:  # uneven chunks, cut at line ends
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        data, rest = data[:cut], data[cut:]
        for name, frame in engine.count(PARSER.parse(data).frame, STATS.statistics, {}).items():
            accumulators[name].add(frame)
    return {name: acc.take() for name, acc in accumulators.items()}


COUNTED = _count_all()


def _rows(name: str, key: tuple[str, ...], value: str) -> dict[tuple, int]:
    frame = COUNTED[name]
    return {tuple(r[:-1]): r[-1] for r in frame.select(["bucket", *key, value]).rows()}


def test_billing_counts_and_sums_per_customer_minute():
    requests, sent = Counter(), Counter()
    for row in ROWS:
        key = (int(float(row[0])) // 60 * 60, _field(row, "customer"))
        requests[key] += 1
        sent[key] += int(_field(row, "bytes_sent"))
    assert _rows("customer_traffic", ("customer",), "requests") == dict(requests)
    assert _rows("customer_traffic", ("customer",), "bytes_sent") == dict(sent)


def test_derived_keys_and_averages_as_sum_and_count():
    status, hits, upstream_sum, upstream_count = Counter(), Counter(), Counter(), Counter()
    for row in ROWS:
        minute, customer = int(float(row[0])) // 60 * 60, _field(row, "customer")
        status[(minute, customer, _field(row, "status")[0] + "xx")] += 1
        hits[(minute, customer)] += _field(row, "cache_status") in ("HIT", "STALE", "UPDATING", "REVALIDATED")
        upstream = _field(row, "upstream_time")
        if upstream != "-":
            upstream_sum[(minute, customer)] += sum(
                round(float(x.strip()) * 1000) for x in upstream.split(",")
            )
            upstream_count[(minute, customer)] += 1
    assert _rows("customer_status", ("customer", "status_class"), "requests") == dict(status)
    assert _rows("customer_quality", ("customer",), "cache_hits") == dict(hits)
    assert {
        k: v for k, v in _rows("customer_quality", ("customer",), "upstream_time_ms_sum").items() if v
    } == {k: v for k, v in upstream_sum.items() if v}
    counts = _rows("customer_quality", ("customer",), "upstream_time_ms_count")
    assert {k: v for k, v in counts.items() if v} == dict(upstream_count)


def test_filters_and_integer_keys():
    errors = Counter()
    for row in ROWS:
        if _field(row, "status")[0] in "45":
            errors[(int(float(row[0])) // 3600 * 3600, _field(row, "customer"), _field(row, "path"))] += 1
    counted = _rows("top_error_urls", ("customer", "path"), "requests")
    assert sum(counted.values()) <= sum(errors.values())
    assert all(errors[k] == v for k, v in counted.items())
    asn = COUNTED["asn_traffic"]
    assert asn["asn"].dtype == pl.Int64 and asn["requests"].sum() == len(ROWS)


def test_sampling_counts_one_line_in_n_with_weight_n_deterministically():
    stat = STATS.get("top_user_agents")
    assert stat is not None and stat.sample is not None
    ids = pl.Series([_field(r, "request_id") for r in ROWS])
    kept = int((ids.hash(seed=SAMPLE_SEED) % stat.sample.one_in == 0).sum())
    total = COUNTED["top_user_agents"]["requests"].sum()
    assert total <= kept * stat.sample.one_in  # trimmed to the top candidates, never more
    again = _count_all()["top_user_agents"]
    assert again.sort(again.columns).equals(COUNTED["top_user_agents"].sort(again.columns))


def test_top_n_keeps_the_leaders_per_group():
    stat = STATS.get("top_urls")
    assert stat is not None and stat.top is not None
    exact = Counter((int(float(r[0])) // 3600 * 3600, _field(r, "customer"), _field(r, "path")) for r in ROWS)
    counted = COUNTED["top_urls"]
    trimmed = merge(stat, [counted], top_keep=stat.top.n)
    per_group = trimmed.group_by(["bucket", "customer"]).len()["len"]
    assert per_group.max() == stat.top.n
    best = max(exact.items(), key=lambda kv: kv[1])
    assert _rows("top_urls", ("customer", "path"), "requests")[best[0]] == best[1]


def test_merge_sums_by_key():
    stat = STATS.statistics[0]
    a = pl.DataFrame(
        {
            "bucket": [60, 60],
            "customer": ["a", "b"],
            "requests": [1, 2],
            "bytes_sent": [10, 20],
            "body_bytes": [1, 1],
            "request_bytes": [0, 0],
        }
    )
    merged = merge(stat, [a, a.head(1)]).sort("customer")
    assert merged.select("customer", "requests", "bytes_sent").rows() == [("a", 2, 20), ("b", 2, 20)]
