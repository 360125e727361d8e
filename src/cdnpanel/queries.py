"""Every figure the panel shows, aggregated by MariaDB from the streamstats tables. The statistics are
found through streamstats' own catalogue (`streamstats_statistics`: name, table, bucket), so a
statistic set without one of them shows an empty state instead of failing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pymysql

from cdnpanel.periods import FIVE_MINUTES, Month, TimeRange, billing_intervals, percentile_95
from streamstats.schema import CHECKPOINTS, STATISTICS, quote

BILLING = "customer_traffic"
HIT_STATUSES = ("HIT", "STALE", "UPDATING", "REVALIDATED")  # streamstats' cache_hit
# Breakdowns: (title, statistic, key column, approximate)
BREAKDOWNS: tuple[tuple[str, str, str, bool], ...] = (
    ("Top URLs", "top_urls", "path", True),
    ("Countries", "customer_country", "country", False),
    ("Status codes", "customer_status_code", "status", False),
    ("Virtual hosts", "customer_vhost", "vhost", False),
    ("Content types", "customer_content_type", "content_type", False),
)


@dataclass(frozen=True)
class StatTable:
    name: str
    table: str
    bucket: int
    billing: bool
    description: str
    rollups: dict[int, str] = field(default_factory=dict)  # bucket seconds -> table, readable ones only

    def source(self, step: int) -> str:
        """The table to sum points of `step` seconds from (aligned to `step`): the coarsest rollup
        whose buckets fit in a point, else the statistic's own table."""
        fitting = [seconds for seconds in self.rollups if step % seconds == 0]
        return self.rollups[max(fitting)] if fitting else self.table


Catalog = dict[str, StatTable]


@dataclass
class Series:
    """Values per point of a range (0 where the table has no row); times are epoch seconds."""

    times: list[int]
    columns: dict[str, list[float]]


@dataclass(frozen=True)
class BreakdownRow:
    key: str
    requests: int
    bytes_sent: int
    share: float  # of the breakdown's requests in the range


@dataclass(frozen=True)
class Breakdown:
    title: str
    statistic: str
    column: str
    approximate: bool
    bucket: int
    available: bool
    rows: tuple[BreakdownRow, ...] = ()
    total_requests: int = 0


@dataclass(frozen=True)
class TrafficSummary:
    requests: int
    bytes_sent: int
    hit_ratio_requests: float | None
    hit_ratio_bytes: float | None
    avg_request_ms: float | None
    avg_upstream_ms: float | None
    status_classes: dict[str, int]


@dataclass(frozen=True)
class Day:
    day: str  # YYYY-MM-DD
    requests: int
    bytes_sent: int
    peak_5min_bps: float


@dataclass
class Usage:
    customer: str
    month: Month
    requests: int
    bytes_sent: int
    p95_bps: float
    intervals: int  # 5-minute intervals counted for the percentile
    days: list[Day] = field(default_factory=list)
    five_minute_bytes: list[int] = field(default_factory=list)  # one per interval from the month's start


@dataclass(frozen=True)
class AgentHealth:
    agent: str
    statistics: int
    oldest_checkpoint: float
    newest_checkpoint: float
    billing_checkpoint: float | None
    lag_seconds: float


@dataclass(frozen=True)
class SiteRow:
    name: str
    requests: int
    bytes_sent: int
    cache_ratio: float | None
    error_rate: float | None  # 5xx share of requests; None where the statistics do not say


_CATALOG = f"SELECT name, table_name, bucket_seconds, billing, description, {{}} FROM {STATISTICS}"
UNKNOWN_COLUMN = 1054


def _catalog_rows(cur: pymysql.cursors.Cursor) -> list[tuple]:
    try:
        cur.execute(_CATALOG.format("rollups"))
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != UNKNOWN_COLUMN:
            raise
        cur.execute(_CATALOG.format("'{}'"))  # written by aggregators older than rollups
    return list(cur.fetchall())


def _readable(cur: pymysql.cursors.Cursor, tables: set[str]) -> set[str]:
    """Those of `tables` this account may read: information_schema lists no other."""
    if not tables:
        return set()
    marks = ", ".join(["%s"] * len(tables))
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        f"AND table_name IN ({marks})",
        sorted(tables),
    )
    return {str(name) for (name,) in cur.fetchall()}


def catalog(conn: pymysql.connections.Connection) -> Catalog:
    """The statistics, each with the rollups this account may read (a rollup made after the panel's
    grants is skipped until they are renewed, not an error)."""
    try:
        with conn.cursor() as cur:
            rows = [(*row[:5], json.loads(row[5])) for row in _catalog_rows(cur)]
            readable = _readable(cur, {t for *_, rollups in rows for t in rollups.values()})
    except pymysql.err.ProgrammingError:  # no aggregator has run against this database yet
        return {}
    return {
        n: StatTable(n, t, int(b), bool(bi), d, {int(k): v for k, v in r.items() if v in readable})
        for n, t, b, bi, d, r in rows
    }


def _range_sql(start: int, end: int) -> tuple[str, tuple[int, int]]:
    return "bucket >= FROM_UNIXTIME(%s) AND bucket < FROM_UNIXTIME(%s)", (start, end)


def _series(
    conn: pymysql.connections.Connection,
    table: StatTable,
    sums: Sequence[str],
    key: tuple[str, str],
    rng: TimeRange,
    extra: str = "",
) -> dict[int, tuple[float, ...]]:
    where, params = _range_sql(rng.start, rng.end)
    columns = ", ".join(f"SUM({s})" for s in sums)
    sql = (
        f"SELECT UNIX_TIMESTAMP(bucket) DIV {rng.step} * {rng.step} AS t, {columns} "
        f"FROM {quote(table.source(rng.step))} WHERE {quote(key[0])} = %s AND {where} {extra} "
        "GROUP BY t ORDER BY t"
    )
    with conn.cursor() as cur:
        cur.execute(sql, (key[1], *params))
        return {int(row[0]): tuple(float(v or 0) for v in row[1:]) for row in cur.fetchall()}


def _one(conn: pymysql.connections.Connection, sql: str, params: tuple) -> tuple:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone() or ()


def _ratio(part: object, whole: object) -> float | None:
    return float(part) / float(whole) if whole else None  # type: ignore[arg-type]


def _point(rows: dict[int, tuple[float, ...]], t: int, i: int) -> float:
    return rows[t][i] if t in rows else 0.0


def _classes(
    conn: pymysql.connections.Connection, table: StatTable, customer: str, rng: TimeRange
) -> dict[str, dict[int, float]]:
    """Requests per status class and point, in one scan."""
    where, span = _range_sql(rng.start, rng.end)
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT status_class, UNIX_TIMESTAMP(bucket) DIV {rng.step} * {rng.step} AS t, SUM(requests) "
            f"FROM {quote(table.source(rng.step))} WHERE customer = %s AND {where} GROUP BY status_class, t",
            (customer, *span),
        )
        out: dict[str, dict[int, float]] = {}
        for cls, t, n in cur.fetchall():
            out.setdefault(str(cls), {})[int(t)] = float(n)
    return out


def traffic(
    conn: pymysql.connections.Connection, cat: Catalog, customer: str, rng: TimeRange
) -> tuple[Series, TrafficSummary]:
    """The Traffic page: per point bandwidth (bits/s over the point) and requests from the billing
    statistic, the cache hit ratio and the status classes where their statistics exist; and the
    range's totals, summed from the same points (one scan per statistic)."""
    times = rng.points
    columns: dict[str, list[float]] = {}
    requests = bytes_sent = 0
    if BILLING in cat:
        rows = _series(conn, cat[BILLING], ["requests", "bytes_sent"], ("customer", customer), rng)
        columns["requests"] = [_point(rows, t, 0) for t in times]
        columns["bits_per_second"] = [_point(rows, t, 1) * 8 / rng.step for t in times]
        requests, bytes_sent = int(sum(r[0] for r in rows.values())), int(sum(r[1] for r in rows.values()))
    hit_req = hit_bytes = None
    if "customer_cache" in cat:
        marks = ", ".join(f"'{s}'" for s in HIT_STATUSES)
        hit = f"cache_status IN ({marks})"
        sums = [f"IF({hit}, requests, 0)", "requests", f"IF({hit}, bytes_sent, 0)", "bytes_sent"]
        rows = _series(conn, cat["customer_cache"], sums, ("customer", customer), rng)
        columns["hit_ratio"] = [_ratio(rows[t][0], rows[t][1]) if t in rows else None for t in times]
        totals = [sum(r[i] for r in rows.values()) for i in range(4)]
        hit_req, hit_bytes = _ratio(totals[0], totals[1]), _ratio(totals[2], totals[3])
    classes: dict[str, int] = {}
    if "customer_status" in cat:
        per_class = _classes(conn, cat["customer_status"], customer, rng)
        for cls in ("2xx", "3xx", "4xx", "5xx"):
            columns[f"status_{cls}"] = [per_class.get(cls, {}).get(t, 0.0) for t in times]
        classes = {cls: int(sum(points.values())) for cls, points in sorted(per_class.items())}
    avg_req = avg_up = None
    if "customer_quality" in cat:
        where, span = _range_sql(rng.start, rng.end)
        row = _one(
            conn,
            "SELECT SUM(request_time_ms_sum), SUM(request_time_ms_count), SUM(upstream_time_ms_sum), "
            f"SUM(upstream_time_ms_count) FROM {quote(cat['customer_quality'].source(rng.step))} "
            f"WHERE customer = %s AND {where}",
            (customer, *span),
        )
        avg_req, avg_up = _ratio(row[0], row[1]), _ratio(row[2], row[3])
    summary = TrafficSummary(requests, bytes_sent, hit_req, hit_bytes, avg_req, avg_up, classes)
    return Series(times, columns), summary


def breakdown(
    conn: pymysql.connections.Connection,
    cat: Catalog,
    spec: tuple[str, str, str, bool],
    customer: str,
    rng: TimeRange,
    limit: int = 20,
) -> Breakdown:
    title, name, column, approximate = spec
    if name not in cat:
        return Breakdown(title, name, column, approximate, 0, available=False)
    table = cat[name]
    where, span = _range_sql(rng.start, rng.end)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s AND COLUMN_NAME = 'bytes_sent'",
            (table.table,),
        )
        bytes_expr = "SUM(bytes_sent)" if cur.fetchone() else "0"
        cur.execute(
            f"SELECT SUM(requests) FROM {quote(table.table)} WHERE customer = %s AND {where}",
            (customer, *span),
        )
        total = int((cur.fetchone() or (0,))[0] or 0)
        cur.execute(
            f"SELECT {quote(column)}, SUM(requests) AS r, {bytes_expr} FROM {quote(table.table)} "
            f"WHERE customer = %s AND {where} GROUP BY {quote(column)} "
            f"ORDER BY r DESC, {quote(column)} LIMIT %s",
            (customer, *span, limit),
        )
        rows = tuple(
            BreakdownRow(str(k), int(r), int(b or 0), int(r) / total if total else 0.0)
            for k, r, b in cur.fetchall()
        )
    return Breakdown(title, name, column, approximate, table.bucket, True, rows, total)


def complete_up_to(conn: pymysql.connections.Connection, cat: Catalog, margin: float) -> float | None:
    """Up to when the billing statistic is complete: the oldest of the agents' billing checkpoints
    (each agent's counts are committed up to its checkpoint), less a margin for lines the agent had not
    read when it sent. None before any agent committed."""
    if BILLING not in cat:
        return None
    row = _one(
        conn, f"SELECT UNIX_TIMESTAMP(MIN(updated_at)) FROM {CHECKPOINTS} WHERE statistic = %s", (BILLING,)
    )
    return float(row[0]) - margin if row and row[0] is not None else None


Intervals = dict[int, tuple[int, int]]  # 5-minute interval index from the month's start -> (requests, bytes)


# A customer's month packed in one value; a value cut at this length fails the page, loudly (the
# 1-minute table of a month is 44,640 rows of up to 3 x 20 digits).
_PACKED_MAX_LEN = 16 << 20


def _intervals(count: int, packed: str | None) -> Intervals:
    """The 5-minute sums of `count` rows packed as "interval,requests,bytes,..." (rows of a finer table
    or of other keys add up in their interval)."""
    numbers = [int(v) for v in packed.split(",")] if packed else []
    if len(numbers) != 3 * count:
        raise RuntimeError(f"a month's 5-minute sums came cut short: {len(numbers)} numbers, {count} rows")
    out: Intervals = {}
    for index, requests, bytes_sent in zip(numbers[0::3], numbers[1::3], numbers[2::3], strict=True):
        before = out.get(index)
        out[index] = (before[0] + requests, before[1] + bytes_sent) if before else (requests, bytes_sent)
    return out


def _five_minute_sums(
    conn: pymysql.connections.Connection, cat: Catalog, month: Month, customer: str | None
) -> dict[str, Intervals]:
    """customer -> its month's 5-minute sums, for one customer or all of them: the only scan a bill
    needs (days and totals are sums of the intervals). A customer's rows come packed in one value
    (GROUP_CONCAT) and are summed here: pymysql decodes a row in Python, and a row per interval (8,928
    a month) was 85% of the Usage page's CPU; a GROUP BY of the intervals in SQL, a temporary table,
    took MariaDB 3 times as long as reading the 5-minute rollup as it is."""
    where, span = _range_sql(month.start, month.end)
    who, params = ("customer = %s AND ", (customer,)) if customer else ("", ())
    with conn.cursor() as cur:
        cur.execute("SET SESSION group_concat_max_len = %s", (_PACKED_MAX_LEN,))
        cur.execute(
            "SELECT customer, COUNT(*), GROUP_CONCAT(CONCAT_WS(',', "
            f"(UNIX_TIMESTAMP(bucket) - %s) DIV {FIVE_MINUTES}, requests, bytes_sent)) "
            f"FROM {quote(cat[BILLING].source(FIVE_MINUTES))} WHERE {who}{where} GROUP BY customer",
            (month.start, *params, *span),
        )
        return {str(name): _intervals(count, packed) for name, count, packed in cur.fetchall()}


def _p95(intervals: Intervals, count: int) -> float:
    samples = [b * 8 / FIVE_MINUTES for i, (_, b) in intervals.items() if i < count and b]
    return percentile_95(samples, count)


def _totals(intervals: Intervals) -> tuple[int, int]:
    return sum(r for r, _ in intervals.values()), sum(b for _, b in intervals.values())


def _per_day(intervals: Intervals, days: int) -> list[list[int]]:
    """[requests, bytes] of each day, in one pass over the intervals."""
    out = [[0, 0] for _ in range(days)]
    for index, (requests, bytes_sent) in intervals.items():
        day = out[index // (86400 // FIVE_MINUTES)]
        day[0] += requests
        day[1] += bytes_sent
    return out


def usage(
    conn: pymysql.connections.Connection, cat: Catalog, customer: str, month: Month, complete: float | None
) -> Usage | None:
    """The month's bill from the billing statistic alone; None if there is no billing statistic."""
    if BILLING not in cat:
        return None
    intervals = _five_minute_sums(conn, cat, month, customer).get(customer, {})
    per_day = 86400 // FIVE_MINUTES
    series = [intervals.get(i, (0, 0))[1] for i in range((month.end - month.start) // FIVE_MINUTES)]
    days = [
        Day(
            f"{month}-{n + 1:02d}",
            requests,
            bytes_sent,
            max(series[n * per_day : (n + 1) * per_day]) * 8 / 300,
        )
        for n, (requests, bytes_sent) in enumerate(_per_day(intervals, month.days))
    ]
    requests, bytes_sent = _totals(intervals)
    count = billing_intervals(month, complete)
    return Usage(customer, month, requests, bytes_sent, _p95(intervals, count), count, days, series)


@dataclass(frozen=True)
class Ranked:
    customer: str
    requests: int
    bytes_sent: int
    p95_bps: float


def ranking(
    conn: pymysql.connections.Connection, cat: Catalog, month: Month, complete: float | None
) -> list[Ranked]:
    """All customers of the month by bytes, with the usage figures."""
    if BILLING not in cat:
        return []
    count = billing_intervals(month, complete)
    ranked = [
        Ranked(name, *_totals(intervals), _p95(intervals, count))
        for name, intervals in _five_minute_sums(conn, cat, month, None).items()
    ]
    return sorted(ranked, key=lambda r: (-r.bytes_sent, r.customer))


def _site_rows(
    conn: pymysql.connections.Connection,
    cat: Catalog,
    traffic: str,
    status: str | None,
    key: str,
    rng: TimeRange,
) -> list[SiteRow]:
    if traffic not in cat:
        return []
    where, span = _range_sql(rng.start, rng.end)
    errors: dict[str, float | None] = {}
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {quote(key)}, SUM(requests), SUM(bytes_sent), SUM(cache_hits) "
            f"FROM {quote(cat[traffic].source(rng.step))} "
            f"WHERE {where} GROUP BY {quote(key)} ORDER BY SUM(bytes_sent) DESC",
            span,
        )
        rows = cur.fetchall()
        if status and status in cat:
            cur.execute(
                f"SELECT {quote(key)}, SUM(IF(status_class = '5xx', requests, 0)), SUM(requests) "
                f"FROM {quote(cat[status].source(rng.step))} WHERE {where} GROUP BY {quote(key)}",
                span,
            )
            errors = {str(k): _ratio(e, n) for k, e, n in cur.fetchall()}
    return [SiteRow(str(k), int(r), int(b), _ratio(h, r), errors.get(str(k))) for k, r, b, h in rows]


def pops(conn: pymysql.connections.Connection, cat: Catalog, rng: TimeRange) -> list[SiteRow]:
    return _site_rows(conn, cat, "pop_traffic", "pop_status", "pop", rng)


def edges(conn: pymysql.connections.Connection, cat: Catalog, rng: TimeRange) -> list[SiteRow]:
    """Per edge node; the default statistics count no status per edge, so its error rate stays None."""
    return _site_rows(conn, cat, "edge_traffic", None, "edge", rng)


def pipeline(conn: pymysql.connections.Connection, now: float) -> list[AgentHealth]:
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT agent_id, COUNT(*), UNIX_TIMESTAMP(MIN(updated_at)), "
                "UNIX_TIMESTAMP(MAX(updated_at)), "
                f"UNIX_TIMESTAMP(MAX(IF(statistic = %s, updated_at, NULL))) FROM {CHECKPOINTS} "
                "GROUP BY agent_id ORDER BY MIN(updated_at), agent_id",
                (BILLING,),
            )
            rows = cur.fetchall()
    except pymysql.err.ProgrammingError:
        return []
    return [
        AgentHealth(
            str(a), int(n), float(lo), float(hi), float(b) if b is not None else None, now - float(lo)
        )
        for a, n, lo, hi, b in rows
    ]


@dataclass(frozen=True)
class Replica:
    state: str  # "replica", "replica stopped", "not a replica", "unknown"
    lag_seconds: float | None = None
    detail: str = ""


def replica_status(conn: pymysql.connections.Connection) -> Replica:
    """The lag of the replica the panel reads from (needs the REPLICA MONITOR privilege)."""
    try:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("SHOW REPLICA STATUS")
            row = cur.fetchone()
    except pymysql.MySQLError as exc:
        return Replica("unknown", detail=str(exc.args[-1]))
    if not row:
        return Replica("not a replica", detail="the panel reads the primary")
    if row.get("Slave_IO_Running") != "Yes" or row.get("Slave_SQL_Running") != "Yes":
        # No lag to report: the figures are as old as the last event applied, and getting older.
        error = row.get("Last_IO_Error") or row.get("Last_SQL_Error") or "stopped"
        return Replica("replica stopped", None, str(error))
    lag = row.get("Seconds_Behind_Master")
    return Replica("replica", float(lag) if lag is not None else None, str(row.get("Slave_SQL_State", "")))
