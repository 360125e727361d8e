"""Every figure of the pages and the API against totals computed in the test straight from the log
lines the agents read (through the real agents, aggregator and MariaDB), or by an independent SQL query
where the figure is an estimate (the sampled top-N)."""

from __future__ import annotations

import collections
import csv
import dataclasses
import html
import io
import re
from datetime import UTC, datetime

import pytest
import requests

from cdnpanel import queries
from cdnpanel.periods import month_of
from tests.panel.support import (
    CUSTOMERS,
    EDGES,
    Line,
    PanelServer,
    Pipeline,
    login,
    p95_from_lines,
    per_interval,
)

HITS = {"HIT", "STALE", "UPDATING", "REVALIDATED"}


@pytest.fixture(scope="module")
def alice(panel: PanelServer) -> requests.Session:
    return login(panel.url, "alice")


@pytest.fixture(scope="module")
def olga(panel: PanelServer) -> requests.Session:
    return login(panel.url, "olga")


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")


def _in(lines: list[Line], customer: str | None, start: int, end: int, bucket: int = 60) -> list[Line]:
    return [
        x for x in lines
        if (customer is None or x.customer == customer) and start <= int(x.ts) // bucket * bucket < end
    ]  # fmt: skip


def _get(session: requests.Session, url: str) -> dict:
    answer = session.get(url, timeout=60)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    return answer.json()


def _text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match, f"no #{element_id} on the page"
    return html.unescape(match[1]).replace("\u202f", "")


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_usage_api_equals_the_logs(
    panel: PanelServer, pipeline: Pipeline, olga: requests.Session, customer: str
):
    start, end = pipeline.month_start, pipeline.month_end
    usage = _get(olga, f"{panel.url}/api/v1/customers/{customer}/usage?month={pipeline.month}&series=1")
    lines = _in(pipeline.lines, customer, start, end)
    assert lines, "the month has traffic for every customer"
    assert usage["exact"] is True and usage["month"] == pipeline.month
    assert usage["requests"] == len(lines)
    assert usage["bytes_sent"] == sum(x.bytes_sent for x in lines)
    assert usage["gigabytes"] == pytest.approx(usage["bytes_sent"] / 1e9, rel=1e-12)
    assert usage["p95_intervals"] == (end - start) // 300
    assert usage["p95_bits_per_second"] == pytest.approx(p95_from_lines(pipeline.lines, customer, start, end))
    assert usage["p95_bits_per_second"] > 0
    per_day: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for x in lines:
        day = datetime.fromtimestamp(x.ts, UTC).strftime("%Y-%m-%d")
        per_day[day][0] += 1
        per_day[day][1] += x.bytes_sent
    assert len(usage["days"]) == (end - start) // 86400
    for day in usage["days"]:
        assert [day["requests"], day["bytes_sent"]] == per_day.get(day["day"], [0, 0]), day["day"]
    five = per_interval(pipeline.lines, customer, start, end, 300)
    series = usage["five_minute"]["bits_per_second"]
    assert len(series) == (end - start) // 300
    assert series == [
        pytest.approx(five.get(start + i * 300, (0, 0))[1] * 8 / 300) for i in range(len(series))
    ]


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_usage_from_the_one_minute_table_equals_the_rollups(pipeline: Pipeline, customer: str):
    """The bill summed from the statistic's own 1-minute rows (a panel reading a database whose rollups
    are not readable) equals the one from its 5-minute rollup."""
    month = month_of(pipeline.month_start)
    with pipeline.mariadb.connect(pipeline.database) as conn:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")  # as the panel's connections
        cat = queries.catalog(conn)
        assert cat[queries.BILLING].rollups, "the test statistics roll the billing statistic up"
        without = {n: dataclasses.replace(t, rollups={}) for n, t in cat.items()}
        from_minutes = queries.usage(conn, without, customer, month, None)
        assert from_minutes == queries.usage(conn, cat, customer, month, None)


def test_usage_page_and_csv_show_the_same_figures(
    panel: PanelServer, pipeline: Pipeline, alice: requests.Session
):
    start, end = pipeline.month_start, pipeline.month_end
    lines = _in(pipeline.lines, "c0000", start, end)
    total = sum(x.bytes_sent for x in lines)
    p95 = p95_from_lines(pipeline.lines, "c0000", start, end)
    page = alice.get(f"{panel.url}/c/c0000/usage?month={pipeline.month}", timeout=60).text
    assert _text(page, "usage-gb") == f"{total / 1e9:,.3f}"
    assert _text(page, "usage-requests") == f"{len(lines)}"
    assert _text(page, "usage-p95") == f"{p95 / 1e6:,.3f}"
    assert "exact" in page and "Data complete up to" in page
    answer = alice.get(f"{panel.url}/c/c0000/usage.csv?month={pipeline.month}", timeout=60)
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    days, last = rows[:-1], rows[-1]
    assert len(days) == (end - start) // 86400
    assert sum(int(r["requests"]) for r in days) == len(lines) == int(last["requests"])
    assert sum(int(r["bytes_sent"]) for r in days) == total == int(last["bytes_sent"])
    assert float(last["p95_5min_mbit_s"]) == pytest.approx(p95 / 1e6, abs=1e-6)
    assert last["date"] == f"total {pipeline.month}"


@pytest.mark.parametrize(
    ("days", "step"), [(2, 300), (10, 3600)], ids=["5-minute-points", "hourly-points-from-rollups"]
)
def test_traffic_series_and_summary_equal_the_logs(
    panel: PanelServer, pipeline: Pipeline, alice: requests.Session, days: int, step: int
):
    start = pipeline.month_start + 86400
    end = start + days * 86400
    data = _get(
        alice, f"{panel.url}/api/v1/customers/c0000/traffic?range=custom&from={_iso(start)}&to={_iso(end)}"
    )
    assert (data["start"], data["end"], data["step"]) == (start, end, step)
    expected = per_interval(pipeline.lines, "c0000", start, end, step)
    assert data["t"] == list(range(start, end, step))
    assert data["series"]["requests"] == [expected.get(t, (0, 0))[0] for t in data["t"]]
    assert data["series"]["bits_per_second"] == [
        pytest.approx(expected.get(t, (0, 0))[1] * 8 / step) for t in data["t"]
    ]
    lines = _in(pipeline.lines, "c0000", start, end)
    summary = data["summary"]
    assert summary["requests"] == len(lines) and summary["bytes_sent"] == sum(x.bytes_sent for x in lines)
    hits = [x for x in lines if x.cache_status in HITS]
    assert summary["hit_ratio_requests"] == pytest.approx(len(hits) / len(lines))
    assert summary["hit_ratio_bytes"] == pytest.approx(
        sum(x.bytes_sent for x in hits) / summary["bytes_sent"]
    )
    classes = collections.Counter(f"{x.status // 100}xx" for x in lines)
    assert summary["status_classes"] == dict(classes)
    for cls in ("2xx", "4xx", "5xx"):
        by_point = collections.Counter(
            int(x.ts) // step * step for x in lines if f"{x.status // 100}xx" == cls
        )
        assert data["series"][f"status_{cls}"] == [by_point.get(t, 0) for t in data["t"]]
    assert 0 < summary["avg_request_ms"] < 60_000


def test_last_hour_at_one_minute(panel: PanelServer, pipeline: Pipeline, alice: requests.Session):
    data = _get(alice, f"{panel.url}/api/v1/customers/c0000/traffic?range=hour")
    assert data["step"] == 60 and len(data["t"]) == 60
    expected = per_interval(pipeline.lines, "c0000", data["start"], data["end"], 60)
    assert sum(expected.values(), (0, 0)) != (0, 0)
    assert data["series"]["requests"] == [expected.get(t, (0, 0))[0] for t in data["t"]]
    page = alice.get(f"{panel.url}/c/c0000/traffic?range=hour", timeout=60).text
    total = sum(r for r, _ in expected.values())
    assert _text(page, "fig-requests") == f"{total:,}".replace(",", "")


def _breakdown_from_lines(lines: list[Line], field: str) -> list[tuple[str, int, int]]:
    requests_: collections.Counter = collections.Counter()
    bytes_: collections.Counter = collections.Counter()
    for x in lines:
        key = str(getattr(x, field))  # "-" (empty) is a key like any other
        requests_[key] += 1
        bytes_[key] += x.bytes_sent
    ranked = sorted(requests_, key=lambda k: (-requests_[k], k))[:20]
    return [(k, requests_[k], bytes_[k]) for k in ranked]


def test_breakdowns_equal_the_logs(panel: PanelServer, pipeline: Pipeline, alice: requests.Session):
    start = pipeline.month_start + 3 * 86400
    end = start + 5 * 86400
    url = f"{panel.url}/api/v1/customers/c0000/breakdowns?range=custom&from={_iso(start)}&to={_iso(end)}"
    tables = {t["statistic"]: t for t in _get(alice, url)["breakdowns"]}
    lines = _in(pipeline.lines, "c0000", start, end)
    fields = {"customer_country": "country", "customer_status_code": "status", "customer_vhost": "vhost",
              "customer_content_type": "content_type"}  # fmt: skip
    for statistic, field in fields.items():
        table = tables[statistic]
        assert table["available"] and not table["approximate"]
        got = [(r["key"], r["requests"], r["bytes_sent"]) for r in table["rows"]]
        ordered = sorted(got, key=lambda r: (-r[1], r[0]))
        assert ordered == _breakdown_from_lines(lines, field), statistic
        assert table["total_requests"] == len(lines)
        assert sum(r["share"] for r in table["rows"]) == pytest.approx(sum(r[1] for r in got) / len(lines))
    top = tables["top_urls"]
    assert top["approximate"] and top["rows"]
    independent = pipeline.sql(
        "SELECT path, SUM(requests), SUM(bytes_sent) FROM stat_top_urls WHERE customer = 'c0000' "
        "AND bucket >= FROM_UNIXTIME(%s) AND bucket < FROM_UNIXTIME(%s) GROUP BY path",
        (start, end),
    )
    sums = {p: (int(r), int(b)) for p, r, b in independent}
    for row in top["rows"]:
        assert sums[row["key"]] == (row["requests"], row["bytes_sent"])
    assert [r["requests"] for r in top["rows"]] == sorted((r for r, _ in sums.values()), reverse=True)[:20]
    page = alice.get(f"{panel.url}/c/c0000/breakdowns?range=custom&from={_iso(start)}&to={_iso(end)}").text
    assert "approximate: sampled top-N" in page and "exact counts" in page


def test_operator_ranking_equals_the_logs(panel: PanelServer, pipeline: Pipeline, olga: requests.Session):
    start, end = pipeline.month_start, pipeline.month_end
    data = _get(olga, f"{panel.url}/api/v1/operator/customers?month={pipeline.month}")
    expected = []
    for customer in CUSTOMERS:
        lines = _in(pipeline.lines, customer, start, end)
        p95 = p95_from_lines(pipeline.lines, customer, start, end)
        expected.append((customer, len(lines), sum(x.bytes_sent for x in lines), pytest.approx(p95)))
    expected.sort(key=lambda r: -r[2])
    got = [
        (r["customer"], r["requests"], r["bytes_sent"], r["p95_bits_per_second"]) for r in data["customers"]
    ]
    assert got == expected
    page = olga.get(f"{panel.url}/ops/customers?month={pipeline.month}", timeout=60).text
    assert page.index(f">{expected[0][0]}<") < page.index(f">{expected[-1][0]}<")
    assert f'href="/c/{expected[0][0]}/usage?month={pipeline.month}"' in page


def test_pops_and_edges_equal_the_logs(panel: PanelServer, pipeline: Pipeline, olga: requests.Session):
    start, end = pipeline.month_start, pipeline.month_start + 10 * 86400
    data = _get(olga, f"{panel.url}/api/v1/operator/sites?range=custom&from={_iso(start)}&to={_iso(end)}")
    lines = _in(pipeline.lines, None, start, end)
    for kind, field in (("pops", "pop"), ("edges", "edge")):
        groups: dict[str, list[Line]] = collections.defaultdict(list)
        for x in lines:
            groups[getattr(x, field)].append(x)
        got = {r["name"]: r for r in data[kind]}
        assert set(got) == set(groups)
        for name, members in groups.items():
            row = got[name]
            assert row["requests"] == len(members)
            assert row["bytes_sent"] == sum(x.bytes_sent for x in members)
            assert row["cache_ratio"] == pytest.approx(
                sum(x.cache_status in HITS for x in members) / len(members)
            )
            if kind == "pops":
                assert row["error_rate"] == pytest.approx(
                    sum(x.status >= 500 for x in members) / len(members)
                )
            else:
                assert row["error_rate"] is None  # the default statistics count no status per edge
    assert set(got) == set(EDGES)


def test_pipeline_health_and_data_complete(panel: PanelServer, pipeline: Pipeline, olga: requests.Session):
    data = _get(olga, f"{panel.url}/api/v1/operator/pipeline")
    agents = {a["agent"]: a for a in data["agents"]}
    assert set(agents) == set(EDGES)
    committed = dict(
        pipeline.sql(
            "SELECT agent_id, UNIX_TIMESTAMP(updated_at) FROM streamstats_checkpoints WHERE statistic = %s",
            ("customer_traffic",),
        )
    )
    for name, agent in agents.items():
        assert agent["statistics"] == 30
        assert agent["billing_checkpoint"] == pytest.approx(float(committed[name]))
        assert agent["lag_seconds"] >= 0
    assert data["replica"]["state"] == "not a replica"
    usage = _get(olga, f"{panel.url}/api/v1/customers/c0000/usage?month={pipeline.month}")
    assert usage["complete_up_to"] == pytest.approx(min(float(v) for v in committed.values()) - 5.0)
    page = olga.get(f"{panel.url}/ops/pipeline", timeout=30).text
    for edge in EDGES:
        assert f">{edge}<" in page
