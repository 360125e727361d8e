"""Statistics as configuration: a YAML document naming a log format and a list of statistics.

format: cdn
constant_fields: []            # string fields each agent file entry supplies (`fields:`)
statistics:
  - name: customer_traffic     # table stat_customer_traffic
    billing: true              # exact: never sampled, never a top-N
    keys: [customer]
    bucket: 1m
    values: {requests: count, bytes_sent: sum(bytes_sent)}
    flush_interval: 30s        # how often the aggregator writes it to MySQL
    flush_offset: 25s          # where in the interval (default: spread over SLOT_SPREAD steps)
    retention: 800d
    rollups: [5m, 1h]          # also kept summed per 5 minutes and per hour (stat_customer_traffic_1h)
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from streamstats.errors import ConfigError
from streamstats.formats import LogFormat, ValueField, available_fields
from streamstats.units import parse_duration

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_VALUE = re.compile(r"^(count|sum|avg)(?:\((\w+)\))?$")
BUCKET_COLUMN = "bucket"
RESERVED_COLUMNS = {BUCKET_COLUMN}
MAX_TOP_N = 10_000
# InnoDB's limit on an index entry is 3072 bytes; utf8mb4 needs up to 4 per character.
MAX_KEY_BYTES = 3072
# Statistics without a flush_offset are written at i x SLOT_SPREAD past the multiples of their flush
# interval (i: their place in the set), so that a fleet's agents, which send each statistic just before
# its slot, do not send every statistic at the same instant. 5 s is the agents' default tick.
SLOT_SPREAD = 5.0
STAT_KEYS = {
    "name",
    "description",
    "billing",
    "keys",
    "bucket",
    "values",
    "top",
    "sample",
    "where",
    "flush_interval",
    "flush_offset",
    "retention",
    "rollups",
}


@dataclass(frozen=True)
class Value:
    column: str
    kind: str  # count, sum or avg (avg is two columns: COLUMN_sum and COLUMN_count)
    field: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return (f"{self.column}_sum", f"{self.column}_count") if self.kind == "avg" else (self.column,)


@dataclass(frozen=True)
class Top:
    field: str
    n: int
    max_length: int


@dataclass(frozen=True)
class Sampling:
    one_in: int
    by: str


@dataclass(frozen=True)
class Statistic:
    name: str
    keys: tuple[ValueField, ...]
    values: tuple[Value, ...]
    bucket: int
    flush_interval: float
    retention: float
    billing: bool = False
    top: Top | None = None
    sample: Sampling | None = None
    where: tuple[tuple[str, tuple[str | int, ...]], ...] = ()
    description: str = ""
    flush_offset: float = 0.0  # written at flush_offset + k x flush_interval on the wall clock
    # Coarser buckets the aggregator also keeps, in the same transaction as the statistic's own rows
    # (seconds, ascending): a month read from 1-hour rows scans 60 times fewer rows than from 1-minute.
    rollups: tuple[int, ...] = ()

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that identify a row besides the bucket (the top field comes last)."""
        return tuple(k.name for k in self.keys) + ((self.top.field,) if self.top else ())

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(c for v in self.values for c in v.columns)

    @property
    def columns(self) -> tuple[str, ...]:
        return (BUCKET_COLUMN, *self.key_columns, *self.value_columns)

    @property
    def fields(self) -> set[str]:
        """Every input field the statistic reads."""
        used = {k.name for k in self.keys} | {v.field for v in self.values if v.field}
        used |= {name for name, _ in self.where}
        if self.top:
            used.add(self.top.field)
        if self.sample:
            used.add(self.sample.by)
        return used

    def shape(self) -> dict[str, Any]:
        """What agent and aggregator must agree on (flush timing and retention are the aggregator's)."""
        return {
            "keys": [asdict(k) for k in self.keys],
            "values": [asdict(v) for v in self.values],
            "bucket": self.bucket,
            "top": asdict(self.top) if self.top else None,
            "sample": asdict(self.sample) if self.sample else None,
            "where": [[name, list(values)] for name, values in self.where],
        }

    @cached_property
    def fingerprint(self) -> str:
        canonical = json.dumps(self.shape(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StatisticSet:
    format: LogFormat
    constant_fields: tuple[str, ...]
    statistics: tuple[Statistic, ...]

    def get(self, name: str) -> Statistic | None:
        return next((s for s in self.statistics if s.name == name), None)


def _name(raw: Any, key: str) -> str:
    if not isinstance(raw, str) or not _NAME.match(raw):
        raise ConfigError(key, f"{raw!r} is not a name (lower case letter, then lower case, digits, _)")
    return raw


def _field(name: Any, fields: dict[str, ValueField], key: str, kind: str | None = None) -> ValueField:
    if not isinstance(name, str) or name not in fields:
        raise ConfigError(key, f"unknown field {name!r}; available: {', '.join(sorted(fields))}")
    if kind and fields[name].kind != kind:
        raise ConfigError(key, f"field {name!r} is not a number")
    return fields[name]


def _duration(raw: Any, key: str, minimum: float) -> float:
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from exc
    if seconds < minimum:
        raise ConfigError(key, f"must be at least {minimum:g}s")
    return seconds


def _bucket(raw: Any, key: str) -> int:
    seconds = _duration(raw, key, 1)
    if seconds != int(seconds) or 86400 % int(seconds):
        raise ConfigError(key, "must be whole seconds dividing a day (e.g. 1m, 5m, 15m, 1h, 1d)")
    return int(seconds)


def _rollups(raw: Any, stat: Statistic, key: str) -> tuple[int, ...]:
    if stat.top:
        raise ConfigError(key, f"{stat.name} is a top-N statistic: its rows are each bucket's top, not sums")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(key, "a list of bucket sizes (e.g. [5m, 1h]) is required")
    sizes = sorted({_bucket(r, f"{key}[{i}]") for i, r in enumerate(raw)})
    for size in sizes:
        if size <= stat.bucket or size % stat.bucket:
            raise ConfigError(key, f"{size}s is not a multiple of the statistic's {stat.bucket}s bucket")
    return tuple(sizes)


def _values(raw: Any, fields: dict[str, ValueField], key: str) -> tuple[Value, ...]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(key, "a mapping of column name to count, sum(FIELD) or avg(FIELD) is required")
    values = []
    for column, spec in raw.items():
        vkey = f"{key}.{column}"
        _name(column, vkey)
        match = _VALUE.match(str(spec).replace(" ", ""))
        if not match or (match.group(1) == "count") != (match.group(2) is None):
            raise ConfigError(vkey, f"{spec!r} is not count, sum(FIELD) or avg(FIELD)")
        field = match.group(2) or ""
        if field:
            _field(field, fields, vkey, "int")
        values.append(Value(column, match.group(1), field))
    return tuple(values)


def _top(raw: Any, fields: dict[str, ValueField], key: str) -> Top:
    if not isinstance(raw, dict) or set(raw) - {"field", "n", "max_length"}:
        raise ConfigError(key, "top is a mapping with field, n and max_length")
    field = _field(raw.get("field"), fields, f"{key}.field")
    n = raw.get("n", 100)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_TOP_N:
        raise ConfigError(f"{key}.n", f"must be an integer from 1 to {MAX_TOP_N}")
    max_length = raw.get("max_length", field.max_length if field.kind == "string" else 0)
    if field.kind == "string" and (
        not isinstance(max_length, int) or not 1 <= max_length <= field.max_length
    ):
        raise ConfigError(f"{key}.max_length", f"must be an integer from 1 to {field.max_length}")
    return Top(field.name, n, max_length)


def _sample(raw: Any, fields: dict[str, ValueField], key: str) -> Sampling:
    if not isinstance(raw, dict) or set(raw) - {"one_in", "by"}:
        raise ConfigError(key, "sample is a mapping with one_in and by")
    one_in = raw.get("one_in")
    if not isinstance(one_in, int) or isinstance(one_in, bool) or one_in < 2:
        raise ConfigError(f"{key}.one_in", "must be an integer of at least 2 (count one line in N)")
    by = _field(raw.get("by"), fields, f"{key}.by")
    return Sampling(one_in, by.name)


def _where(
    raw: Any, fields: dict[str, ValueField], key: str
) -> tuple[tuple[str, tuple[str | int, ...]], ...]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(key, "where is a mapping of field to a list of accepted values")
    out = []
    for name, accepted in raw.items():
        field = _field(name, fields, f"{key}.{name}")
        if not isinstance(accepted, list) or not accepted:
            raise ConfigError(f"{key}.{name}", "a non-empty list of values is required")
        want = int if field.kind == "int" else str
        if not all(isinstance(v, want) and not isinstance(v, bool) for v in accepted):
            raise ConfigError(
                f"{key}.{name}", f"values must all be {'integers' if want is int else 'strings'}"
            )
        out.append((name, tuple(accepted)))
    return tuple(out)


def _offset(raw: Any, interval: float, key: str) -> float:
    offset = _duration(raw, key, 0)
    if offset >= interval:
        raise ConfigError(key, f"must be less than the flush interval ({interval:g}s)")
    return offset


def _key_bytes(stat: Statistic) -> int:
    lengths = [4 * k.max_length if k.kind == "string" else 8 for k in stat.keys]
    if stat.top:
        lengths.append(4 * stat.top.max_length if stat.top.max_length else 8)
    return 5 + sum(lengths)


def parse_statistic(raw: Any, fields: dict[str, ValueField], key: str, index: int = 0) -> Statistic:
    """The statistic at place `index` of its set (which places its flush slot unless it says)."""
    if not isinstance(raw, dict):
        raise ConfigError(key, "a statistic is a mapping")
    unknown = sorted(set(raw) - STAT_KEYS)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(STAT_KEYS))}")
    for required in ("name", "bucket", "values", "flush_interval", "retention"):
        if required not in raw:
            raise ConfigError(f"{key}.{required}", "is required")
    name = _name(raw["name"], f"{key}.name")
    billing = raw.get("billing", False)
    if not isinstance(billing, bool):
        raise ConfigError(f"{key}.billing", "must be true or false")
    raw_keys = raw.get("keys", [])
    if not isinstance(raw_keys, list):
        raise ConfigError(f"{key}.keys", "must be a list of field names")
    keys = tuple(_field(k, fields, f"{key}.keys[{i}]") for i, k in enumerate(raw_keys))
    values = _values(raw["values"], fields, f"{key}.values")
    top = _top(raw["top"], fields, f"{key}.top") if "top" in raw else None
    sample = _sample(raw["sample"], fields, f"{key}.sample") if "sample" in raw else None
    where = _where(raw["where"], fields, f"{key}.where") if "where" in raw else ()
    if billing and sample:
        raise ConfigError(f"{key}.sample", f"{name} is a billing statistic: billing is never sampled")
    if billing and top:
        raise ConfigError(f"{key}.top", f"{name} is a billing statistic: a top-N is not exact")
    bucket = _bucket(raw["bucket"], f"{key}.bucket")
    flush_interval = _duration(raw["flush_interval"], f"{key}.flush_interval", 1)
    stat = Statistic(
        name=name,
        keys=keys,
        values=values,
        bucket=bucket,
        flush_interval=flush_interval,
        flush_offset=_offset(raw["flush_offset"], flush_interval, f"{key}.flush_offset")
        if "flush_offset" in raw
        else (index * SLOT_SPREAD) % flush_interval,
        retention=_duration(raw["retention"], f"{key}.retention", bucket),
        billing=billing,
        top=top,
        sample=sample,
        where=where,
        description=str(raw.get("description", "")),
    )
    if "rollups" in raw:
        stat = replace(stat, rollups=_rollups(raw["rollups"], stat, f"{key}.rollups"))
    columns = stat.columns
    for i, column in enumerate(columns):
        if column in columns[:i] or (i and column in RESERVED_COLUMNS):
            raise ConfigError(key, f"column {column!r} appears twice (a key, the top field or a value name)")
    if _key_bytes(stat) > MAX_KEY_BYTES:
        raise ConfigError(f"{key}.keys", f"the key is longer than MySQL's {MAX_KEY_BYTES} byte index limit")
    return stat


def parse_statistic_set(raw: Any, formats: dict[str, LogFormat], key: str = "statistics") -> StatisticSet:
    if not isinstance(raw, dict):
        raise ConfigError(key, "a statistics document is a mapping with format and statistics")
    unknown = sorted(set(raw) - {"format", "constant_fields", "statistics"})
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", "unknown key")
    fmt_name = raw.get("format")
    if fmt_name not in formats:
        raise ConfigError(
            f"{key}.format", f"unknown format {fmt_name!r}; known: {', '.join(sorted(formats))}"
        )
    constants = raw.get("constant_fields", [])
    if not isinstance(constants, list):
        raise ConfigError(f"{key}.constant_fields", "must be a list of field names")
    for i, name in enumerate(constants):
        _name(name, f"{key}.constant_fields[{i}]")
    fields = available_fields(formats[fmt_name], tuple(constants))
    raw_stats = raw.get("statistics")
    if not isinstance(raw_stats, list) or not raw_stats:
        raise ConfigError(f"{key}.statistics", "a non-empty list is required")
    stats = tuple(parse_statistic(s, fields, f"{key}.statistics[{i}]", i) for i, s in enumerate(raw_stats))
    names = [s.name for s in stats]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{key}.statistics[{i}].name", f"duplicate statistic {name!r}")
    return StatisticSet(formats[fmt_name], tuple(constants), stats)


def builtin_statistics_names() -> list[str]:
    folder = resources.files("streamstats").joinpath("data")
    return sorted(
        p.name.removesuffix(".stats.yml") for p in folder.iterdir() if p.name.endswith(".stats.yml")
    )


def load_statistic_set(
    ref: Any, formats: dict[str, LogFormat], base: Path, key: str = "statistics"
) -> StatisticSet:
    """`ref` is a built-in set's name (cdn, combined), a path to a YAML file, or the document inline."""
    if isinstance(ref, dict):
        return parse_statistic_set(ref, formats, key)
    if not isinstance(ref, str):
        raise ConfigError(key, "a built-in set's name, a file path or an inline document is required")
    if ref in builtin_statistics_names():
        text = resources.files("streamstats").joinpath(f"data/{ref}.stats.yml").read_text()
        return parse_statistic_set(yaml.safe_load(text), formats, f"{key}({ref})")
    path = base / ref
    if not path.is_file():
        known = ", ".join(builtin_statistics_names())
        raise ConfigError(key, f"{ref!r} is neither a built-in set ({known}) nor a file")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(key, f"{path}: not YAML: {exc}") from exc
    return parse_statistic_set(document, formats, f"{key}({path})")
