"""The aggregator's write path into MariaDB, beside a naive writer of the same rows, in one run.

    .venv/bin/python bench/mysql_write.py [--rows 400000] [--batch 50000] [--naive-rows 20000] [--repeats 3]

A private MariaDB is started with roles/mysql_server's tuning (its template rendered, bench/common.py).
- tuned: the aggregator's own transaction (sink.write_statistic: multi-row upserts built column-wise
  plus the checkpoint, one transaction per flush of `--batch` rows), one counter per row, and again
  with four counters per row;
- naive: the same rows, one `INSERT ... ON DUPLICATE KEY UPDATE` per row with autocommit, into a table
  of the same shape on the same server.
Headline: counter values (one counter in one row) per second with four counters per row, the shape of
the billing statistic. Half of each flush's keys exist already (updates), half are new, as with minute
buckets. The measure
is wall time (client and server both work); the server's CPU seconds are reported beside it. Writes
bench/results/mysql_write.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, Machine, spread, spread_max, start_tuned_mariadb, write_result

from streamstats.config import MySQLConfig
from streamstats.formats import load_formats
from streamstats.schema import migrate
from streamstats.sink import Segment, connect, write_statistic
from streamstats.statistics import Statistic, parse_statistic_set
from tests.mariadb import PASSWORD, USER

BASE_BUCKET = 1_790_000_040


def _statistics(values: int) -> list[Statistic]:
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
    return list(parse_statistic_set(doc, load_formats(None)).statistics)


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


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def tuned(cfg: MySQLConfig, stat: Statistic, flushes: list[pl.DataFrame], pid: int) -> dict[str, float]:
    conn = connect(cfg)
    position, written, seconds = "{}", 0, 0.0
    cpu = _server_cpu(pid)
    for n, frame in enumerate(flushes):
        end = json.dumps({"offset": n + 1})
        pending = {"edge01": [Segment(position, end, [frame], "0" * 32, n + 1)]}
        outcome = write_statistic(conn, stat, "stat_" + stat.name, pending, None)
        written += outcome.rows
        seconds += outcome.seconds
        position = end
    conn.close()
    return {"rows": written, "seconds": seconds, "server_cpu_seconds": _server_cpu(pid) - cpu}


def naive(server, database: str, stat: Statistic, frame: pl.DataFrame, pid: int) -> dict[str, float]:
    """One statement per row, autocommit: what a first version of the writer does."""
    conn = server.connect(database)
    columns = ", ".join(stat.columns)
    marks = ", ".join(["FROM_UNIXTIME(%s)"] + ["%s"] * (len(stat.columns) - 1))
    updates = ", ".join(f"{c} = {c} + VALUES({c})" for c in stat.value_columns)
    sql = f"INSERT INTO stat_{stat.name} ({columns}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}"
    cpu = _server_cpu(pid)
    began = time.monotonic()
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        for row in frame.select(stat.columns).iter_rows():
            cur.execute(sql, row)
    seconds = time.monotonic() - began
    conn.close()
    return {"rows": frame.height, "seconds": seconds, "server_cpu_seconds": _server_cpu(pid) - cpu}


def _summary(runs: list[dict[str, float]], values: int) -> dict[str, object]:
    return {
        "rows_per_run": int(runs[0]["rows"]),
        "counters_per_row": values,
        "seconds": spread([r["seconds"] for r in runs]),
        "rows_per_second": spread_max([r["rows"] / r["seconds"] for r in runs]),
        "counter_values_per_second": spread_max([r["rows"] * values / r["seconds"] for r in runs]),
        "server_cpu_seconds": spread([r["server_cpu_seconds"] for r in runs]),
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
    results: dict[str, list[dict[str, float]]] = {"tuned_1": [], "tuned_4": [], "naive_1": [], "naive_4": []}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:  # on disk: O_DIRECT, as in production
        server = start_tuned_mariadb(Path(tmp))
        assert server.process is not None
        pid = server.process.pid
        try:
            for _ in range(args.repeats):
                for values in (1, 4):
                    bench, naive_stat = _statistics(values)
                    database = server.create_database("bench")
                    cfg = MySQLConfig(database=database, port=server.port, user=USER, password=PASSWORD)
                    conn = connect(cfg)
                    migrate(conn, parse_statistic_set_of(bench, naive_stat), "stat_")
                    conn.close()
                    flushes = _flushes(bench, args.rows, args.batch)
                    results[f"tuned_{values}"].append(tuned(cfg, bench, flushes, pid))
                    same = pl.concat(flushes).head(args.naive_rows)
                    results[f"naive_{values}"].append(naive(server, database, naive_stat, same, pid))
        finally:
            server.stop()
    tuned_1, tuned_4 = _summary(results["tuned_1"], 1), _summary(results["tuned_4"], 4)
    naive_1, naive_4 = _summary(results["naive_1"], 1), _summary(results["naive_4"], 4)
    # The headline: four counters per row, the billing statistic's shape, against the naive writer of
    # the same rows.
    best = tuned_4["counter_values_per_second"]["best"]  # type: ignore[index]
    naive_best = naive_4["counter_values_per_second"]["best"]  # type: ignore[index]
    doc = {
        "server": "MariaDB with roles/mysql_server/templates/tuning.cnf.j2 (buffer pool 1024 MiB, "
        "redo 256 MiB, innodb_flush_log_at_trx_commit=2, O_DIRECT, READ-COMMITTED, no binlog)",
        "counter_values_per_s": best,
        "naive_counter_values_per_s": naive_best,
        "ratio_vs_naive": round(best / naive_best, 1),
        "rows_per_s_one_counter": tuned_1["rows_per_second"]["best"],  # type: ignore[index]
        "ratio_vs_naive_one_counter": round(
            tuned_1["rows_per_second"]["best"] / naive_1["rows_per_second"]["best"],  # type: ignore[index]
            1,
        ),
        "tuned_one_counter_per_row": {"what": "sink.write_statistic, one transaction per flush", **tuned_1},
        "tuned_four_counters_per_row": {"what": "the same, four counters per row", **tuned_4},
        "naive_one_counter_per_row": {"what": "one upsert statement per row, autocommit", **naive_1},
        "naive_four_counters_per_row": {"what": "the same, four counters per row", **naive_4},
        "repeats": args.repeats,
    }
    write_result("mysql_write", " ".join(["bench/mysql_write.py", *sys.argv[1:]]), machine, doc)
    return 0


def parse_statistic_set_of(*stats: Statistic):
    from streamstats.statistics import StatisticSet

    return StatisticSet(load_formats(None)["cdn"], (), tuple(stats))


if __name__ == "__main__":
    sys.exit(main())
