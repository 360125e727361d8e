"""The SQL side: tables a person can query, additive migrations, refused key changes, retention."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

from streamstats import generate
from tests.streamstats.harness import TEST_STATISTICS, Lab, db_totals, file_totals, rolled_up, wait_until

BILLING = TEST_STATISTICS["statistics"][0]


def _stats(*statistics: dict) -> dict:
    return {"format": "cdn", "statistics": list(statistics)}


def _columns(lab: Lab, table: str) -> list[str]:
    with lab.mariadb.connect(lab.database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "ORDER BY ORDINAL_POSITION",
            (lab.database, table),
        )
        return [row[0] for row in cur]


def test_bytes_for_a_customer_in_a_month_is_one_select(lab: Lab):
    """Lines from the last days of October to the first of December 2025."""
    start = int(datetime(2025, 10, 31, 12, tzinfo=UTC).timestamp())
    log = lab.dir / "access.log"
    log.write_bytes(b"".join(generate.blocks(40_000, seed=81, start=start, rate=0.012)))  # 38 days
    aggregator = lab.aggregator(statistics=_stats(BILLING))
    aggregator.start()
    agent = lab.agent(aggregator, [str(log)], statistics=_stats(BILLING))
    agent.start()
    lab.wait_for_totals(file_totals([log]), timeout=90)
    november = (datetime(2025, 11, 1, tzinfo=UTC).timestamp(), datetime(2025, 12, 1, tzinfo=UTC).timestamp())
    expected = sum(
        b
        for (customer, minute), (_, b) in file_totals([log]).items()
        if customer == "c0001" and november[0] <= minute < november[1]
    )
    with lab.mariadb.connect(lab.database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT SUM(bytes_sent) FROM stat_customer_traffic "
            "WHERE customer = 'c0001' AND bucket >= '2025-11-01' AND bucket < '2025-12-01'"
        )
        assert int(cur.fetchone()[0]) == expected > 0
        cur.execute(
            "EXPLAIN SELECT SUM(bytes_sent) FROM stat_customer_traffic WHERE customer = 'c0001' "
            "AND bucket >= '2025-11-01' AND bucket < '2025-12-01'"
        )
        plan = cur.fetchone()
        assert plan[5] == "PRIMARY"  # a range of the primary key, not a scan


def test_a_new_counter_is_a_new_column_and_a_changed_key_is_refused(lab: Lab):
    aggregator = lab.aggregator(statistics=_stats(BILLING))
    aggregator.start()
    aggregator.wait_healthy()
    aggregator.stop()
    assert _columns(lab, "stat_customer_traffic") == ["bucket", "customer", "requests", "bytes_sent"]

    more = {**BILLING, "values": {**BILLING["values"], "body_bytes": "sum(body_bytes)"}}
    aggregator = lab.aggregator(statistics=_stats(more))
    aggregator.start()
    aggregator.wait_healthy()
    aggregator.stop()
    assert _columns(lab, "stat_customer_traffic") == [
        "bucket",
        "customer",
        "requests",
        "bytes_sent",
        "body_bytes",
    ]

    rekeyed = {**BILLING, "keys": ["customer", "pop"]}
    refused = lab.aggregator(statistics=_stats(rekeyed))
    refused.start()
    assert refused.wait(60) != 0
    assert "keys cannot change" in refused.log.read_text()


def test_rows_past_their_retention_are_deleted(lab: Lab):
    short = {**BILLING, "name": "recent_traffic", "retention": "1d", "rollups": ["1h"]}
    now = int(time.time())
    old, new = lab.dir / "old.log", lab.dir / "new.log"
    old.write_bytes(b"".join(generate.blocks(2_000, seed=91, start=now - 3 * 86400, rate=10)))
    new.write_bytes(b"".join(generate.blocks(2_000, seed=92, start=now - 3600, rate=10)))
    aggregator = lab.aggregator(statistics=_stats(short), retention_interval="1s")
    aggregator.start()
    agent = lab.agent(aggregator, [str(old), str(new)], statistics=_stats(short))
    agent.start()
    expected = file_totals([new])

    def old_rows_expired_and_recent_ones_kept() -> bool:
        # Both, together: the recent rows alone are also what the table holds before the old rows'
        # batch is written (the agent reads the two files in either order).
        aggregator.wait_healthy()  # the table exists once the aggregator serves
        expired = 'streamstats_aggregator_rows_expired_total{statistic="recent_traffic"}'
        return (
            expired in aggregator.metrics_text()
            and db_totals(lab.mariadb, lab.database, "stat_recent_traffic") == expected
            and db_totals(lab.mariadb, lab.database, "stat_recent_traffic_1h") == rolled_up(expected, 3600)
        )

    wait_until(old_rows_expired_and_recent_ones_kept, 60, "the old rows to expire and the new ones to stay")


def test_schema_command_prints_the_ddl(lab: Lab):
    config = lab.write_config("print.yml", {"statistics": "cdn", "agent": {"id": "x", "files": ["/x.log"]}})
    out = subprocess.run(
        [sys.executable, "-m", "streamstats.cli", "schema", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.count("CREATE TABLE IF NOT EXISTS") == 30 + 8  # the statistics and their rollups
    assert "CREATE TABLE IF NOT EXISTS `stat_customer_traffic_1h`" in out
    assert "PRIMARY KEY (`customer`, `bucket`)" in out
