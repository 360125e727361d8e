"""A seeded generator of realistic CDN access logs (the `cdn` tab-separated format, or `combined`).

Line i depends only on (seed, i), so a log can be generated in pieces, and tests, the lab and the
benchmarks all see the same traffic: Zipf-skewed customers and objects, mostly cache hits, some errors.
Vectorized with polars: a million lines take a few seconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import polars as pl

DEFAULT_START = 1_732_579_200  # 2024-11-26T00:00:00Z
_TO_UNIT = 2.0**-53

POPS = ("ams1", "fra1", "lon1", "par1", "mad1", "waw1", "nyc1", "iad1", "sjc1", "gru1", "sin1", "tyo1")
COUNTRIES = ("US", "DE", "GB", "FR", "NL", "JP", "BR", "IN", "ES", "IT", "PL", "CA", "AU", "SG", "SE", "-")
ASNS = (13335, 15169, 16509, 3320, 3215, 2856, 7922, 701, 1136, 4134, 8075, 20940, 32934, 6830, 5089, 3301)
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
_SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
USER_AGENTS = (
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_SAFARI} Version/18.1 Mobile/15E148 "
    "Safari/604.1",
    f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_SAFARI} Version/18.1 Safari/605.1.15",
    f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_WEBKIT} Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Roku4640X/DVP-7.70 (297.70E04154A)",
    "AppleCoreMedia/1.0.0.22A3354 (Apple TV; U; CPU OS 18_0 like Mac OS X; en_us)",
    "okhttp/4.12.0",
    "curl/8.11.0",
    "-",
)
CONTENT_TYPES = ("image/jpeg", "image/webp", "video/mp4", "application/javascript", "text/css", "text/html")
EXTENSIONS = ("jpg", "webp", "mp4", "js", "css", "html")
STATUSES = (
    (200, 0.80),
    (206, 0.05),
    (304, 0.08),
    (404, 0.04),
    (403, 0.01),
    (500, 0.01),
    (502, 0.005),
    (503, 0.005),
)
CACHE = (("HIT", 0.70), ("MISS", 0.18), ("EXPIRED", 0.04), ("STALE", 0.01), ("UPDATING", 0.01), ("-", 0.06))
METHODS = (("GET", 0.93), ("HEAD", 0.04), ("POST", 0.02), ("OPTIONS", 0.01))
PROTOCOLS = (("HTTP/2.0", 0.6), ("HTTP/1.1", 0.35), ("HTTP/3.0", 0.05))
TLS = (("TLSv1.3", 0.8), ("TLSv1.2", 0.18), ("-", 0.02))
CIPHERS = {"TLSv1.3": "TLS_AES_128_GCM_SHA256", "TLSv1.2": "ECDHE-RSA-AES128-GCM-SHA256", "-": "-"}


def _cumulative(weights: Sequence[float]) -> pl.Series:
    total = sum(weights)
    return pl.Series(list(itertools.accumulate(w / total for w in weights)), dtype=pl.Float64)


def _zipf(n: int, s: float = 1.1) -> pl.Series:
    return _cumulative([1 / (k + 1) ** s for k in range(n)])


def _uniform(index: pl.Expr, seed: int, salt: int) -> pl.Expr:
    """A uniform float in [0, 1) from the line number, the seed and a per-column salt."""
    return (index.hash(seed=seed * 1_000_003 + salt) // 2048).cast(pl.Float64) * _TO_UNIT


def _pick(u: pl.Expr, choices: Sequence[object], cumulative: pl.Series) -> pl.Expr:
    idx = pl.lit(cumulative).search_sorted(u.clip(0, 1 - 1e-12))
    return pl.lit(pl.Series(list(choices))).gather(idx.clip(0, len(choices) - 1))


def _choice(u: pl.Expr, table: Sequence[tuple[object, float]]) -> pl.Expr:
    return _pick(u, [c for c, _ in table], _cumulative([w for _, w in table]))


def _dotted_ms(ms: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", ms // 1000, (ms % 1000).cast(pl.String).str.zfill(3))


def frame(
    first: int,
    count: int,
    seed: int = 1,
    start: int = DEFAULT_START,
    rate: float = 10_000.0,
    customers: int = 1000,
    edge: str = "edge01",
) -> pl.DataFrame:
    """Lines first .. first+count-1 as a frame of the cdn format's 26 fields (all strings)."""
    idx = pl.col("i")
    u = [_uniform(idx, seed, salt) for salt in range(24)]
    ms_total = (idx.cast(pl.Float64) * (1000.0 / rate)).cast(pl.Int64) + start * 1000
    customer_names = [f"c{n:04d}" for n in range(customers)]
    status = _choice(u[2], STATUSES)
    body = pl.when(status == 304).then(0).otherwise((u[3] ** 4 * 4_000_000).cast(pl.Int64) + 200)
    cache = _choice(u[4], CACHE)
    obj_id = pl.lit(_zipf(5000)).search_sorted(u[5].clip(0, 1 - 1e-12)).cast(pl.Int64)
    obj = obj_id.cast(pl.String)
    kind = obj_id % len(EXTENSIONS)
    tls = _choice(u[7], TLS)
    request_ms = (u[8] * u[8] * 2500).cast(pl.Int64)
    upstream_ms = (u[9] * 400).cast(pl.Int64)
    base = pl.DataFrame({"i": pl.int_range(first, first + count, eager=True)})
    cols = {
        "timestamp": _dotted_ms(ms_total),
        "customer": _pick(u[0], customer_names, _zipf(customers)),
        "vhost": pl.format("{}.cdn.example.net", _pick(u[0], customer_names, _zipf(customers))),
        "client_ip": pl.format(
            "{}.{}.{}.{}",
            (u[10] * 223 + 1).cast(pl.Int64),
            (u[11] * 256).cast(pl.Int64),
            (u[11] * 65536 % 256).cast(pl.Int64),
            (u[12] * 254 + 1).cast(pl.Int64),
        ),
        "method": _choice(u[13], METHODS),
        "scheme": pl.when(tls == "-").then(pl.lit("http")).otherwise(pl.lit("https")),
        "path": pl.format(
            "/assets/{}/v2/media/{}.{}{}",
            (obj_id % 40),
            obj,
            pl.lit(pl.Series(EXTENSIONS)).gather(kind),
            pl.when(u[15] < 0.3)
            .then(pl.format("?version={}&quality=high", obj_id % 7))
            .otherwise(pl.lit("")),
        ),
        "protocol": _choice(u[16], PROTOCOLS),
        "status": status.cast(pl.String),
        "bytes_sent": (body + 250 + (u[17] * 350).cast(pl.Int64)).cast(pl.String),
        "body_bytes": body.cast(pl.String),
        "request_length": (u[18] * 900 + 120).cast(pl.Int64).cast(pl.String),
        "request_time": _dotted_ms(request_ms),
        "upstream_time": pl.when(cache.is_in(["HIT", "STALE", "UPDATING"]))
        .then(pl.lit("-"))
        .when(u[19] < 0.05)
        .then(pl.format("{}, {}", _dotted_ms(upstream_ms // 3), _dotted_ms(upstream_ms)))
        .otherwise(_dotted_ms(upstream_ms)),
        "cache_status": cache,
        "user_agent": _pick(u[20], USER_AGENTS, _zipf(len(USER_AGENTS), 0.8)),
        "referrer": pl.when(u[21] < 0.4)
        .then(pl.lit("-"))
        .otherwise(
            pl.format(
                "https://www.{}.example.com/articles/{}",
                _pick(u[0], customer_names, _zipf(customers)),
                obj_id % 200,
            )
        ),
        "country": _pick(u[22], COUNTRIES, _zipf(len(COUNTRIES), 0.9)),
        "asn": _pick(u[22], ASNS, _zipf(len(ASNS), 0.9)).cast(pl.String),
        "pop": _pick(u[23], POPS, _zipf(len(POPS), 0.5)),
        "tls_version": tls,
        "tls_cipher": tls.replace_strict(CIPHERS, return_dtype=pl.String),
        "content_type": pl.lit(pl.Series(CONTENT_TYPES)).gather(kind),
        "request_id": pl.format(
            "{}{}",
            idx.hash(seed=seed + 77).cast(pl.String).str.zfill(20),
            (idx.hash(seed=seed + 78) % 10**12).cast(pl.String).str.zfill(12),
        ),
        "upstream_status": pl.when(cache.is_in(["HIT", "STALE", "UPDATING"]))
        .then(pl.lit("-"))
        .otherwise(status.cast(pl.String)),
        "edge": pl.lit(edge),
    }
    return base.select(**cols)


def _combined(df: pl.DataFrame) -> pl.DataFrame:
    seconds = pl.col("timestamp").str.split(".").list.first().cast(pl.Int64)
    clf = pl.from_epoch(seconds, time_unit="s").dt.strftime("%d/%b/%Y:%H:%M:%S +0000")
    line = pl.format(
        '{} - - [{}] "{} {} {}" {} {} "{}" "{}"',
        "client_ip",
        clf,
        "method",
        "path",
        "protocol",
        "status",
        pl.when(pl.col("body_bytes") == "0").then(pl.lit("-")).otherwise(pl.col("body_bytes")),
        "referrer",
        "user_agent",
    )
    return df.select(line.alias("line"))


def to_bytes(df: pl.DataFrame, fmt: str = "cdn") -> bytes:
    if fmt == "combined":
        df = _combined(df)
    return df.write_csv(separator="\t", include_header=False, quote_style="never").encode()


def blocks(
    lines: int, seed: int = 1, first: int = 0, block: int = 200_000, fmt: str = "cdn", **kw: object
) -> Iterator[bytes]:
    """The log text of lines first .. first+lines-1, in blocks of at most `block` lines."""
    for offset in range(first, first + lines, block):
        yield to_bytes(frame(offset, min(block, first + lines - offset), seed, **kw), fmt)  # type: ignore[arg-type]
