"""The write path straight against MariaDB. A large flush is staged (LOAD DATA LOCAL, then one
INSERT ... SELECT); a small one, or one to a server that refuses LOCAL, or by a user who may not create
temporary tables, goes as multi-row statements. Each way stores any key exactly, adds to the rows
already there, keeps the rollups equal to the sums of the rows, moves the checkpoint in the same
transaction, and refuses a value the table cannot hold without committing anything."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator

import polars as pl
import pymysql
import pytest

from streamstats.config import MySQLConfig, load
from streamstats.errors import ConfigError
from streamstats.formats import load_formats
from streamstats.pending import Chain
from streamstats.schema import CHECKPOINTS, QUARANTINE, migrate
from streamstats.sink import BIGINT_MAX, INITIAL_POSITION, STAGED_MIN_ROWS, connect, write_statistic
from streamstats.statistics import Statistic, parse_statistic_set
from tests.mariadb import PASSWORD, USER, MariaDB
from tests.pki import CA

DOC = {
    "format": "cdn",
    "statistics": [
        {
            "name": "traffic",
            "keys": ["customer", "pop"],
            "bucket": "1m",
            "values": {"requests": "count", "bytes_sent": "sum(bytes_sent)"},
            "flush_interval": "1s",
            "retention": "30d",
            "rollups": ["5m", "1h"],
        }
    ],
}
ROLLUPS = {300: "stat_traffic_5m", 3600: "stat_traffic_1h"}
# Every character LOAD DATA or an SQL literal treats specially, at the start, the end and alone.
TRICKY = [
    "plain",
    "",
    "tab\there",
    "\t",
    "new\nline",
    "\n",
    "cr\rlf\r\n",
    'quote"d',
    '"',
    '""',
    'ends with"',
    '"\t"',
    "'",
    "back\\slash",
    "\\",
    "\\N",
    "NULL",
    "nul\x00byte",
    " leading space",
    "ünïcødé ✓ 😀",
    "a,b;c|d",
]
BUCKET = 1_790_000_040
BIG = 2**62 - 2**40  # counters near the protocol's limit stay exact
_COLUMNS = ["bucket", "customer", "pop", "requests", "bytes_sent"]


@pytest.fixture
def database(mariadb: MariaDB) -> tuple[MySQLConfig, Statistic]:
    stats = parse_statistic_set(DOC, load_formats(None))
    cfg = MySQLConfig(
        database=mariadb.create_database("sink"), port=mariadb.port, user=USER, password=PASSWORD
    )
    conn = connect(cfg)
    migrate(conn, stats, "stat_")
    conn.close()
    return cfg, stats.statistics[0]


@contextlib.contextmanager
def _server(mariadb: MariaDB, cfg: MySQLConfig, condition: str) -> Iterator[MySQLConfig]:
    """The server allows LOAD DATA LOCAL and the user temporary tables, or the server refuses LOCAL
    (MySQL 8's default), or the user has the grants the deployment gave before staging existed."""
    with mariadb.root() as conn, conn.cursor() as cur:
        if condition == "local-refused":
            cur.execute("SET GLOBAL local_infile = 0")
        elif condition == "no-temporary-tables":
            cur.execute("CREATE USER 'older'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,))
            cur.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON `{cfg.database}`.* "
                "TO 'older'@'127.0.0.1'"
            )
            cfg = dataclasses.replace(cfg, user="older")
    try:
        yield cfg
    finally:
        with mariadb.root() as conn, conn.cursor() as cur:
            cur.execute("SET GLOBAL local_infile = 1")
            cur.execute("DROP USER IF EXISTS 'older'@'127.0.0.1'")


def _frame(rows: int) -> pl.DataFrame:
    """Each tricky string as a customer, with as many POPs as it takes to make `rows` rows."""
    index = pl.int_range(0, rows, eager=True)
    return pl.DataFrame(
        {
            "bucket": BUCKET + (index % 3) * 60,
            "customer": [TRICKY[i % len(TRICKY)] for i in range(rows)],
            "pop": "p" + (index // len(TRICKY)).cast(pl.String),
            "requests": index + 1,
            "bytes_sent": BIG + index,
        }
    )


def _write(conn: pymysql.connections.Connection, stat: Statistic, frame: pl.DataFrame, start: str, end: str):
    return write_statistic(conn, stat, "stat_traffic", frame, {"edge01": Chain(start, end, "0" * 32, 1)})


def _staged(conn: pymysql.connections.Connection) -> int:
    """INSERT ... SELECT statements this session has run (a refused LOAD DATA counts in Com_load)."""
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Com_insert_select'")
        return int(cur.fetchone()[1])


def _table(conn: pymysql.connections.Connection) -> dict[tuple[str, str, int], tuple[int, int]]:
    with conn.cursor() as cur:
        cur.execute("SELECT customer, pop, UNIX_TIMESTAMP(bucket), requests, bytes_sent FROM stat_traffic")
        return {(c, p, int(b)): (int(r), int(s)) for c, p, b, r, s in cur.fetchall()}


def _rollup(conn: pymysql.connections.Connection, table: str) -> dict[tuple[str, str, int], tuple[int, int]]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT customer, pop, UNIX_TIMESTAMP(bucket), requests, bytes_sent FROM {table}")
        return {(c, p, int(b)): (int(r), int(s)) for c, p, b, r, s in cur.fetchall()}


def _assert_rollups_sum_the_table(conn: pymysql.connections.Connection) -> None:
    """Each rollup row is the sum of the statistic's rows in its bucket (summed here, in Python)."""
    rows = _table(conn)
    for seconds, table in ROLLUPS.items():
        expected: dict[tuple[str, str, int], tuple[int, int]] = {}
        for (customer, pop, bucket), (requests, sent) in rows.items():
            key = (customer, pop, bucket // seconds * seconds)
            before = expected.get(key, (0, 0))
            expected[key] = (before[0] + requests, before[1] + sent)
        assert _rollup(conn, table) == expected, table


def _checkpoint(conn: pymysql.connections.Connection) -> str | None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT position FROM {CHECKPOINTS} WHERE agent_id = 'edge01'")
        row = cur.fetchone()
    conn.commit()
    return row[0] if row else None


@pytest.mark.parametrize(
    ("rows", "condition", "staged"),
    [
        (STAGED_MIN_ROWS + 50, "allowed", True),
        (STAGED_MIN_ROWS - 1, "allowed", False),
        (STAGED_MIN_ROWS + 50, "local-refused", False),
        (STAGED_MIN_ROWS + 50, "no-temporary-tables", False),
    ],
    ids=["large-staged", "small-statements", "local-refused-statements", "no-temporary-tables-statements"],
)
def test_every_key_stored_exactly_and_added_to(
    mariadb: MariaDB, database, rows: int, condition: str, staged: bool
):
    cfg, stat = database
    frame = _frame(rows)
    first, second = json.dumps({"offset": 1}), json.dumps({"offset": 2})
    with _server(mariadb, cfg, condition) as user_cfg:
        conn = connect(user_cfg)
        assert _write(conn, stat, frame, INITIAL_POSITION, first).rows == rows
        assert _write(conn, stat, frame, first, second).rows == rows
        # Each write stages the statistic's rows and each rollup's (one row per key here, as many).
        assert _staged(conn) == (2 * (1 + len(ROLLUPS)) if staged else 0)
        conn.close()
    conn = connect(cfg)
    expected = {(c, p, b): (2 * r, 2 * s) for b, c, p, r, s in frame.select(_COLUMNS).iter_rows()}
    assert _table(conn) == expected
    _assert_rollups_sum_the_table(conn)
    assert _checkpoint(conn) == second
    conn.close()


@pytest.mark.parametrize("rows", [STAGED_MIN_ROWS + 50, 10], ids=["staged", "statements"])
def test_a_value_the_table_cannot_hold_commits_nothing(database, rows: int):
    """The protocol refuses over-long keys before they get here; if one did, LOAD DATA LOCAL would
    truncate it with a warning where a statement fails: the staged path fails too."""
    cfg, stat = database
    conn = connect(cfg)
    _write(conn, stat, _frame(rows), INITIAL_POSITION, json.dumps({"offset": 1}))
    before = _table(conn)
    too_long = _frame(rows).with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("x" * 65)).otherwise("customer").alias("customer")
    )
    rollups = {table: _rollup(conn, table) for table in ROLLUPS.values()}
    with pytest.raises(pymysql.MySQLError, match=r"(?i)too long|truncated"):
        _write(conn, stat, too_long, json.dumps({"offset": 1}), json.dumps({"offset": 2}))
    assert _table(conn) == before
    assert {table: _rollup(conn, table) for table in ROLLUPS.values()} == rollups
    assert _checkpoint(conn) == json.dumps({"offset": 1})
    conn.close()


@pytest.mark.parametrize("rows", [STAGED_MIN_ROWS + 50, 10], ids=["staged", "statements"])
def test_rows_that_would_overflow_are_quarantined_and_the_rest_commits(database, rows: int):
    """A stored counter near BIGINT's limit plus a delta that does not fit: that row goes to the
    quarantine table with its values, every other row and the checkpoint commit, nothing wraps."""
    cfg, stat = database
    conn = connect(cfg)
    first, second = json.dumps({"offset": 1}), json.dumps({"offset": 2})
    frame = _frame(rows)
    near_limit = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(BIGINT_MAX - 10).otherwise("bytes_sent").alias("bytes_sent")
    )
    _write(conn, stat, near_limit, INITIAL_POSITION, first)
    before = _table(conn)
    outcome = _write(conn, stat, frame, first, second)
    assert (outcome.quarantined, outcome.rows) == (1, rows - 1)
    after = _table(conn)
    bad = frame.row(3, named=True)
    bad_key = (bad["customer"], bad["pop"], bad["bucket"])
    assert after[bad_key] == before[bad_key]
    added = {(c, p, b): (r, v) for b, c, p, r, v in frame.select(_COLUMNS).iter_rows()}
    for key, (requests, sent) in added.items():
        if key != bad_key:
            assert after[key] == (before[key][0] + requests, before[key][1] + sent)
    with conn.cursor() as cur:
        cur.execute(f"SELECT statistic, row_json FROM {QUARANTINE}")
        (name, row_json), *more = cur.fetchall()
    assert (name, more) == ("traffic", [])
    assert json.loads(row_json)["bytes_sent"] == bad["bytes_sent"]
    _assert_rollups_sum_the_table(conn)
    assert _checkpoint(conn) == second
    conn.close()


def test_a_checkpoint_moved_by_another_writer_writes_nothing(database):
    cfg, stat = database
    conn = connect(cfg)
    first, second = json.dumps({"offset": 1}), json.dumps({"offset": 2})
    _write(conn, stat, _frame(10), INITIAL_POSITION, first)
    before = _table(conn)
    stale = _write(conn, stat, _frame(10), INITIAL_POSITION, json.dumps({"offset": 5}))
    assert (stale.conflicts, stale.rows) == (["edge01"], 0)
    again = _write(conn, stat, _frame(10), INITIAL_POSITION, first)  # committed, its answer lost
    assert again.already_committed and not again.conflicts
    assert _table(conn) == before
    assert _checkpoint(conn) == first
    assert _write(conn, stat, _frame(10), first, second).rows == 10
    conn.close()


def test_a_new_rollup_starts_as_the_sums_of_the_rows_already_stored(mariadb: MariaDB):
    """A statistic stored before it had rollups: the migration that adds them fills them, and the
    statistics table names them for readers (the panel)."""
    without = {**DOC, "statistics": [{k: v for k, v in DOC["statistics"][0].items() if k != "rollups"}]}
    cfg = MySQLConfig(
        database=mariadb.create_database("rollups"), port=mariadb.port, user=USER, password=PASSWORD
    )
    conn = connect(cfg)
    plain = parse_statistic_set(without, load_formats(None))
    migrate(conn, plain, "stat_")
    write_statistic(
        conn,
        plain.statistics[0],
        "stat_traffic",
        _frame(STAGED_MIN_ROWS + 50),
        {"edge01": Chain(INITIAL_POSITION, "{}x", "0" * 32, 1)},
    )
    done = migrate(conn, parse_statistic_set(DOC, load_formats(None)), "stat_")
    assert [d.split(" (")[0] for d in done if "stat_traffic_" in d] == [
        "created stat_traffic_5m",
        "filled stat_traffic_5m from stat_traffic",
        "created stat_traffic_1h",
        "filled stat_traffic_1h from stat_traffic",
    ]
    _assert_rollups_sum_the_table(conn)
    with conn.cursor() as cur:
        cur.execute("SELECT rollups FROM streamstats_statistics WHERE name = 'traffic'")
        assert json.loads(cur.fetchone()[0]) == {str(k): v for k, v in ROLLUPS.items()}
    conn.close()


def test_tls_to_mysql_verifies_the_server(mariadb: MariaDB, tmp_path):
    """With ssl_ca the connection is encrypted and the server's certificate and name are verified; a
    certificate from another CA is refused; off loopback the configuration requires a CA."""
    cfg = MySQLConfig(
        database="mysql", port=mariadb.port, user=USER, password=PASSWORD, ssl_ca=str(mariadb.ca_file)
    )
    conn = connect(cfg)
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert cur.fetchone()[1].startswith("TLS")
    conn.close()
    other = CA.create(tmp_path, "other")
    with pytest.raises(pymysql.err.OperationalError, match=r"(?i)certificate verify failed"):
        connect(dataclasses.replace(cfg, ssl_ca=str(other.cert)))
    config = tmp_path / "aggregator.yml"
    mysql = {"host": "db1.internal", "database": "analytics"}
    config.write_text(json.dumps({"statistics": "cdn", "aggregator": {"tokens": ["t" * 20], "mysql": mysql}}))
    with pytest.raises(ConfigError) as info:
        load(config)
    assert info.value.key == "aggregator.mysql.ssl_ca"
    config.write_text(
        json.dumps(
            {
                "statistics": "cdn",
                "aggregator": {"tokens": ["t" * 20], "mysql": {**mysql, "ssl_ca": str(other.cert)}},
            }
        )
    )
    assert load(config).aggregator.mysql.ssl_ca == str(other.cert)
