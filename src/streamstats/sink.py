"""Writing a statistic to MySQL: its counters and its agents' checkpoints in one transaction.

The aggregator holds a statistic's deltas summed over its agents, and per agent the chain of positions
they cover (streamstats.pending). The transaction locks the agents' checkpoint rows and writes only if
each stands where its chain starts; then the sums and the new checkpoints commit together. So for every
agent and statistic the counters hold exactly the lines up to the checkpoint, whatever crashes.

A stored counter plus its delta that would not fit a BIGINT (a faulty or hostile agent) is not written:
that row goes to the quarantine table with its values, and the rest of the flush commits.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pymysql

from streamstats.config import MySQLConfig
from streamstats.pending import Chain
from streamstats.schema import CHECKPOINTS, QUARANTINE, primary_key, quote, rollup_tables, staging_table_sql
from streamstats.statistics import BUCKET_COLUMN, Statistic

INITIAL_POSITION = "{}"  # an agent that has committed nothing
BIGINT_MAX = 2**63 - 1
OUT_OF_RANGE = 1690  # ER_DATA_OUT_OF_RANGE: "BIGINT value is out of range" in strict mode
RETENTION_BATCH = 10_000
STATEMENT_BYTES = 4 << 20  # well under max_allowed_packet (16 MiB by default)
# From this many rows on, a flush goes through a staging table: LOAD DATA LOCAL, then one
# INSERT ... SELECT. The server reads a tab-separated line for much less CPU than it parses an SQL
# tuple (docs/performance.md). Measured: as fast as statements at 100 rows, 20 % faster at 300.
STAGED_MIN_ROWS = 200
# The server refuses LOAD DATA LOCAL (MariaDB 4166, older servers 1148, MySQL 3948: MySQL 8 refuses it
# by default) or the user may not create temporary tables (1044): statements do the same, only slower.
STAGING_REFUSED = frozenset({1044, 1148, 3948, 4166})
# Strings enclosed in double quotes, a quote inside doubled, no escape character: polars' CSV writer
# with quote_style="non_numeric" writes exactly this, tabs, newlines and backslashes included.
LOAD_FORMAT = "FIELDS TERMINATED BY '\\t' ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n'"


def connect(cfg: MySQLConfig) -> pymysql.connections.Connection:
    conn = pymysql.connect(
        host=cfg.host,
        port=cfg.port,
        unix_socket=cfg.unix_socket or None,
        user=cfg.user,
        password=cfg.password,
        database=cfg.database,
        charset="utf8mb4",
        autocommit=False,
        connect_timeout=cfg.connect_timeout,
        read_timeout=300,
        write_timeout=300,
        # LOAD DATA LOCAL for large flushes. The client then sends any file the server asks for, so the
        # aggregator trusts its database server as it trusts its own configuration (docs/analytics.md).
        local_infile=True,
        # UTC buckets and strict types.
        init_command="SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
        # TLS with the server's certificate and name verified, when a CA is configured.
        ssl_ca=cfg.ssl_ca or None,
        ssl_verify_identity=bool(cfg.ssl_ca),
    )
    with conn.cursor() as cur:
        # No gap locks: checkpoint rows are created, then locked one by one (MySQL and MariaDB spell
        # the variable differently; this statement works in both).
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return conn


@dataclass
class FlushOutcome:
    rows: int = 0
    conflicts: list[str] = field(default_factory=list)  # agents whose checkpoint moved elsewhere
    already_committed: bool = False  # an earlier attempt whose answer was lost wrote it all
    quarantined: int = 0  # rows set aside: adding them would take a stored counter past BIGINT
    seconds: float = 0.0


def load_positions(conn: pymysql.connections.Connection, agent: str) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT statistic, position FROM {CHECKPOINTS} WHERE agent_id = %s", (agent,))
        rows = dict(cur.fetchall())
    conn.commit()
    return rows


def _lock_checkpoints(cur: pymysql.cursors.Cursor, stat: Statistic, agents: list[str]) -> dict[str, str]:
    # The row must exist to be locked (READ COMMITTED takes no gap locks), so create it first.
    cur.executemany(
        f"INSERT IGNORE INTO {CHECKPOINTS} (agent_id, statistic, position, run_id, sequence, updated_at) "
        "VALUES (%s, %s, %s, %s, 0, UTC_TIMESTAMP(3))",
        [(agent, stat.name, INITIAL_POSITION, "0" * 32) for agent in agents],
    )
    marks = ", ".join(["%s"] * len(agents))
    cur.execute(
        f"SELECT agent_id, position FROM {CHECKPOINTS} WHERE statistic = %s AND agent_id IN ({marks}) "
        "ORDER BY agent_id FOR UPDATE",
        (stat.name, *agents),
    )
    return dict(cur.fetchall())


def _quoted(column: str) -> pl.Expr:
    """A string column as SQL literals: the session's sql_mode keeps backslash escapes on."""
    text = pl.col(column).str.replace_many(["\\", "'", "\x00"], ["\\\\", "\\'", "\\0"])
    return pl.lit("'") + text + pl.lit("'")


def _values_sql(stat: Statistic, frame: pl.DataFrame, columns: list[str] | None = None) -> pl.Series:
    """One "(...)" tuple per row, built column-wise (escaping value by value in Python would cost
    more than the server's work)."""
    parts: list[pl.Expr] = []
    for column in columns or stat.columns:
        dtype = frame.schema[column]
        parts.append(_quoted(column) if dtype == pl.String else pl.col(column).cast(pl.String))
    return frame.select(pl.concat_str(parts, separator=",")).to_series()


def _upsert_statements(cur: pymysql.cursors.Cursor, stat: Statistic, table: str, frame: pl.DataFrame) -> None:
    """Multi-row INSERT ... ON DUPLICATE KEY UPDATE statements of up to STATEMENT_BYTES each."""
    columns = ", ".join(quote(c) for c in stat.columns)
    updates = ", ".join(f"{quote(c)} = {quote(c)} + VALUES({quote(c)})" for c in stat.value_columns)
    tuples = _values_sql(stat, frame)
    rows = max(1, STATEMENT_BYTES // (int(tuples.str.len_bytes().max() or 0) + 3))  # type: ignore[arg-type]
    for start in range(0, len(tuples), rows):
        values = "(" + "),(".join(tuples.slice(start, rows).to_list()) + ")"
        cur.execute(
            f"INSERT INTO {quote(table)} ({columns}) VALUES {values} ON DUPLICATE KEY UPDATE {updates}"
        )


@contextlib.contextmanager
def _memory_file(frame: pl.DataFrame) -> Iterator[str]:
    """The frame as LOAD_FORMAT lines in an anonymous file in memory, by a name the client can open."""
    fd = os.memfd_create("streamstats-stage", os.MFD_CLOEXEC)
    try:
        with open(fd, "wb", closefd=False) as out:
            frame.write_csv(out, include_header=False, separator="\t", quote_style="non_numeric")
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _check_loaded(cur: pymysql.cursors.Cursor, rows: int) -> None:
    # LOCAL turns bad values into warnings (the server cannot stop the client's upload midway): the
    # statements' strict mode is restored by refusing any warning.
    if cur.rowcount == rows and not cur.warning_count:
        return
    loaded = cur.rowcount
    cur.execute("SHOW WARNINGS LIMIT 3")
    warnings = list(cur.fetchall())
    code = int(warnings[0][1]) if warnings else 0
    raise pymysql.err.DataError(code, f"LOAD DATA read {loaded} of {rows} rows: {warnings}")


def _upsert_staged(cur: pymysql.cursors.Cursor, stat: Statistic, table: str, frame: pl.DataFrame) -> None:
    """LOAD DATA LOCAL into the session's staging table, then one INSERT ... SELECT ... ON DUPLICATE
    KEY UPDATE. The staging table is Aria on MariaDB (not transactional, variable-length rows; MEMORY
    would pad every VARCHAR to its full width), the server's default temporary engine elsewhere."""
    stage = quote("stage_" + stat.name)
    engine = "Aria" if "MariaDB" in cur.connection.get_server_info() else ""
    columns = ", ".join(quote(c) for c in stat.columns)
    # Made anew for each flush: a rolled-back flush leaves its rows (Aria is not transactional), and
    # DELETE would remove them one by one.
    cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {stage}")
    cur.execute(staging_table_sql(stat, "stage_" + stat.name, engine))
    with _memory_file(frame) as path:
        cur.execute(
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {stage} CHARACTER SET utf8mb4 {LOAD_FORMAT} ({columns})",
            (path,),
        )
    _check_loaded(cur, frame.height)
    # The rows come out of the staging table in the order they were loaded (primary-key order).
    updates = ", ".join(f"{quote(c)} = {quote(table)}.{quote(c)} + s.{quote(c)}" for c in stat.value_columns)
    cur.execute(
        f"INSERT INTO {quote(table)} ({columns}) SELECT {columns} FROM {stage} AS s "
        f"ON DUPLICATE KEY UPDATE {updates}"
    )


def _for_sql(stat: Statistic, frame: pl.DataFrame) -> pl.DataFrame:
    """Primary-key order (concurrent writers of one table then lock rows in the same order), buckets
    as DATETIME strings."""
    return frame.sort(primary_key(stat)).with_columns(
        pl.from_epoch(BUCKET_COLUMN, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    )


def _upsert(
    cur: pymysql.cursors.Cursor, stat: Statistic, table: str, frame: pl.DataFrame, prepared: bool = False
) -> None:
    if not prepared:
        frame = _for_sql(stat, frame)
    if frame.is_empty():
        return
    if frame.height >= STAGED_MIN_ROWS:
        try:
            _upsert_staged(cur, stat, table, frame.select(stat.columns))
            return
        except pymysql.MySQLError as exc:
            # Refused before anything was written: the transaction goes on.
            if exc.args[0] not in STAGING_REFUSED:
                raise
    _upsert_statements(cur, stat, table, frame)


def _existing(cur: pymysql.cursors.Cursor, stat: Statistic, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The stored rows with the keys of `frame` (bucket as a DATETIME string, as `frame` has it)."""
    keys = primary_key(stat)
    selected = [
        f"DATE_FORMAT({quote(c)}, '%Y-%m-%d %H:%i:%s')" if c == BUCKET_COLUMN else quote(c)
        for c in [*keys, *stat.value_columns]
    ]
    tuples = _values_sql(stat, frame, keys)
    found: list[tuple] = []
    for start in range(0, len(tuples), 1000):
        marks = "),(".join(tuples.slice(start, 1000).to_list())
        cur.execute(
            f"SELECT {', '.join(selected)} FROM {quote(table)} "
            f"WHERE ({', '.join(quote(c) for c in keys)}) IN (({marks}))"
        )
        found += cur.fetchall()
    schema = {c: frame.schema[c] for c in [*keys, *stat.value_columns]}
    return pl.DataFrame(found, schema=schema, orient="row")


def _quarantine(
    cur: pymysql.cursors.Cursor, stat: Statistic, table: str, frame: pl.DataFrame, label: str
) -> pl.DataFrame:
    """Move the rows whose sum with the stored row would not fit a BIGINT into the quarantine table
    (as `label`'s); returns the others. Their data is kept there for an operator, never written wrapped
    or capped."""
    keys = primary_key(stat)
    stored = _existing(cur, stat, table, frame)
    joined = frame.join(stored, on=keys, how="left", suffix="_stored")
    too_big = pl.any_horizontal(
        pl.col(f"{c}_stored").fill_null(0) > pl.lit(BIGINT_MAX, pl.Int64) - pl.col(c)
        for c in stat.value_columns
    )
    bad = joined.filter(too_big).select(frame.columns)
    if bad.height:
        cur.executemany(
            f"INSERT INTO {QUARANTINE} (statistic, row_json, created_at) VALUES (%s, %s, UTC_TIMESTAMP(3))",
            [(label, json.dumps(row, sort_keys=True)) for row in bad.to_dicts()],
        )
    return joined.filter(~too_big).select(frame.columns)


def _upsert_or_quarantine(
    cur: pymysql.cursors.Cursor, stat: Statistic, table: str, frame: pl.DataFrame, label: str
) -> pl.DataFrame:
    """Upsert the frame; when a stored counter would overflow, set those rows aside and write the rest.
    Returns the rows written."""
    cur.execute("SAVEPOINT upsert")
    try:
        _upsert(cur, stat, table, frame)
        return frame
    except pymysql.MySQLError as exc:
        if exc.args[0] != OUT_OF_RANGE:
            raise
    cur.execute("ROLLBACK TO SAVEPOINT upsert")
    kept = _quarantine(cur, stat, table, _for_sql(stat, frame), label)
    _upsert(cur, stat, table, kept, prepared=True)
    epoch = pl.col(BUCKET_COLUMN).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S").dt.epoch("s")
    return kept.with_columns(epoch.cast(frame.schema[BUCKET_COLUMN]))


def _rolled_up(stat: Statistic, frame: pl.DataFrame, seconds: int) -> pl.DataFrame:
    """The rows summed into buckets of `seconds`."""
    bucket = pl.col(BUCKET_COLUMN) // seconds * seconds
    sums = [pl.col(c).sum() for c in stat.value_columns]
    return frame.group_by(bucket, *stat.key_columns).agg(sums).select(stat.columns)


def _write_rows(cur: pymysql.cursors.Cursor, stat: Statistic, table: str, rows: pl.DataFrame) -> int:
    """The rows into the statistic's table and its rollups; returns how many were set aside."""
    written = _upsert_or_quarantine(cur, stat, table, rows, stat.name)
    for seconds, rollup in rollup_tables(stat, table).items():
        rolled = _rolled_up(stat, written, seconds)
        _upsert_or_quarantine(cur, stat, rollup, rolled, f"{stat.name}@{seconds}s")
    return rows.height - written.height


def write_statistic(
    conn: pymysql.connections.Connection,
    stat: Statistic,
    table: str,
    rows: pl.DataFrame,
    chains: dict[str, Chain],
) -> FlushOutcome:
    """One transaction: the sums of the agents' chained deltas and their new checkpoints, provided
    every agent's checkpoint stands where its chain starts. If each stands where its chain ends, an
    earlier attempt wrote it all (its answer was lost); any other checkpoint means another writer moved
    it: nothing is written and the agents are reported as conflicts (they re-read from MySQL). Raises on
    database errors (after a rollback): the caller keeps the data and tries again later."""
    began = time.monotonic()
    outcome = FlushOutcome()
    agents = sorted(chains)
    try:
        with conn.cursor() as cur:
            in_db = _lock_checkpoints(cur, stat, agents)
            moved = [a for a in agents if in_db.get(a, INITIAL_POSITION) != chains[a].start]
            if moved:
                if all(in_db.get(a) == chains[a].end for a in agents):
                    outcome.already_committed = True
                else:
                    outcome.conflicts = moved
                conn.rollback()
                outcome.seconds = time.monotonic() - began
                return outcome
            if not rows.is_empty():
                outcome.quarantined = _write_rows(cur, stat, table, rows)
            cur.executemany(
                f"UPDATE {CHECKPOINTS} SET position = %s, run_id = %s, sequence = %s, "
                "updated_at = UTC_TIMESTAMP(3) WHERE agent_id = %s AND statistic = %s",
                [(c.end, c.run, c.seq, agent, stat.name) for agent, c in sorted(chains.items())],
            )
        conn.commit()
    except BaseException:
        with contextlib.suppress(pymysql.MySQLError, OSError):
            conn.rollback()
        raise
    outcome.rows = rows.height - outcome.quarantined
    outcome.seconds = time.monotonic() - began
    return outcome


def expiry_cutoff(stat: Statistic, now: float) -> str:
    """Rows before this bucket (UTC) are past retention. With rollups the cut falls on a boundary of
    the largest, so that a rollup row and the rows it sums expire together."""
    step = max(stat.rollups, default=stat.bucket)
    cutoff = int(now - stat.retention) // step * step
    return datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%d %H:%M:%S")


def delete_expired(conn: pymysql.connections.Connection, stat: Statistic, table: str) -> int:
    """Delete rows whose bucket is older than the retention (and their rollups), in small transactions;
    returns how many of the statistic's own rows went."""
    cutoff = expiry_cutoff(stat, time.time())
    deleted = {}
    with conn.cursor() as cur:
        for name in [table, *rollup_tables(stat, table).values()]:
            deleted[name] = 0
            while True:
                cur.execute(
                    f"DELETE FROM {quote(name)} WHERE {quote(BUCKET_COLUMN)} < %s LIMIT {RETENTION_BATCH}",
                    (cutoff,),
                )
                conn.commit()
                deleted[name] += cur.rowcount
                if cur.rowcount < RETENTION_BATCH:
                    break
    return deleted[table]
