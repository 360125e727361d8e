"""The aggregator's write path into MariaDB: rows per second of one statistic's flush transaction
(counters upserted, checkpoints updated), on a private MariaDB started for the run. Prints JSON.

    .venv/bin/python bench/mysql_write.py [--rows 200000] [--batch 50000] [--values 4]

Half of each flush's keys already exist (updates), half are new (inserts), as with minute buckets
where the current minute keeps changing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamstats.config import MySQLConfig
from streamstats.formats import load_formats
from streamstats.schema import migrate
from streamstats.sink import Segment, connect, write_statistic
from streamstats.statistics import parse_statistic_set
from tests.mariadb import PASSWORD, USER, start_mariadb


def _statistics(values: int) -> dict:
    names = ["bytes_sent", "body_bytes", "request_length", "request_time"][: values - 1]
    spec = {"requests": "count", **{n: f"sum({n})" for n in names}}
    stat = {"name": "bench", "keys": ["customer", "pop"], "bucket": "1m", "values": spec}
    return {"format": "cdn", "statistics": [{**stat, "flush_interval": "1s", "retention": "30d"}]}


def _frame(stat, start: int, rows: int) -> pl.DataFrame:
    index = pl.int_range(start, start + rows, eager=True)
    frame = pl.DataFrame(
        {
            "bucket": 1_790_000_040 + (index // 2000) * 60,
            "customer": (index % 1000).cast(pl.String).str.zfill(4),
            "pop": ((index // 1000) % 2).cast(pl.String),
        }
    )
    return frame.with_columns([pl.lit(7, pl.Int64).alias(c) for c in stat.value_columns])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=50_000, help="rows per flush transaction")
    parser.add_argument("--values", type=int, default=4, help="counters per row")
    args = parser.parse_args()
    stats = parse_statistic_set(_statistics(args.values), load_formats(None))
    stat = stats.statistics[0]
    with tempfile.TemporaryDirectory() as tmp:
        server = start_mariadb(Path(tmp))
        try:
            database = server.create_database("bench")
            cfg = MySQLConfig(database=database, port=server.port, user=USER, password=PASSWORD)
            conn = connect(cfg)
            migrate(conn, stats, "stat_")
            written, seconds, position = 0, 0.0, "{}"
            for start in range(0, args.rows, args.batch):
                # Each flush: half the previous flush's keys again, half new ones.
                frame = _frame(stat, max(0, start - args.batch // 2), args.batch)
                end = json.dumps({"offset": start})
                pending = {"edge01": [Segment(position, end, [frame], "0" * 32, start)]}
                outcome = write_statistic(conn, stat, "stat_bench", pending, None)
                written += outcome.rows
                seconds += outcome.seconds
                position = end
            conn.close()
        finally:
            server.stop()
    result = {
        "rows": written,
        "rows_per_transaction": args.batch,
        "counters_per_row": len(stat.value_columns),
        "seconds": round(seconds, 2),
        "rows_per_second": round(written / seconds),
        "counter_values_per_second": round(written * len(stat.value_columns) / seconds),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
