"""Writing a statistic to MySQL: its counters and its agents' checkpoints in one transaction.

Per agent, the aggregator holds contiguous segments of deltas (start position -> end position). The
transaction locks the agent's checkpoint row and applies the segments from the one starting where the
checkpoint stands: segments before it were committed already (a commit whose answer was lost), and if
none starts there the agent's data is dropped and the agent re-reads from the checkpoint. So for every
agent and statistic the counters hold exactly the lines up to the checkpoint, whatever crashes.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import polars as pl
import pymysql

from streamstats.aggregate import merge
from streamstats.config import MySQLConfig
from streamstats.schema import CHECKPOINTS, primary_key, quote
from streamstats.statistics import BUCKET_COLUMN, Statistic

INITIAL_POSITION = "{}"  # an agent that has committed nothing
RETENTION_BATCH = 10_000
ROWS_PER_STATEMENT = 5_000
DEADLOCK = 1213
LOCK_WAIT_TIMEOUT = 1205


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
        # UTC buckets and strict types.
        init_command="SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
    )
    with conn.cursor() as cur:
        # No gap locks: checkpoint rows are created, then locked one by one (MySQL and MariaDB spell
        # the variable differently; this statement works in both).
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return conn


@dataclass
class Segment:
    """Deltas of one agent and statistic from position `start` to `end`."""

    start: str
    end: str
    frames: list[pl.DataFrame]
    run: str
    seq: int

    @property
    def rows(self) -> int:
        return sum(f.height for f in self.frames)


@dataclass
class FlushOutcome:
    rows: int = 0
    committed: dict[str, str] = field(default_factory=dict)  # agent -> checkpoint now in the database
    conflicts: list[str] = field(default_factory=list)  # agents whose data was dropped: must re-read
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


def _upsert_sql(stat: Statistic, table: str) -> str:
    columns = ", ".join(quote(c) for c in stat.columns)
    marks = ", ".join(["%s"] * len(stat.columns))
    updates = ", ".join(f"{quote(c)} = {quote(c)} + VALUES({quote(c)})" for c in stat.value_columns)
    return f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}"


def _upsert(cur: pymysql.cursors.Cursor, stat: Statistic, table: str, frame: pl.DataFrame) -> None:
    # Primary-key order: concurrent writers of one table then lock rows in the same order.
    frame = frame.sort(primary_key(stat)).with_columns(
        pl.from_epoch(BUCKET_COLUMN, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    sql = _upsert_sql(stat, table)
    rows = frame.select(stat.columns).rows()
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        cur.executemany(sql, rows[start : start + ROWS_PER_STATEMENT])


def write_statistic(
    conn: pymysql.connections.Connection,
    stat: Statistic,
    table: str,
    pending: dict[str, list[Segment]],
    top_keep: int | None,
) -> FlushOutcome:
    """One transaction: the accepted agents' deltas and their new checkpoints. Raises on database
    errors (after a rollback): the caller keeps `pending` and tries again later."""
    began = time.monotonic()
    outcome = FlushOutcome()
    agents = sorted(pending)
    try:
        with conn.cursor() as cur:
            in_db = _lock_checkpoints(cur, stat, agents)
            frames: list[pl.DataFrame] = []
            checkpoints = []
            for agent in agents:
                segments = pending[agent]
                position = in_db.get(agent, INITIAL_POSITION)
                first = next((i for i, s in enumerate(segments) if s.start == position), None)
                if first is None:
                    if position == segments[-1].end:
                        outcome.committed[agent] = position  # all of it committed by an earlier attempt
                    else:
                        outcome.conflicts.append(agent)
                    continue
                frames += [f for s in segments[first:] for f in s.frames]
                last = segments[-1]
                checkpoints.append((agent, stat.name, last.end, last.run, last.seq))
                outcome.committed[agent] = last.end
            rows = merge(stat, frames, top_keep)
            if not rows.is_empty():
                _upsert(cur, stat, table, rows)
            if checkpoints:
                cur.executemany(
                    f"UPDATE {CHECKPOINTS} SET position = %s, run_id = %s, sequence = %s, "
                    "updated_at = UTC_TIMESTAMP(3) WHERE agent_id = %s AND statistic = %s",
                    [(end, run, seq, agent, name) for agent, name, end, run, seq in checkpoints],
                )
        conn.commit()
    except BaseException:
        with contextlib.suppress(pymysql.MySQLError, OSError):
            conn.rollback()
        raise
    outcome.rows = rows.height
    outcome.seconds = time.monotonic() - began
    return outcome


def delete_expired(conn: pymysql.connections.Connection, stat: Statistic, table: str) -> int:
    """Delete rows whose bucket is older than the retention, in small transactions."""
    deleted = 0
    with conn.cursor() as cur:
        while True:
            cur.execute(
                f"DELETE FROM {quote(table)} WHERE {quote(BUCKET_COLUMN)} < "
                f"UTC_TIMESTAMP() - INTERVAL %s SECOND LIMIT {RETENTION_BATCH}",
                (int(stat.retention),),
            )
            conn.commit()
            deleted += cur.rowcount
            if cur.rowcount < RETENTION_BATCH:
                return deleted
