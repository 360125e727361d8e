"""The SQL schema: four bookkeeping tables (schema version, statistics, checkpoints, quarantine) and
one table per statistic, created and migrated at start.

A statistic's table has the bucket start (DATETIME, UTC), its key columns and one BIGINT per counter:

    CREATE TABLE stat_customer_traffic (
      bucket DATETIME NOT NULL, customer VARCHAR(64) NOT NULL,
      requests BIGINT NOT NULL DEFAULT 0, bytes_sent BIGINT NOT NULL DEFAULT 0, ...,
      PRIMARY KEY (customer, bucket), KEY by_bucket (bucket))

so "bytes for customer X in November" is one SELECT over the primary key's prefix. Migrations are
additive: a new counter becomes a new column; a changed key is refused (give the statistic a new name).

A statistic's rollups (`rollups: [1h]`) are tables of the same shape with coarser buckets
(stat_customer_traffic_1h), filled from the statistic's table when they are created and then written
in the same transaction as it: each rollup row is always the sum of the statistic's rows in its bucket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pymysql

from streamstats.statistics import BUCKET_COLUMN, Statistic, StatisticSet

CHECKPOINTS = "streamstats_checkpoints"
STATISTICS = "streamstats_statistics"
VERSION_TABLE = "streamstats_schema"
QUARANTINE = "streamstats_quarantine"
_LOCK = "streamstats_schema"

# Each entry brings the bookkeeping tables from version i to i + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (
          agent_id VARCHAR(64) NOT NULL,
          statistic VARCHAR(64) NOT NULL,
          position MEDIUMTEXT NOT NULL COMMENT 'where the counters of this agent and statistic stop',
          run_id CHAR(32) NOT NULL,
          sequence BIGINT UNSIGNED NOT NULL,
          updated_at DATETIME(3) NOT NULL,
          PRIMARY KEY (agent_id, statistic)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
        f"""CREATE TABLE IF NOT EXISTS {STATISTICS} (
          name VARCHAR(64) NOT NULL PRIMARY KEY,
          table_name VARCHAR(64) NOT NULL,
          fingerprint CHAR(16) NOT NULL,
          bucket_seconds INT UNSIGNED NOT NULL,
          retention_seconds BIGINT UNSIGNED NOT NULL,
          billing BOOLEAN NOT NULL,
          description TEXT NOT NULL,
          definition MEDIUMTEXT NOT NULL,
          updated_at DATETIME NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
    ),
    (
        f"""CREATE TABLE IF NOT EXISTS {QUARANTINE} (
          id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          statistic VARCHAR(64) NOT NULL,
          row_json MEDIUMTEXT NOT NULL COMMENT 'a summed row that would overflow its stored counters',
          created_at DATETIME(3) NOT NULL,
          KEY by_statistic (statistic, created_at)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
    ),
    (
        f"""ALTER TABLE {STATISTICS} ADD COLUMN IF NOT EXISTS rollups VARCHAR(1024) NOT NULL DEFAULT '{{}}'
          COMMENT 'the rollup tables, as JSON: {{"bucket seconds": "table name"}}'""",
    ),
)


SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database holds a table this configuration cannot use."""


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # as information_schema.COLUMNS.COLUMN_TYPE spells it


def rollup_table(table: str, seconds: int) -> str:
    """stat_customer_traffic_1h: the statistic's table and the rollup's bucket in its largest unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{table}_{seconds // size}{unit}"
    return f"{table}_{seconds}s"


def rollup_tables(stat: Statistic, table: str) -> dict[int, str]:
    return {seconds: rollup_table(table, seconds) for seconds in stat.rollups}


def key_columns(stat: Statistic) -> list[Column]:
    columns = [Column(BUCKET_COLUMN, "datetime")]
    for key in stat.keys:
        columns.append(
            Column(key.name, f"varchar({key.max_length})" if key.kind == "string" else "bigint(20)")
        )
    if stat.top:
        top_type = f"varchar({stat.top.max_length})" if stat.top.max_length else "bigint(20)"
        columns.append(Column(stat.top.field, top_type))
    return columns


def primary_key(stat: Statistic) -> list[str]:
    """Keys first, then the bucket: one customer's month is a range of the primary key."""
    return [*(k.name for k in stat.keys), BUCKET_COLUMN, *((stat.top.field,) if stat.top else ())]


def _column_definitions(stat: Statistic) -> list[str]:
    lines = [f"{quote(c.name)} {c.sql_type.replace('(20)', '')} NOT NULL" for c in key_columns(stat)]
    return lines + [f"{quote(c)} BIGINT NOT NULL DEFAULT 0" for c in stat.value_columns]


def create_table_sql(stat: Statistic, table: str) -> str:
    lines = _column_definitions(stat)
    lines.append(f"PRIMARY KEY ({', '.join(quote(c) for c in primary_key(stat))})")
    if stat.keys:
        lines.append(f"KEY by_bucket ({quote(BUCKET_COLUMN)})")
    comment = (stat.description or stat.name).replace("'", "''")[:1000]
    body = ",\n  ".join(lines)
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(table)} (\n  {body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
        f"COLLATE=utf8mb4_bin COMMENT='{comment}'"
    )


def staging_table_sql(stat: Statistic, table: str, engine: str) -> str:
    """A temporary table of the session with a statistic's columns and no index: LOAD DATA fills it,
    one INSERT ... SELECT upserts it into the statistic's table. Temporary tables commit nothing
    implicitly when created inside a transaction."""
    body = ",\n  ".join(_column_definitions(stat))
    options = f"ENGINE={engine} " if engine else ""
    return (
        f"CREATE TEMPORARY TABLE {quote(table)} (\n  {body}\n) {options}"
        "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    )


def _existing_columns(cur: pymysql.cursors.Cursor, table: str) -> dict[str, str]:
    cur.execute(
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    )
    return {name: kind.lower() for name, kind in cur.fetchall()}


def _migrate_table(cur: pymysql.cursors.Cursor, stat: Statistic, table: str) -> list[str]:
    existing = _existing_columns(cur, table)
    if not existing:
        cur.execute(create_table_sql(stat, table))
        return [f"created {table}"]
    for column in key_columns(stat):
        have = existing.get(column.name, "")
        if have.replace("(20)", "") != column.sql_type.replace("(20)", ""):
            raise SchemaError(
                f"{table}: key column {column.name} is {have or 'missing'}, the statistic {stat.name} needs "
                f"{column.sql_type}; a statistic's keys cannot change: give it a new name"
            )
    done = []
    for column in stat.value_columns:
        if column not in existing:
            cur.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} BIGINT NOT NULL DEFAULT 0")
            done.append(f"added {table}.{column}")
    return done


def _fill_rollup(cur: pymysql.cursors.Cursor, stat: Statistic, table: str, rollup: str, seconds: int) -> None:
    """A new rollup table starts as the sums of the statistic's rows (time zone free: the offset of a
    bucket into its rollup bucket is counted from 1970-01-01 in the DATETIME's own terms)."""
    bucket = quote(BUCKET_COLUMN)
    rolled = f"{bucket} - INTERVAL TIMESTAMPDIFF(SECOND, '1970-01-01', {bucket}) MOD {seconds} SECOND"
    keys = [quote(c) for c in stat.key_columns]
    sums = [f"SUM({quote(c)})" for c in stat.value_columns]
    columns = ", ".join([bucket, *keys, *(quote(c) for c in stat.value_columns)])
    cur.execute(
        f"INSERT INTO {quote(rollup)} ({columns}) SELECT {', '.join([rolled + ' AS b', *keys, *sums])} "
        f"FROM {quote(table)} GROUP BY {', '.join(['b', *keys])}"
    )


def _migrate_rollups(cur: pymysql.cursors.Cursor, stat: Statistic, table: str) -> list[str]:
    done = []
    for seconds, rollup in rollup_tables(stat, table).items():
        created = not _existing_columns(cur, rollup)
        done += _migrate_table(cur, stat, rollup)
        if created:
            _fill_rollup(cur, stat, table, rollup, seconds)
            done.append(f"filled {rollup} from {table} ({cur.rowcount} rows)")
    return done


def _schema_version(cur: pymysql.cursors.Cursor) -> int:
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (id TINYINT UNSIGNED NOT NULL PRIMARY KEY, "
        "version INT UNSIGNED NOT NULL, updated_at DATETIME NOT NULL) ENGINE=InnoDB"
    )
    cur.execute(f"SELECT version FROM {VERSION_TABLE} WHERE id = 1")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def migrate(conn: pymysql.connections.Connection, stats: StatisticSet, prefix: str) -> list[str]:
    """Bring the database to this configuration's schema; returns what was done. Several aggregators
    may start at once: a named lock serializes them."""
    done: list[str] = []
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 60)", (_LOCK,))
        if cur.fetchone()[0] != 1:
            raise SchemaError("could not take the schema lock within 60 s")
        try:
            version = _schema_version(cur)
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    f"the database has schema version {version}, this aggregator knows {SCHEMA_VERSION}"
                )
            for target in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[target]:
                    cur.execute(statement)
                cur.execute(
                    f"REPLACE INTO {VERSION_TABLE} (id, version, updated_at) VALUES (1, %s, UTC_TIMESTAMP())",
                    (target + 1,),
                )
                done.append(f"schema version {target + 1}")
            for stat in stats.statistics:
                table = prefix + stat.name
                done += _migrate_table(cur, stat, table)
                done += _migrate_rollups(cur, stat, table)
                cur.execute(
                    f"REPLACE INTO {STATISTICS} (name, table_name, fingerprint, bucket_seconds, "
                    "retention_seconds, billing, description, definition, rollups, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP())",
                    (
                        stat.name,
                        table,
                        stat.fingerprint,
                        stat.bucket,
                        int(stat.retention),
                        stat.billing,
                        stat.description,
                        json.dumps(stat.shape(), sort_keys=True),
                        json.dumps({str(k): v for k, v in rollup_tables(stat, table).items()}),
                    ),
                )
            conn.commit()
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (_LOCK,))
    return done
