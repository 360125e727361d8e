"""The aggregator's write path into MariaDB, beside a naive writer of the same rows, on a server tuned
by roles/mysql_server and on one with Debian's default settings, in one run.

    .venv/bin/python bench/mysql_write.py [--rows 400000] [--batch 50000] [--naive-rows 20000] [--repeats 3]

Two private MariaDB servers run side by side on the same disk (bench/common.py):
- tuned: roles/mysql_server/templates/tuning.cnf.j2 rendered from the role's defaults (buffer pool
  1024 MiB through the role's own variable, the machine being shared);
- default: what a fresh Debian 12 install runs: the compiled-in defaults plus 50-server.cnf (buffer
  pool 128 MiB, redo log 96 MiB, innodb_flush_log_at_trx_commit=1, no binary log, ...).
On each, with one counter per row and again with four (the billing statistic's shape):
- write: the aggregator's own transaction (sink.write_statistic: the checkpoints locked, the rows
  staged with LOAD DATA LOCAL and upserted with one INSERT ... SELECT, the checkpoints moved; one
  transaction per flush of `--batch` rows);
- naive: the first `--naive-rows` of the same rows, one `INSERT ... ON DUPLICATE KEY UPDATE` per row
  with autocommit, into a table of the same shape.
On the tuned server also:
- statements: the write path while the server refuses LOAD DATA LOCAL (sink.py then sends multi-row
  statements, as it did before staging).
Half of each flush's keys exist already (updates), half are new, as with minute buckets; the naive
writer's rows are all new keys (the first rows of the run), which favours it slightly. The measure is
wall time (client and server both work); the server's CPU seconds are reported beside it. The runs
are interleaved so that both servers and all writers see the same load; each database is dropped
after its run. Writes bench/results/mysql_write.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CACHE,
    ConfiguredMariaDB,
    Machine,
    cnf_options,
    process_cpu_seconds,
    spread,
    spread_max,
    start_default_mariadb,
    start_tuned_mariadb,
    write_result,
)

from streamstats.config import MySQLConfig
from streamstats.formats import load_formats
from streamstats.schema import migrate
from streamstats.sink import Segment, connect, write_statistic
from streamstats.statistics import Statistic, StatisticSet, parse_statistic_set
from tests.mariadb import PASSWORD, USER

BASE_BUCKET = 1_790_000_040
Run = dict[str, float]


def _statistics(values: int) -> StatisticSet:
    names = ["bytes_sent", "body_bytes", "request_length"][: values - 1]
    spec = {"requests": "count", **{n: f"sum({n})" for n in names}}
    stat = {
        "keys": ["customer", "pop"],
        "bucket": "1m",
        "values": spec,
        "flush_interval": "1s",
        "retention": "30d",
    }
    doc = {"format": "cdn", "statistics": [{"name": "bench", **stat}, {"name": "naive", **stat}]}
    return parse_statistic_set(doc, load_formats(None))


def _frame(stat: Statistic, start: int, rows: int) -> pl.DataFrame:
    index = pl.int_range(start, start + rows, eager=True)
    frame = pl.DataFrame(
        {
            "bucket": BASE_BUCKET + (index // 2000) * 60,
            "customer": "c" + (index % 1000).cast(pl.String).str.zfill(4),
            "pop": ((index // 1000) % 2).cast(pl.String),
        }
    )
    return frame.with_columns([pl.lit(7, pl.Int64).alias(c) for c in stat.value_columns])


def _flushes(stat: Statistic, rows: int, batch: int) -> list[pl.DataFrame]:
    """Each flush: half the previous flush's keys again, half new ones."""
    return [_frame(stat, max(0, start - batch // 2), batch) for start in range(0, rows, batch)]


def write_path(cfg: MySQLConfig, stat: Statistic, flushes: list[pl.DataFrame], pid: int) -> Run:
    conn = connect(cfg)
    position, written, seconds = "{}", 0, 0.0
    cpu = process_cpu_seconds(pid)
    for n, frame in enumerate(flushes):
        end = json.dumps({"offset": n + 1})
        pending = {"edge01": [Segment(position, end, [frame], "0" * 32, n + 1)]}
        outcome = write_statistic(conn, stat, "stat_" + stat.name, pending, None)
        written += outcome.rows
        seconds += outcome.seconds
        position = end
    conn.close()
    return {"rows": written, "seconds": seconds, "server_cpu_seconds": process_cpu_seconds(pid) - cpu}


def naive(server: ConfiguredMariaDB, database: str, stat: Statistic, frame: pl.DataFrame, pid: int) -> Run:
    """One statement per row, autocommit: what a first version of the writer does."""
    conn = server.connect(database)
    columns = ", ".join(stat.columns)
    marks = ", ".join(["FROM_UNIXTIME(%s)"] + ["%s"] * (len(stat.columns) - 1))
    updates = ", ".join(f"{c} = {c} + VALUES({c})" for c in stat.value_columns)
    sql = f"INSERT INTO stat_{stat.name} ({columns}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}"
    cpu = process_cpu_seconds(pid)
    began = time.monotonic()
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        for row in frame.select(stat.columns).iter_rows():
            cur.execute(sql, row)
    seconds = time.monotonic() - began
    conn.close()
    return {"rows": frame.height, "seconds": seconds, "server_cpu_seconds": process_cpu_seconds(pid) - cpu}


def _local_infile(server: ConfiguredMariaDB, allowed: bool) -> None:
    with server.root() as conn, conn.cursor() as cur:
        cur.execute(f"SET GLOBAL local_infile = {int(allowed)}")


def one_server(
    server: ConfiguredMariaDB, values: int, args: argparse.Namespace, statements: bool
) -> dict[str, Run]:
    """The write path, the naive writer and (if `statements`) the write path without LOCAL, each
    into a fresh database of this server."""
    assert server.process is not None
    pid = server.process.pid
    stats = _statistics(values)
    bench, naive_stat = stats.statistics
    flushes = _flushes(bench, args.rows, args.batch)
    runs: dict[str, Run] = {}
    for what in ("write", "naive", *(("statements",) if statements else ())):
        database = server.create_database("bench")
        cfg = MySQLConfig(database=database, port=server.port, user=USER, password=PASSWORD)
        conn = connect(cfg)
        migrate(conn, stats, "stat_")
        conn.close()
        if what == "naive":
            runs[what] = naive(server, database, naive_stat, pl.concat(flushes).head(args.naive_rows), pid)
        elif what == "statements":
            _local_infile(server, False)
            try:
                runs[what] = write_path(cfg, bench, flushes, pid)
            finally:
                _local_infile(server, True)
        else:
            runs[what] = write_path(cfg, bench, flushes, pid)
        # Dropped at once: its dirty pages and undo would otherwise be flushed and purged in the
        # background during the next measurements.
        with server.root() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{database}`")
    return runs


def _summary(runs: list[Run], values: int) -> dict[str, Any]:
    return {
        "rows_per_run": int(runs[0]["rows"]),
        "counters_per_row": values,
        "seconds": spread([r["seconds"] for r in runs]),
        "rows_per_second": spread_max([r["rows"] / r["seconds"] for r in runs]),
        "counter_values_per_second": spread_max([r["rows"] * values / r["seconds"] for r in runs]),
        "server_cpu_seconds": spread([r["server_cpu_seconds"] for r in runs]),
        "server_cpu_us_per_row": spread([1e6 * r["server_cpu_seconds"] / r["rows"] for r in runs], 1),
    }


def _ratio(top: dict[str, Any], bottom: dict[str, Any]) -> dict[str, float]:
    """Of rows per second: best over best, median over median."""
    a, b = top["rows_per_second"], bottom["rows_per_second"]
    return {"best": round(a["best"] / b["best"], 1), "median": round(a["median"] / b["median"], 1)}


SERVERS = {
    "tuned": "roles/mysql_server/templates/tuning.cnf.j2 rendered from the role's defaults, buffer pool "
    "1024 MiB (bench/common.py: tuning_cnf)",
    "default": "Debian 12's fresh install: mariadbd's compiled-in defaults plus /etc/mysql/mariadb.conf.d/"
    "50-server.cnf (bench/common.py: DEBIAN_SERVER_CNF)",
}
WHAT = {
    "write": "sink.write_statistic (staged: LOAD DATA LOCAL, one INSERT ... SELECT), one transaction "
    "per flush",
    "statements": "the same while the server refuses LOAD DATA LOCAL: multi-row INSERT ... ON DUPLICATE "
    "KEY UPDATE statements of up to 4 MiB",
    "naive": "one INSERT ... ON DUPLICATE KEY UPDATE per row, autocommit",
}


def report(summaries: dict[str, dict[str, Any]], servers: dict[str, dict[str, Any]], repeats: int) -> dict:
    tuned_4, tuned_1 = summaries["tuned/write/4"], summaries["tuned/write/1"]
    naive_4, naive_1 = summaries["tuned/naive/4"], summaries["tuned/naive/1"]
    return {
        "servers": servers,
        # The criteria: four counters per row (the billing statistic's shape) against the naive
        # writer of the same rows on the same tuned server.
        "counter_values_per_s": tuned_4["counter_values_per_second"]["best"],
        "naive_counter_values_per_s": naive_4["counter_values_per_second"]["best"],
        "ratio_vs_naive": _ratio(tuned_4, naive_4)["best"],
        "rows_per_s_one_counter": tuned_1["rows_per_second"]["best"],
        "ratio_vs_naive_one_counter": _ratio(tuned_1, naive_1)["best"],
        "ratios": {
            f"{values} counter(s) a row": {
                "write path / naive, tuned server": _ratio(
                    summaries[f"tuned/write/{values}"], summaries[f"tuned/naive/{values}"]
                ),
                "write path / naive, default server": _ratio(
                    summaries[f"default/write/{values}"], summaries[f"default/naive/{values}"]
                ),
                "write path, tuned / default server": _ratio(
                    summaries[f"tuned/write/{values}"], summaries[f"default/write/{values}"]
                ),
                "naive, tuned / default server": _ratio(
                    summaries[f"tuned/naive/{values}"], summaries[f"default/naive/{values}"]
                ),
                "staged / statements, tuned server": _ratio(
                    summaries[f"tuned/write/{values}"], summaries[f"tuned/statements/{values}"]
                ),
            }
            for values in (1, 4)
        },
        "runs": {
            key: {"what": WHAT[key.split("/")[1]], **summary} for key, summary in sorted(summaries.items())
        },
        "repeats": repeats,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=50_000, help="rows per flush transaction")
    parser.add_argument("--naive-rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    machine = Machine.now()
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[Run]] = defaultdict(list)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:  # on disk: O_DIRECT, as in production
        started: dict[str, ConfiguredMariaDB] = {}
        try:
            started["tuned"] = start_tuned_mariadb(Path(tmp) / "tuned")
            started["default"] = start_default_mariadb(Path(tmp) / "default")
            servers = {
                name: {
                    "what": SERVERS[name],
                    "options": cnf_options(server.config()),
                    "effective": server.settings(),
                }
                for name, server in started.items()
            }
            for repeat in range(args.repeats):
                for values in (1, 4):
                    # Each server first in every other round: neither always runs after the other.
                    for name, server in sorted(started.items(), reverse=repeat % 2 == 1):
                        for what, run in one_server(server, values, args, statements=name == "tuned").items():
                            results[f"{name}/{what}/{values}"].append(run)
        finally:
            for server in started.values():
                server.stop()
    summaries = {key: _summary(runs, int(key.rsplit("/", 1)[1])) for key, runs in results.items()}
    doc = report(summaries, servers, args.repeats)
    write_result("mysql_write", " ".join(["bench/mysql_write.py", *sys.argv[1:]]), machine, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
