"""The agent -> aggregator protocol (JSON over HTTP, version 1).

POST /v1/batches, Authorization: Bearer TOKEN, optionally Content-Encoding: gzip:

    {"version": 1, "agent": "edge01", "run": "<32 hex>", "seq": 17,
     "statistics": {"customer_traffic": {"fingerprint": "<16 hex>", "from": POSITION, "to": POSITION,
                                         "columns": {"bucket": [...], "customer": [...], ...}}}}

A statistic's entry is the delta of its counters between two positions of the agent's logs. The
aggregator applies it if `from` is where it has that agent and statistic, skips it as a resend if `to`
is, and otherwise answers 409 so the agent re-reads from the positions it gets from
GET /v1/agents/ID/positions. Every field is checked here before anything touches the counters.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from streamstats import positions
from streamstats.aggregate import empty_frame
from streamstats.config import AGENT_ID
from streamstats.statistics import BUCKET_COLUMN, Statistic, StatisticSet

VERSION = 1
MAX_ROWS = 2_000_000
MAX_COUNTER = 2**62
MAX_BUCKET = 2**40
_RUN = re.compile(r"^[0-9a-f]{32}$")
GZIP_ABOVE = 64 * 1024


class InvalidBatch(ValueError):
    """The request is malformed (HTTP 422); the message names the offending field."""


@dataclass(frozen=True)
class Delta:
    statistic: Statistic
    start: str  # canonical position JSON
    end: str
    rows: pl.DataFrame


@dataclass(frozen=True)
class Batch:
    agent: str
    run: str
    seq: int
    deltas: tuple[Delta, ...]


def encode_batch(
    agent: str, run: str, seq: int, deltas: list[tuple[Statistic, dict, dict, pl.DataFrame]]
) -> bytes:
    stats = {
        stat.name: {
            "fingerprint": stat.fingerprint,
            "from": start,
            "to": end,
            "columns": rows.select(stat.columns).to_dict(as_series=False),
        }
        for stat, start, end, rows in deltas
    }
    doc = {"version": VERSION, "agent": agent, "run": run, "seq": seq, "statistics": stats}
    return json.dumps(doc, separators=(",", ":")).encode()


def compress(body: bytes) -> tuple[bytes, dict[str, str]]:
    if len(body) <= GZIP_ABOVE:
        return body, {}
    return gzip.compress(body, compresslevel=1), {"Content-Encoding": "gzip"}


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes after decompression."""
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise InvalidBatch(f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidBatch(f"body is not gzip: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise OverflowError(f"body larger than {limit} bytes once decompressed")
    return data


def _int_column(values: list[Any], key: str, low: int, high: int) -> None:
    if not set(map(type, values)) <= {int}:
        raise InvalidBatch(f"{key}: every value must be an integer")
    if values and not (low <= min(values) and max(values) < high):
        raise InvalidBatch(f"{key}: values must be from {low} to {high - 1}")


def _rows(stat: Statistic, raw: Any, key: str) -> pl.DataFrame:
    if not isinstance(raw, dict) or set(raw) != set(stat.columns):
        raise InvalidBatch(f"{key}: must have exactly the columns {', '.join(stat.columns)}")
    lengths = {len(v) if isinstance(v, list) else -1 for v in raw.values()}
    if len(lengths) != 1 or -1 in lengths or lengths.pop() > MAX_ROWS:
        raise InvalidBatch(f"{key}: columns must be lists of one length, at most {MAX_ROWS}")
    schema = empty_frame(stat).schema
    for name, dtype in schema.items():
        column_key = f"{key}.{name}"
        if dtype == pl.Int64:
            low = -(2**62) if name in stat.key_columns else 0
            high = MAX_BUCKET if name == BUCKET_COLUMN else MAX_COUNTER
            _int_column(raw[name], column_key, low, high)
        elif not set(map(type, raw[name])) <= {str}:
            raise InvalidBatch(f"{column_key}: every value must be a string")
    frame = pl.DataFrame(raw, schema=schema, strict=True)
    if frame.select((pl.col(BUCKET_COLUMN) % stat.bucket != 0).any()).item():
        raise InvalidBatch(f"{key}.bucket: values must be multiples of {stat.bucket}")
    limits = {k.name: k.max_length for k in stat.keys if k.kind == "string"}
    if stat.top and stat.top.max_length:
        limits[stat.top.field] = stat.top.max_length
    for name, limit in limits.items():
        if (frame.select(pl.col(name).str.len_chars().max()).item() or 0) > limit:
            raise InvalidBatch(f"{key}.{name}: values must be at most {limit} characters")
    return frame


def _canonical_position(raw: Any, key: str) -> str:
    try:
        return positions.canonical(positions.to_json(positions.parse(raw, key)))
    except ValueError as exc:
        raise InvalidBatch(str(exc)) from exc


def decode_batch(body: bytes, stats: StatisticSet) -> Batch:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBatch(f"body is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"version", "agent", "run", "seq", "statistics"}:
        raise InvalidBatch("body must have exactly version, agent, run, seq and statistics")
    if doc["version"] != VERSION:
        raise InvalidBatch(f"version: this aggregator speaks version {VERSION}")
    agent, run, seq = doc["agent"], doc["run"], doc["seq"]
    if not isinstance(agent, str) or not AGENT_ID.match(agent):
        raise InvalidBatch("agent: must match " + AGENT_ID.pattern)
    if not isinstance(run, str) or not _RUN.match(run):
        raise InvalidBatch("run: must be 32 lower-case hex digits")
    if type(seq) is not int or not 0 <= seq < 2**63:
        raise InvalidBatch("seq: must be a non-negative integer")
    raw_stats = doc["statistics"]
    if not isinstance(raw_stats, dict):
        raise InvalidBatch("statistics: must be an object")
    deltas = []
    for name, entry in raw_stats.items():
        key = f"statistics.{name}"
        stat = stats.get(name) if isinstance(name, str) else None
        if stat is None:
            raise InvalidBatch(f"{key}: unknown statistic")
        if not isinstance(entry, dict) or set(entry) != {"fingerprint", "from", "to", "columns"}:
            raise InvalidBatch(f"{key}: must have exactly fingerprint, from, to and columns")
        if entry["fingerprint"] != stat.fingerprint:
            raise InvalidBatch(f"{key}.fingerprint: the agent's definition differs from the aggregator's")
        start = _canonical_position(entry["from"], f"{key}.from")
        end = _canonical_position(entry["to"], f"{key}.to")
        deltas.append(Delta(stat, start, end, _rows(stat, entry["columns"], f"{key}.columns")))
    return Batch(agent, run, seq, tuple(deltas))
