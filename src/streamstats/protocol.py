"""The agent -> aggregator protocol over HTTP: version 2 (columnar) and version 1 (JSON).

Version 2, POST /v2/batches, Content-Type: application/vnd.streamstats.batch.v2, optionally
Content-Encoding: gzip: a 4-byte big-endian length, a JSON header of that length, then one Arrow IPC
stream per statistic, in the header's order:

    {"version": 2, "agent": "edge01", "run": "<32 hex>", "seq": 17,
     "statistics": [{"name": "customer_traffic", "fingerprint": "<16 hex>", "from": POSITION,
                     "to": POSITION, "bytes": 81234}]}

The columns are decoded without a Python object per value and checked column by column (types, no
empty value, ranges, bucket alignment, string lengths) with the same limits and messages as version 1.
An aggregator accepts both versions, so agents are upgraded after the aggregators.

Version 1, POST /v1/batches, Authorization: Bearer TOKEN, optionally Content-Encoding: gzip:

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
import io
import json
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from streamstats import positions
from streamstats.aggregate import frame_schema
from streamstats.config import AGENT_ID
from streamstats.statistics import BUCKET_COLUMN, Statistic, StatisticSet

VERSION = 1
V2_CONTENT_TYPE = "application/vnd.streamstats.batch.v2"
MAX_HEADER = 1 << 20
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
    peak: int  # the largest counter of `rows` (0 when empty)


@dataclass(frozen=True)
class Batch:
    agent: str
    run: str
    seq: int
    deltas: tuple[Delta, ...]


def _json_column(series: pl.Series) -> str:
    """A column as a JSON array, written by polars (no Python object per value)."""
    if series.null_count():
        raise ValueError(f"column {series.name} has empty values")
    if series.dtype == pl.String:
        # json_encode of a one-field struct gives {"v":"..."}: the part after {"v": is the escaped string.
        objects = series.to_frame("v").select(pl.struct("v").struct.json_encode()).to_series()
        values = objects.str.slice(5).str.head(-1)
    else:
        values = series.cast(pl.String)
    return "[" + values.str.join(",").item() + "]"


def encode_batch(
    agent: str, run: str, seq: int, deltas: list[tuple[Statistic, dict, dict, pl.DataFrame]]
) -> bytes:
    entries = []
    for stat, start, end, rows in deltas:
        columns = ",".join(f"{json.dumps(c)}:{_json_column(rows[c])}" for c in stat.columns)
        head = json.dumps({"fingerprint": stat.fingerprint, "from": start, "to": end}, separators=(",", ":"))
        entries.append(f'{json.dumps(stat.name)}:{head[:-1]},"columns":{{{columns}}}}}')
    head = json.dumps({"version": VERSION, "agent": agent, "run": run, "seq": seq}, separators=(",", ":"))
    return f'{head[:-1]},"statistics":{{{",".join(entries)}}}}}'.encode()


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


def _rows(stat: Statistic, raw: Any, key: str) -> tuple[pl.DataFrame, int]:
    if not isinstance(raw, dict) or set(raw) != set(stat.columns):
        raise InvalidBatch(f"{key}: must have exactly the columns {', '.join(stat.columns)}")
    lengths = {len(v) if isinstance(v, list) else -1 for v in raw.values()}
    if len(lengths) != 1 or -1 in lengths or lengths.pop() > MAX_ROWS:
        raise InvalidBatch(f"{key}: columns must be lists of one length, at most {MAX_ROWS}")
    schema = frame_schema(stat)
    for name, dtype in schema.items():
        values = raw[name]
        if dtype == pl.Int64 and not set(map(type, values)) <= {int}:
            raise InvalidBatch(f"{key}.{name}: every value must be an integer")
        if dtype == pl.String and not set(map(type, values)) <= {str}:
            raise InvalidBatch(f"{key}.{name}: every value must be a string")
        if dtype == pl.Int64 and values:  # before the frame is built: a value may not fit 64 bits
            _check_range(stat, name, min(values), max(values), f"{key}.{name}")
    return _checked(stat, pl.DataFrame(raw, schema=schema, strict=True), key)


def _range(stat: Statistic, name: str) -> tuple[int, int]:
    low = -(2**62) if name in stat.key_columns else 0
    return low, MAX_BUCKET if name == BUCKET_COLUMN else MAX_COUNTER


def _check_range(stat: Statistic, name: str, smallest: int, largest: int, key: str) -> None:
    low, high = _range(stat, name)
    if not (low <= smallest and largest < high):
        raise InvalidBatch(f"{key}: values must be from {low} to {high - 1}")


def _length_limits(stat: Statistic) -> dict[str, int]:
    limits = {k.name: k.max_length for k in stat.keys if k.kind == "string"}
    if stat.top and stat.top.max_length:
        limits[stat.top.field] = stat.top.max_length
    return limits


def _checked(stat: Statistic, frame: pl.DataFrame, key: str) -> tuple[pl.DataFrame, int]:
    """No empty value, ranges, bucket alignment and string lengths, a whole column at a time (eager
    Series operations: a lazy query's planning costs more than the checks on a statistic's few
    rows); with the frame, its largest counter (what the aggregator bounds its sums with)."""
    if not frame.height:
        return frame, 0
    largest: dict[str, int] = {}
    for name, dtype in frame_schema(stat).items():
        column = frame.get_column(name)
        if column.null_count():
            kind = "an integer" if dtype == pl.Int64 else "a string"
            raise InvalidBatch(f"{key}.{name}: every value must be {kind} (no empty values)")
        if dtype == pl.Int64:
            largest[name] = column.max()  # type: ignore[assignment]
            _check_range(stat, name, column.min(), largest[name], f"{key}.{name}")  # type: ignore[arg-type]
    if (frame.get_column(BUCKET_COLUMN) % stat.bucket != 0).any():
        raise InvalidBatch(f"{key}.bucket: values must be multiples of {stat.bucket}")
    for name, limit in _length_limits(stat).items():
        column = frame.get_column(name).str
        # A value has at most as many characters as bytes: count characters only past the limit in bytes.
        if column.len_bytes().max() > limit and column.len_chars().max() > limit:  # type: ignore[operator]
            raise InvalidBatch(f"{key}.{name}: values must be at most {limit} characters")
    return frame, max(largest[name] for name in stat.value_columns)


def _columns_checked(stat: Statistic, frame: pl.DataFrame, key: str) -> tuple[pl.DataFrame, int]:
    """A decoded Arrow table checked as version 1 checks its JSON lists."""
    schema = frame_schema(stat)
    if frame.columns != list(schema):
        raise InvalidBatch(f"{key}: must have exactly the columns {', '.join(stat.columns)}")
    if frame.height > MAX_ROWS:
        raise InvalidBatch(f"{key}: columns must be lists of one length, at most {MAX_ROWS}")
    for (name, dtype), got in zip(schema.items(), frame.dtypes, strict=True):
        if got != dtype:
            kind = "an integer" if dtype == pl.Int64 else "a string"
            raise InvalidBatch(f"{key}.{name}: every value must be {kind} ({dtype}, not {got})")
    return _checked(stat, frame, key)


def _canonical_position(raw: Any, key: str) -> str:
    try:
        return positions.canonical(positions.to_json(positions.parse(raw, key)))
    except ValueError as exc:
        raise InvalidBatch(str(exc)) from exc


def _identity(doc: dict[str, Any], version: int) -> tuple[str, str, int]:
    if doc["version"] != version:
        raise InvalidBatch(f"version: this endpoint speaks version {version}")
    agent, run, seq = doc["agent"], doc["run"], doc["seq"]
    if not isinstance(agent, str) or not AGENT_ID.match(agent):
        raise InvalidBatch("agent: must match " + AGENT_ID.pattern)
    if not isinstance(run, str) or not _RUN.match(run):
        raise InvalidBatch("run: must be 32 lower-case hex digits")
    if type(seq) is not int or not 0 <= seq < 2**63:
        raise InvalidBatch("seq: must be a non-negative integer")
    return agent, run, seq


def _statistic(stats: StatisticSet, name: Any, entry: Any, fields: set[str], key: str) -> Statistic:
    stat = stats.get(name) if isinstance(name, str) else None
    if stat is None:
        raise InvalidBatch(f"{key}: unknown statistic")
    if not isinstance(entry, dict) or set(entry) != fields:
        raise InvalidBatch(f"{key}: must have exactly {', '.join(sorted(fields))}")
    if entry["fingerprint"] != stat.fingerprint:
        raise InvalidBatch(f"{key}.fingerprint: the agent's definition differs from the aggregator's")
    return stat


def decode_batch(body: bytes, stats: StatisticSet) -> Batch:
    """A version-1 (JSON) body."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBatch(f"body is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"version", "agent", "run", "seq", "statistics"}:
        raise InvalidBatch("body must have exactly version, agent, run, seq and statistics")
    agent, run, seq = _identity(doc, VERSION)
    raw_stats = doc["statistics"]
    if not isinstance(raw_stats, dict):
        raise InvalidBatch("statistics: must be an object")
    deltas = []
    for name, entry in raw_stats.items():
        key = f"statistics.{name}"
        stat = _statistic(stats, name, entry, {"fingerprint", "from", "to", "columns"}, key)
        start = _canonical_position(entry["from"], f"{key}.from")
        end = _canonical_position(entry["to"], f"{key}.to")
        deltas.append(Delta(stat, start, end, *_rows(stat, entry["columns"], f"{key}.columns")))
    return Batch(agent, run, seq, tuple(deltas))


def encode_batch_v2(
    agent: str, run: str, seq: int, deltas: list[tuple[Statistic, dict, dict, pl.DataFrame]]
) -> bytes:
    streams, entries = [], []
    for stat, start, end, rows in deltas:
        out = io.BytesIO()
        rows.select(stat.columns).cast(frame_schema(stat)).write_ipc_stream(out)
        streams.append(out.getvalue())
        entries.append(
            {
                "name": stat.name,
                "fingerprint": stat.fingerprint,
                "from": start,
                "to": end,
                "bytes": len(streams[-1]),
            }
        )
    header = json.dumps(
        {"version": 2, "agent": agent, "run": run, "seq": seq, "statistics": entries}, separators=(",", ":")
    ).encode()
    return struct.pack(">I", len(header)) + header + b"".join(streams)


def _header_v2(body: bytes) -> tuple[dict[str, Any], int]:
    if len(body) < 4:
        raise InvalidBatch("body must start with the header's 4-byte length")
    (length,) = struct.unpack(">I", body[:4])
    if length > min(MAX_HEADER, len(body) - 4):
        raise InvalidBatch(f"header length {length} is beyond the body or over {MAX_HEADER} bytes")
    try:
        doc = json.loads(body[4 : 4 + length])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBatch(f"header is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"version", "agent", "run", "seq", "statistics"}:
        raise InvalidBatch("header must have exactly version, agent, run, seq and statistics")
    return doc, 4 + length


def _read_ipc(data: bytes, key: str) -> pl.DataFrame:
    try:
        return pl.read_ipc_stream(io.BytesIO(data))
    except (Exception, pl.exceptions.PanicException) as exc:  # a panic in the reader is not a crash here
        raise InvalidBatch(f"{key}: not an Arrow IPC stream ({type(exc).__name__})") from None


def decode_batch_v2(body: bytes, stats: StatisticSet) -> Batch:
    """A version-2 (Arrow) body."""
    doc, offset = _header_v2(body)
    agent, run, seq = _identity(doc, 2)
    entries = doc["statistics"]
    if not isinstance(entries, list):
        raise InvalidBatch("statistics: must be a list")
    deltas, seen = [], set()
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        key = f"statistics[{index}]" if not isinstance(name, str) else f"statistics.{name}"
        stat = _statistic(stats, name, entry, {"name", "fingerprint", "from", "to", "bytes"}, key)
        if name in seen:
            raise InvalidBatch(f"{key}: given twice")
        seen.add(name)
        size = entry["bytes"]
        if type(size) is not int or not 0 < size <= len(body) - offset:
            raise InvalidBatch(f"{key}.bytes: must be a positive length within the body")
        start = _canonical_position(entry["from"], f"{key}.from")
        end = _canonical_position(entry["to"], f"{key}.to")
        frame = _read_ipc(body[offset : offset + size], f"{key}.columns")
        offset += size
        deltas.append(Delta(stat, start, end, *_columns_checked(stat, frame, f"{key}.columns")))
    if offset != len(body):
        raise InvalidBatch(f"body has {len(body) - offset} bytes after the last statistic")
    return Batch(agent, run, seq, tuple(deltas))
