"""Every figure the panel shows, aggregated by MariaDB from the streamstats tables. The statistics are
found through streamstats' own catalogue (`streamstats_statistics`: name, table, bucket), so a
statistic set without one of them shows an empty state instead of failing."""

from __future__ import annotations

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
    five_minute_bps: list[float] = field(default_factory=list)  # one per interval from the month's start


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


def catalog(conn: pymysql.connections.Connection) -> Catalog:
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT name, table_name, bucket_seconds, billing, description FROM {STATISTICS}")
            rows = cur.fetchall()
    except pymysql.err.ProgrammingError:  # no aggregator has run against this database yet
        return {}
    return {n: StatTable(n, t, int(b), bool(bi), d) for n, t, b, bi, d in rows}


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
        f"FROM {quote(table.table)} WHERE {quote(key[0])} = %s AND {where} {extra} GROUP BY t ORDER BY t"
    )
    with conn.cursor() as cur:
        cur.execute(sql, (key[1], *params))
        return {int(row[0]): tuple(float(v or 0) for v in row[1:]) for row in cur.fetchall()}


def traffic_series(
    conn: pymysql.connections.Connection, cat: Catalog, customer: str, rng: TimeRange
) -> Series:
    """Bandwidth (bits/s over each point) and requests per point, from the billing statistic; cache hits
    and status classes per point where their statistics exist."""
    times = rng.points
    columns: dict[str, list[float]] = {}
    if BILLING in cat:
        rows = _series(conn, cat[BILLING], ["requests", "bytes_sent"], ("customer", customer), rng)
        columns["requests"] = [rows.get(t, (0, 0))[0] for t in times]
        columns["bits_per_second"] = [rows.get(t, (0, 0))[1] * 8 / rng.step for t in times]
    if "customer_cache" in cat:
        marks = ", ".join(f"'{s}'" for s in HIT_STATUSES)
        rows = _series(
            conn, cat["customer_cache"], [f"IF(cache_status IN ({marks}), requests, 0)", "requests"],
            ("customer", customer), rng,
        )  # fmt: skip
        columns["hit_ratio"] = [
            (rows[t][0] / rows[t][1]) if t in rows and rows[t][1] else None  # type: ignore[misc]
            for t in times
        ]
    if "customer_status" in cat:
        for cls in ("2xx", "3xx", "4xx", "5xx"):
            rows = _series(
                conn, cat["customer_status"], ["requests"], ("customer", customer), rng,
                extra=f"AND status_class = '{cls}'",
            )  # fmt: skip
            columns[f"status_{cls}"] = [rows.get(t, (0,))[0] for t in times]
    return Series(times, columns)


def _one(conn: pymysql.connections.Connection, sql: str, params: tuple) -> tuple:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone() or ()


def _ratio(part: object, whole: object) -> float | None:
    return float(part) / float(whole) if whole else None  # type: ignore[arg-type]


def traffic_summary(
    conn: pymysql.connections.Connection, cat: Catalog, customer: str, rng: TimeRange
) -> TrafficSummary:
    where, span = _range_sql(rng.start, rng.end)
    params = (customer, *span)
    requests = bytes_sent = 0
    if BILLING in cat:
        row = _one(
            conn, f"SELECT SUM(requests), SUM(bytes_sent) FROM {quote(cat[BILLING].table)} "
            f"WHERE customer = %s AND {where}", params,
        )  # fmt: skip
        requests, bytes_sent = int(row[0] or 0), int(row[1] or 0)
    hit_req = hit_bytes = None
    if "customer_cache" in cat:
        marks = ", ".join(f"'{s}'" for s in HIT_STATUSES)
        row = _one(
            conn,
            f"SELECT SUM(IF(cache_status IN ({marks}), requests, 0)), SUM(requests), "
            f"SUM(IF(cache_status IN ({marks}), bytes_sent, 0)), SUM(bytes_sent) "
            f"FROM {quote(cat['customer_cache'].table)} WHERE customer = %s AND {where}",
            params,
        )
        hit_req, hit_bytes = _ratio(row[0], row[1]), _ratio(row[2], row[3])
    avg_req = avg_up = None
    if "customer_quality" in cat:
        row = _one(
            conn,
            "SELECT SUM(request_time_ms_sum), SUM(request_time_ms_count), SUM(upstream_time_ms_sum), "
            f"SUM(upstream_time_ms_count) FROM {quote(cat['customer_quality'].table)} "
            f"WHERE customer = %s AND {where}",
            params,
        )
        avg_req, avg_up = _ratio(row[0], row[1]), _ratio(row[2], row[3])
    classes: dict[str, int] = {}
    if "customer_status" in cat:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT status_class, SUM(requests) FROM {quote(cat['customer_status'].table)} "
                f"WHERE customer = %s AND {where} GROUP BY status_class ORDER BY status_class",
                params,
            )
            classes = {str(c): int(n) for c, n in cur.fetchall()}
    return TrafficSummary(requests, bytes_sent, hit_req, hit_bytes, avg_req, avg_up, classes)


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


def _five_minute_sums(
    conn: pymysql.connections.Connection, cat: Catalog, month: Month, customer: str | None
) -> dict[str, dict[int, int]]:
    """customer -> {interval index from the month's start: bytes}; one customer or all of them."""
    where, span = _range_sql(month.start, month.end)
    who, params = ("customer = %s AND ", (customer,)) if customer else ("", ())
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT customer, (UNIX_TIMESTAMP(bucket) - %s) DIV {FIVE_MINUTES} AS i, SUM(bytes_sent) "
            f"FROM {quote(cat[BILLING].table)} WHERE {who}{where} GROUP BY customer, i",
            (month.start, *params, *span),
        )
        out: dict[str, dict[int, int]] = {}
        for name, index, total in cur.fetchall():
            out.setdefault(str(name), {})[int(index)] = int(total)
    return out


def _p95(intervals: dict[int, int], count: int) -> float:
    samples = [b * 8 / FIVE_MINUTES for i, b in intervals.items() if i < count and b]
    return percentile_95(samples, count)


def usage(
    conn: pymysql.connections.Connection, cat: Catalog, customer: str, month: Month, complete: float | None
) -> Usage | None:
    """The month's bill from the billing statistic alone; None if there is no billing statistic."""
    if BILLING not in cat:
        return None
    where, span = _range_sql(month.start, month.end)
    table = quote(cat[BILLING].table)
    intervals = _five_minute_sums(conn, cat, month, customer).get(customer, {})
    count = billing_intervals(month, complete)
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT DATE_FORMAT(bucket, '%%Y-%%m-%%d') AS d, SUM(requests), SUM(bytes_sent) FROM {table} "
            f"WHERE customer = %s AND {where} GROUP BY d ORDER BY d",
            (customer, *span),
        )
        per_day = {d: (int(r), int(b)) for d, r, b in cur.fetchall()}
    series = [
        intervals.get(i, 0) * 8 / FIVE_MINUTES for i in range((month.end - month.start) // FIVE_MINUTES)
    ]
    days = []
    for n in range(month.days):
        day = f"{month}-{n + 1:02d}"
        peak = max(series[n * 288 : (n + 1) * 288], default=0.0)
        requests, bytes_sent = per_day.get(day, (0, 0))
        days.append(Day(day, requests, bytes_sent, peak))
    return Usage(
        customer=customer,
        month=month,
        requests=sum(r for r, _ in per_day.values()),
        bytes_sent=sum(b for _, b in per_day.values()),
        p95_bps=_p95(intervals, count),
        intervals=count,
        days=days,
        five_minute_bps=series,
    )


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
    where, span = _range_sql(month.start, month.end)
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT customer, SUM(requests), SUM(bytes_sent) AS b FROM {quote(cat[BILLING].table)} "
            f"WHERE {where} GROUP BY customer ORDER BY b DESC, customer",
            span,
        )
        totals = cur.fetchall()
    intervals = _five_minute_sums(conn, cat, month, None)
    count = billing_intervals(month, complete)
    return [Ranked(str(c), int(r), int(b), _p95(intervals.get(str(c), {}), count)) for c, r, b in totals]


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
            f"FROM {quote(cat[traffic].table)} "
            f"WHERE {where} GROUP BY {quote(key)} ORDER BY SUM(bytes_sent) DESC",
            span,
        )
        rows = cur.fetchall()
        if status and status in cat:
            cur.execute(
                f"SELECT {quote(key)}, SUM(IF(status_class = '5xx', requests, 0)), SUM(requests) "
                f"FROM {quote(cat[status].table)} WHERE {where} GROUP BY {quote(key)}",
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
    state: str  # "replica", "not a replica", "unknown"
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
    lag = row.get("Seconds_Behind_Master")
    return Replica("replica", float(lag) if lag is not None else None, str(row.get("Slave_SQL_State", "")))
