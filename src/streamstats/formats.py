"""Log formats: named, typed fields read from a tab-separated line or a regular expression.

Besides its own fields, every format offers derived fields (computed from a field it has) and the
constant fields an agent's file entry attaches (`fields: {pop: ams1}`); statistics may use all three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from streamstats.errors import ConfigError

FIELD_TYPES = ("string", "int", "duration", "timestamp")
TIMESTAMP_ENCODINGS = ("msec", "iso8601", "clf")
FORMAT_TYPES = ("tsv", "regex")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
DEFAULT_MAX_LENGTH = 255


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    max_length: int = DEFAULT_MAX_LENGTH
    encoding: str = ""
    required: bool = False
    nginx: str = ""
    # A hint: the values repeat (customers, POPs, countries), so the reader keeps a dictionary.
    categorical: bool = False


@dataclass(frozen=True)
class LogFormat:
    name: str
    type: str
    fields: tuple[FieldSpec, ...]
    pattern: str = ""

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def timestamp(self) -> FieldSpec:
        return next(f for f in self.fields if f.type == "timestamp")


@dataclass(frozen=True)
class ValueField:
    """What a statistic sees: a field's name, whether it is text or a number, and its key length."""

    name: str
    kind: str  # "string" or "int"
    max_length: int = DEFAULT_MAX_LENGTH


@dataclass(frozen=True)
class DerivedField:
    name: str
    source: str
    kind: str
    max_length: int
    description: str


DERIVED_FIELDS = (
    DerivedField("status_class", "status", "string", 3, 'the status class: "2xx", "3xx", "4xx", "5xx"'),
    DerivedField(
        "cache_hit",
        "cache_status",
        "int",
        0,
        "1 when cache_status is HIT, STALE, UPDATING or REVALIDATED, else 0",
    ),
)
CACHE_HIT_STATUSES = ("HIT", "STALE", "UPDATING", "REVALIDATED")


def available_fields(fmt: LogFormat, constants: tuple[str, ...] = ()) -> dict[str, ValueField]:
    """Every field a statistic may name for this format: its own, derived, and file constants."""
    out: dict[str, ValueField] = {}
    for spec in fmt.fields:
        if spec.type == "string":
            out[spec.name] = ValueField(spec.name, "string", spec.max_length)
        elif spec.type in ("int", "duration"):
            out[spec.name] = ValueField(spec.name, "int")
    for derived in DERIVED_FIELDS:
        if derived.source in out:
            out[derived.name] = ValueField(derived.name, derived.kind, derived.max_length)
    for name in constants:
        out.setdefault(name, ValueField(name, "string", DEFAULT_MAX_LENGTH))
    return out


def _field(raw: Any, key: str) -> FieldSpec:
    if not isinstance(raw, dict):
        raise ConfigError(key, "a field is a mapping with at least name and type")
    unknown = set(raw) - {"name", "type", "max_length", "encoding", "required", "nginx", "categorical"}
    if unknown:
        raise ConfigError(f"{key}.{sorted(unknown)[0]}", "unknown key")
    name, kind = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{key}.name", f"{name!r} is not a field name (lower case, digits, _)")
    if kind not in FIELD_TYPES:
        raise ConfigError(f"{key}.type", f"{kind!r} is not one of {', '.join(FIELD_TYPES)}")
    max_length = raw.get("max_length", DEFAULT_MAX_LENGTH)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or not 1 <= max_length <= 1024:
        raise ConfigError(f"{key}.max_length", "must be an integer from 1 to 1024")
    encoding = raw.get("encoding", "")
    if kind == "timestamp" and encoding not in TIMESTAMP_ENCODINGS:
        raise ConfigError(f"{key}.encoding", f"a timestamp needs encoding {' or '.join(TIMESTAMP_ENCODINGS)}")
    flags = {flag: raw.get(flag, False) for flag in ("required", "categorical")}
    for flag, value in flags.items():
        if not isinstance(value, bool):
            raise ConfigError(f"{key}.{flag}", "must be true or false")
    if flags["categorical"] and kind != "string":
        raise ConfigError(f"{key}.categorical", "only a string field can be categorical")
    return FieldSpec(
        name, kind, max_length, encoding, flags["required"], str(raw.get("nginx", "")), flags["categorical"]
    )


def parse_format(name: str, raw: Any, key: str) -> LogFormat:
    if not isinstance(raw, dict):
        raise ConfigError(key, "a format is a mapping with type and fields")
    kind = raw.get("type")
    if kind not in FORMAT_TYPES:
        raise ConfigError(f"{key}.type", f"{kind!r} is not one of {', '.join(FORMAT_TYPES)}")
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise ConfigError(f"{key}.fields", "a non-empty list of fields is required")
    fields = tuple(_field(f, f"{key}.fields[{i}]") for i, f in enumerate(raw_fields))
    names = [f.name for f in fields]
    for i, field_name in enumerate(names):
        if field_name in names[:i]:
            raise ConfigError(f"{key}.fields[{i}].name", f"duplicate field {field_name!r}")
        if field_name in {d.name for d in DERIVED_FIELDS}:
            raise ConfigError(f"{key}.fields[{i}].name", f"{field_name!r} is a derived field's name")
    if sum(f.type == "timestamp" for f in fields) != 1:
        raise ConfigError(f"{key}.fields", "exactly one field must have type timestamp")
    pattern = raw.get("pattern", "")
    if kind == "regex":
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{key}.pattern", "a regex format needs a pattern")
        try:
            groups = set(re.compile(pattern).groupindex)
        except re.error as exc:
            raise ConfigError(f"{key}.pattern", f"invalid regular expression: {exc}") from exc
        missing = [n for n in names if n not in groups]
        if missing:
            raise ConfigError(f"{key}.pattern", f"no named group for field(s) {', '.join(missing)}")
    return LogFormat(name, kind, fields, pattern)


def builtin_formats() -> dict[str, LogFormat]:
    text = resources.files("streamstats").joinpath("data/formats.yml").read_text()
    return {name: parse_format(name, raw, f"formats.{name}") for name, raw in yaml.safe_load(text).items()}


def load_formats(custom: Any) -> dict[str, LogFormat]:
    """Built-in formats plus the configuration's `formats:` mapping (which may replace a built-in)."""
    formats = builtin_formats()
    if custom is None:
        return formats
    if not isinstance(custom, dict):
        raise ConfigError("formats", "must be a mapping of format name to definition")
    for name, raw in custom.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"formats.{name}", "not a format name")
        formats[name] = parse_format(name, raw, f"formats.{name}")
    return formats
