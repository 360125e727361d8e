"""Server time of the control panel's Usage and Traffic pages on a month of data, and the Traffic
page's weight.

    .venv/bin/python bench/panel.py [--customers 200] [--days 31] [--traffic-customers 20]

A private MariaDB tuned like roles/mysql_server (bench/common.py) gets, through the aggregator's own
write path (streamstats.sink.write_statistic: staged upserts and checkpoints, one transaction per day
and statistic), `--customers` customers x `--days` days of 1-minute rows in the billing statistic
`customer_traffic` (Zipf-skewed traffic), and for the first `--traffic-customers` of them the other
statistics the Traffic page reads at their buckets (`customer_cache` with 3 cache statuses,
`customer_status` with 3 status classes, `customer_quality`, all 1-minute). A real `cdn-panel serve`
answers; an operator's session asks, after one warm-up pass, for each customer's Usage page of the month
(with its 95th percentile) and for the Traffic page of the month (custom range, 3-hour points) of the
traffic customers. Per page: p50 and p99 of the time to the last byte on loopback (server time: SQL,
Python, rendering; no network) and the CPU milliseconds per page of the panel's process and of
MariaDB (steadier than wall time on a shared machine), and p50/p99 of the same figures computed
in-process by `cdnpanel.queries` alone (the SQL and the Python around it), once from the rollups
(`stat_customer_traffic_5m`, `..._1h`: what the panel reads) and once from the 1-minute tables alone
(the baseline: the panel before rollups). Writes bench/results/panel.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Machine, process_cpu_seconds, start_tuned_mariadb, write_result

from cdnpanel import accounts, queries
from cdnpanel.periods import Month, TimeRange
from streamstats.config import MySQLConfig
from streamstats.formats import load_formats
from streamstats.pending import Chain
from streamstats.schema import migrate
from streamstats.sink import connect, write_statistic
from streamstats.statistics import Statistic, StatisticSet, parse_statistic_set
from tests.mariadb import PASSWORD, USER
from tests.panel.support import PanelServer, login

KEYS = {"customer_cache": ("cache_status", ["HIT", "MISS", "EXPIRED"]),
        "customer_status": ("status_class", ["2xx", "3xx", "4xx"])}  # fmt: skip
SHARES = [0.7, 0.2, 0.1]
# Each value column as a multiple of the requests it counts.
PER_REQUEST = {"bytes_sent": 52_000, "body_bytes": 51_000, "request_bytes": 420, "cache_hits": 0.7}


def _statistics() -> StatisticSet:
    """The default cdn set, as the aggregator runs it."""
    document = yaml.safe_load((ROOT / "src" / "streamstats" / "data" / "cdn.stats.yml").read_text())
    return parse_statistic_set(document, load_formats(None))


def _values(stat: Statistic, requests_: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for column in stat.value_columns:
        if column == "requests" or column.endswith("_count"):
            out[column] = requests_
        elif column.endswith("_sum"):
            out[column] = requests_ * (180 if column.startswith("request") else 40)
        else:
            out[column] = (requests_ * PER_REQUEST.get(column, 1)).astype(np.int64)
    return out


def day_frame(
    stat: Statistic, day_start: int, customers: list[str], rates: np.ndarray, seed: int
) -> pl.DataFrame:
    """One day of 1-minute rows of a statistic for these customers (requests per minute ~ Poisson)."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(day_start, day_start + 86400, 60, dtype=np.int64)
    bucket = np.tile(minutes, len(customers))
    customer = np.repeat(np.array(customers), len(minutes))
    requests_ = rng.poisson(np.repeat(rates, len(minutes))).astype(np.int64) + 1
    columns: dict[str, Any] = {"bucket": bucket, "customer": customer}
    if stat.name in KEYS:
        key, names = KEYS[stat.name]
        parts = []
        for name, share in zip(names, SHARES, strict=True):
            part = np.maximum(1, (requests_ * share).astype(np.int64))
            parts.append(pl.DataFrame({**columns, key: name, **_values(stat, part)}))
        return pl.concat(parts, how="vertical").select(list(stat.columns))
    return pl.DataFrame({**columns, **_values(stat, requests_)}).select(list(stat.columns))


def load(cfg: MySQLConfig, stats: dict[str, Statistic], month: Month, days: int, customers: list[str],
         traffic_customers: int) -> dict[str, float]:  # fmt: skip
    """The month's rows through the aggregator's write path; returns rows and seconds per statistic."""
    rates = 2000.0 / (np.arange(len(customers)) + 1) ** 0.8  # requests per minute, Zipf-like
    conn = connect(cfg)
    written: dict[str, float] = {}
    plan = {"customer_traffic": len(customers), **{n: traffic_customers for n in
            ("customer_cache", "customer_status", "customer_quality")}}  # fmt: skip
    for name, count in plan.items():
        stat, position, rows, began = stats[name], "{}", 0, time.monotonic()
        for day in range(days):
            frame = day_frame(stat, month.start + day * 86400, customers[:count], rates[:count], day)
            end = json.dumps({"day": day + 1})
            chains = {"bench01": Chain(position, end, "0" * 32, day + 1)}
            rows += write_statistic(conn, stat, "stat_" + name, frame, chains).rows
            position = end
        written[f"{name}_rows"] = rows
        written[f"{name}_write_seconds"] = round(time.monotonic() - began, 1)
        print(f"panel bench: {name}: {rows} rows", file=sys.stderr, flush=True)
    conn.close()
    return written


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[math.ceil(0.99 * len(ordered)) - 1]  # nearest rank
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p99_ms": round(p99 * 1000, 1)}


def timed_pages(session: requests.Session, urls: list[str], pids: dict[str, int]) -> dict[str, float]:
    """p50/p99 of the wall time per page, and the CPU milliseconds per page the panel and MariaDB spent
    (the steadier measure on a shared machine)."""
    for url in urls:  # warm-up: the buffer pool and the templates
        assert session.get(url, timeout=120).status_code == 200, url
    times = []
    cpu = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
    for url in urls:
        began = time.perf_counter()
        answer = session.get(url, timeout=120)
        times.append(time.perf_counter() - began)
        assert answer.status_code == 200, url
    spent = {f"{name}_cpu_ms_per_page": round((process_cpu_seconds(pid) - cpu[name]) * 1000 / len(urls), 1)
             for name, pid in pids.items()}  # fmt: skip
    return percentiles(times) | spent


def timed_queries(server: Any, database: str, month: Month, customers: list[str], traffic: list[str],
                  rollups: bool = True) -> dict:  # fmt: skip
    """The pages' figures by cdnpanel.queries alone, in-process; without `rollups`, from the
    statistics' own tables as before they had rollups (the baseline)."""
    conn = server.connect(database)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
    cat = queries.catalog(conn)
    if not rollups:
        cat = {name: dataclasses.replace(table, rollups={}) for name, table in cat.items()}
    complete = queries.complete_up_to(conn, cat, 5.0)
    rng = TimeRange("custom", month.start, month.end, 3 * 3600)
    usage, traffic_times = [], []
    for repeat in range(2):  # the first pass warms up
        usage_pass, traffic_pass = [], []
        for customer in customers:
            began = time.perf_counter()
            queries.usage(conn, cat, customer, month, complete)
            usage_pass.append(time.perf_counter() - began)
        for customer in traffic:
            began = time.perf_counter()
            queries.traffic(conn, cat, customer, rng)
            traffic_pass.append(time.perf_counter() - began)
        if repeat:
            usage, traffic_times = usage_pass, traffic_pass
    conn.close()
    suffix = "" if rollups else "_without_rollups"
    return {
        f"usage_sql{suffix}": percentiles(usage),
        f"traffic_month_sql{suffix}": percentiles(traffic_times),
    }


def page_weight(session: requests.Session, url: str, base: str) -> dict[str, int]:
    html = session.get(url, timeout=60).content
    assets = ["/static/vendor/uPlot.iife.min.js", "/static/vendor/uPlot.min.css", "/static/panel.js",
              "/static/panel.css"]  # fmt: skip
    sizes = {
        "html": len(html),
        **{a.rsplit("/", 1)[-1]: len(session.get(base + a, timeout=30).content) for a in assets},
    }
    return {**sizes, "total_bytes": sum(sizes.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--traffic-customers", type=int, default=20)
    args = parser.parse_args()
    machine = Machine.now()
    month = Month(2026, 10)  # 31 days
    days = min(args.days, month.days)
    customers = [f"c{n:04d}" for n in range(args.customers)]
    traffic = customers[: args.traffic_customers]
    with tempfile.TemporaryDirectory(prefix="panel-bench-") as tmp:
        server = start_tuned_mariadb(Path(tmp) / "db")
        try:
            database = server.create_database("panelbench")
            cfg = MySQLConfig(database=database, port=server.port, user=USER, password=PASSWORD)
            stats = _statistics()
            conn = connect(cfg)
            migrate(conn, stats, "stat_")  # as the aggregator does at its start
            conn.close()
            by_name = {s.name: s for s in stats.statistics}
            written = load(cfg, by_name, month, days, customers, len(traffic))
            panel = PanelServer(Path(tmp), server, database)
            panel.write_config()
            with panel.connect() as pconn:
                accounts.migrate(pconn)
                accounts.add_user(pconn, "olga", "olga-password-333", "operator", [])
            panel.start()
            try:
                session = login(panel.url, "olga", "olga-password-333")
                assert panel.process is not None and server.process is not None
                pids = {"panel": panel.process.pid, "mariadb": server.process.pid}
                usage_urls = [f"{panel.url}/c/{c}/usage?month={month}" for c in customers]
                span = f"range=custom&from={month}-01T00:00&to={month.next()}-01T00:00"
                traffic_urls = [f"{panel.url}/c/{c}/traffic?{span}" for c in traffic]
                results = {
                    "data": {
                        "customers": len(customers),
                        "days": days,
                        "traffic_customers": len(traffic),
                        **written,
                    },
                    "usage_page": timed_pages(session, usage_urls, pids),
                    "traffic_month_page": timed_pages(session, traffic_urls, pids),
                    **timed_queries(server, database, month, customers, traffic),
                    **timed_queries(server, database, month, customers, traffic, rollups=False),
                    "traffic_page_weight": page_weight(session, traffic_urls[0], panel.url),
                }
            finally:
                panel.stop()
        finally:
            server.stop()
    command = f"bench/panel.py --customers {args.customers} --days {days} --traffic-customers {len(traffic)}"
    write_result("panel", command, machine, results)


if __name__ == "__main__":
    main()
