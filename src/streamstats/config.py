"""The configuration file: one YAML document with an `agent` and/or an `aggregator` section, the
statistics (a built-in set's name, a file or inline) and optional custom `formats`.

Secrets may come from files (`token_file`, `tokens_file`, `password_file`) so the configuration itself
can be world-readable. Every error names the offending key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from streamstats.credentials import AGENT_ID, parse_credentials
from streamstats.errors import ConfigError
from streamstats.formats import LogFormat, load_formats
from streamstats.statistics import StatisticSet, load_statistic_set
from streamstats.units import parse_duration, parse_size

TOKEN = re.compile(r"^[\x21-\x7e]{16,256}$")
START_AT = ("beginning", "end")


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    max: float = 30.0


@dataclass(frozen=True)
class FileEntry:
    path: str  # a path or a glob
    rotated: tuple[str, ...] = ("{path}.1",)
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AgentConfig:
    id: str
    files: tuple[FileEntry, ...]
    aggregator_url: str = ""
    token: str = ""
    protocol: int = 2  # 1 (JSON) for aggregators older than version 2
    ca_file: str = ""  # PEM CA(s) an https aggregator's certificate must chain to (default: the system's)
    start_at: str = "beginning"
    chunk_size: int = 16 * 2**20
    flush_interval: float = 5.0
    poll_interval: float = 0.25
    rotate_wait: float = 5.0
    rescan_interval: float = 10.0
    max_unacked: int = 512 * 2**20
    max_batch_rows: int = 100_000
    catch_up_rate: int = 0
    backoff: Backoff = field(default_factory=Backoff)
    request_timeout: float = 10.0
    drain_timeout: float = 30.0
    listen: str = ""
    threads: int = 1
    timestamp_min: int = 946_684_800  # 2000-01-01T00:00:00Z
    timestamp_max: int = 4_102_444_800  # 2100-01-01T00:00:00Z
    log_level: str = "info"
    parser: str = "native"  # native where the format allows it (tsv), or polars everywhere


@dataclass(frozen=True)
class MySQLConfig:
    database: str
    host: str = "127.0.0.1"
    port: int = 3306
    unix_socket: str = ""
    user: str = "streamstats"
    password: str = ""
    connect_timeout: float = 10.0
    ssl_ca: str = ""  # TLS, the server's certificate verified against this CA (required off loopback)


@dataclass(frozen=True)
class AggregatorConfig:
    mysql: MySQLConfig
    tokens: tuple[str, ...]  # shared by every agent: the version-1 scheme, kept for rollouts
    credentials_file: str = ""  # per-agent token digests (streamstats.credentials)
    listen: str = "127.0.0.1:9400"
    client_timeout: float = 30.0  # a connection idle or stalled this long is closed
    tls_cert_file: str = ""  # PEM chain: agents then connect with https://
    tls_key_file: str = ""
    max_body: int = 64 * 2**20
    table_prefix: str = "stat_"
    retention_interval: float = 600.0
    max_pending_rows: int = 5_000_000
    flush_retry: Backoff = field(default_factory=lambda: Backoff(1.0, 30.0))
    drain_timeout: float = 60.0
    threads: int = 2
    log_level: str = "info"


@dataclass(frozen=True)
class Config:
    path: Path
    statistics: StatisticSet
    formats: dict[str, LogFormat]
    agent: AgentConfig | None
    aggregator: AggregatorConfig | None


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


class _Section:
    """Typed access to one mapping of the document; unknown keys are errors."""

    def __init__(self, raw: Any, key: str, allowed: set[str], base: Path) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(key, "must be a mapping")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ConfigError(_join(key, unknown[0]), f"unknown key; allowed: {', '.join(sorted(allowed))}")
        self.raw, self.key, self.base = raw, key, base

    def has(self, name: str) -> bool:
        return name in self.raw

    def _convert(self, name: str, default: Any, convert: Any) -> Any:
        if name not in self.raw:
            return default
        try:
            return convert(self.raw[name])
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{self.key}.{name}", str(exc)) from exc

    def duration(self, name: str, default: float, minimum: float = 0.0) -> float:
        value = self._convert(name, default, parse_duration)
        if value < minimum:
            raise ConfigError(f"{self.key}.{name}", f"must be at least {minimum:g}s")
        return value

    def size(self, name: str, default: int, minimum: int = 0) -> int:
        value = self._convert(name, default, parse_size)
        if value < minimum:
            raise ConfigError(f"{self.key}.{name}", f"must be at least {minimum} bytes")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{self.key}.{name}", f"must be an integer from {low} to {high}")
        return value

    def string(self, name: str, default: str = "", pattern: re.Pattern[str] | None = None) -> str:
        value = self.raw.get(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.key}.{name}", "must be a string")
        if pattern and not pattern.match(value):
            raise ConfigError(f"{self.key}.{name}", f"{value!r} does not match {pattern.pattern}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw.get(name, default)
        if value not in choices:
            raise ConfigError(f"{self.key}.{name}", f"must be one of {', '.join(choices)}")
        return value

    def secret_file(self, name: str) -> str:
        path = self.base / self.string(name)
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{self.key}.{name}", f"cannot read {path}: {exc.strerror}") from exc

    def section(self, name: str, allowed: set[str]) -> _Section:
        return _Section(self.raw.get(name, {}), f"{self.key}.{name}", allowed, self.base)

    def backoff(self, name: str, default: Backoff) -> Backoff:
        sub = self.section(name, {"initial", "max"})
        initial = sub.duration("initial", default.initial, 0.01)
        return Backoff(initial, sub.duration("max", max(default.max, initial), initial))


def _readable(section: _Section, name: str) -> str:
    """An optional file's path (relative to the configuration), which must be readable; "" is none."""
    if not section.string(name):
        return ""
    path = section.base / section.string(name)
    try:
        path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{section.key}.{name}", f"cannot read {path}: {exc.strerror}") from exc
    return str(path)


def _listen(section: _Section, name: str, default: str) -> str:
    value = section.string(name, default)
    if value and not re.match(r"^[^\s:]*:\d{1,5}$", value):
        raise ConfigError(f"{section.key}.{name}", f"{value!r} is not HOST:PORT")
    return value


def _timestamp(section: _Section, name: str, default: int) -> int:
    def convert(raw: Any) -> int:
        when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())

    return section._convert(name, default, convert)


def _file_entry(raw: Any, key: str, base: Path) -> FileEntry:
    if isinstance(raw, str):
        raw = {"path": raw}
    entry = _Section(raw, key, {"path", "rotated", "fields"}, base)
    path = entry.string("path")
    if not path.startswith("/"):
        raise ConfigError(f"{key}.path", "must be an absolute path or glob")
    rotated = raw.get("rotated", ["{path}.1"])
    if not isinstance(rotated, list) or not all(isinstance(r, str) and "{path}" in r for r in rotated):
        raise ConfigError(f"{key}.rotated", "must be a list of names containing {path}, newest first")
    fields = raw.get("fields", {})
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise ConfigError(f"{key}.fields", "must map field names to string values")
    return FileEntry(path, tuple(rotated), tuple(sorted(fields.items())))


def _agent(raw: Any, base: Path, stats: StatisticSet) -> AgentConfig:
    allowed = {f for f in AgentConfig.__dataclass_fields__} | {"token_file"}
    s = _Section(raw, "agent", allowed, base)
    if not s.has("id"):
        raise ConfigError("agent.id", "is required")
    raw_files = s.raw.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        raise ConfigError("agent.files", "a non-empty list of paths or globs is required")
    files = tuple(_file_entry(f, f"agent.files[{i}]", base) for i, f in enumerate(raw_files))
    for i, entry in enumerate(files):
        missing = set(stats.constant_fields) - {k for k, _ in entry.fields}
        if missing:
            raise ConfigError(f"agent.files[{i}].fields", f"the statistics need {', '.join(sorted(missing))}")
    url = s.string("aggregator_url")
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise ConfigError("agent.aggregator_url", f"{url!r} is not an http(s) URL")
    if s.has("token") and s.has("token_file"):
        raise ConfigError("agent.token_file", "give token or token_file, not both")
    token = s.secret_file("token_file") if s.has("token_file") else s.string("token")
    if token and not TOKEN.match(token):
        raise ConfigError("agent.token", "must be 16 to 256 printable characters without spaces")
    low = _timestamp(s, "timestamp_min", AgentConfig.timestamp_min)
    high = _timestamp(s, "timestamp_max", AgentConfig.timestamp_max)
    if high <= low:
        raise ConfigError("agent.timestamp_max", "must be after timestamp_min")
    chunk = s.size("chunk_size", AgentConfig.chunk_size, 64 * 1024)
    return AgentConfig(
        id=s.string("id", pattern=AGENT_ID),
        files=files,
        aggregator_url=url.rstrip("/"),
        token=token,
        protocol=s.integer("protocol", AgentConfig.protocol, 1, 2),
        ca_file=_readable(s, "ca_file"),
        start_at=s.choice("start_at", "beginning", START_AT),
        chunk_size=chunk,
        flush_interval=s.duration("flush_interval", AgentConfig.flush_interval, 0.1),
        poll_interval=s.duration("poll_interval", AgentConfig.poll_interval, 0.01),
        rotate_wait=s.duration("rotate_wait", AgentConfig.rotate_wait),
        rescan_interval=s.duration("rescan_interval", AgentConfig.rescan_interval, 0.1),
        max_unacked=s.size("max_unacked", AgentConfig.max_unacked, chunk),
        max_batch_rows=s.integer("max_batch_rows", AgentConfig.max_batch_rows, 1000, 10**8),
        catch_up_rate=s.size("catch_up_rate", AgentConfig.catch_up_rate),
        backoff=s.backoff("backoff", Backoff()),
        request_timeout=s.duration("request_timeout", AgentConfig.request_timeout, 0.1),
        drain_timeout=s.duration("drain_timeout", AgentConfig.drain_timeout),
        listen=_listen(s, "listen", ""),
        threads=s.integer("threads", 1, 1, 64),
        timestamp_min=low,
        timestamp_max=high,
        log_level=s.choice("log_level", "info", ("debug", "info", "warning", "error")),
        parser=s.choice("parser", AgentConfig.parser, ("native", "polars")),
    )


def _mysql(s: _Section) -> MySQLConfig:
    allowed = {f for f in MySQLConfig.__dataclass_fields__} | {"password_file"}
    m = s.section("mysql", allowed)
    if not m.has("database"):
        raise ConfigError("aggregator.mysql.database", "is required")
    if m.has("password") and m.has("password_file"):
        raise ConfigError("aggregator.mysql.password_file", "give password or password_file, not both")
    return MySQLConfig(
        database=m.string("database", pattern=re.compile(r"^[A-Za-z0-9_]{1,64}$")),
        host=m.string("host", MySQLConfig.host),
        port=m.integer("port", MySQLConfig.port, 1, 65535),
        unix_socket=m.string("unix_socket"),
        user=m.string("user", MySQLConfig.user),
        password=m.secret_file("password_file") if m.has("password_file") else m.string("password"),
        connect_timeout=m.duration("connect_timeout", MySQLConfig.connect_timeout, 0.1),
        ssl_ca=_mysql_ca(m),
    )


LOOPBACK = ("localhost", "::1")


def _mysql_ca(m: _Section) -> str:
    """The CA for the connection's TLS; a database off loopback and off a socket needs one (the
    counters, and with LOAD DATA LOCAL the aggregator's files, would otherwise cross the network in
    clear, to a server nobody verified)."""
    ca = _readable(m, "ssl_ca")
    host = m.string("host", MySQLConfig.host)
    if not ca and not m.string("unix_socket") and not (host in LOOPBACK or host.startswith("127.")):
        raise ConfigError(
            "aggregator.mysql.ssl_ca",
            f"required for {host}: off loopback the connection must use verified TLS",
        )
    return ca


def _aggregator(raw: Any, base: Path) -> AggregatorConfig:
    allowed = {f for f in AggregatorConfig.__dataclass_fields__} | {"tokens_file"}
    s = _Section(raw, "aggregator", allowed, base)
    tokens = list(s.raw.get("tokens", []))
    if s.has("tokens_file"):
        tokens += [t for t in s.secret_file("tokens_file").split() if t]
    credentials = str(s.base / s.string("credentials_file")) if s.has("credentials_file") else ""
    if credentials:
        try:
            parse_credentials(Path(credentials).read_text(), credentials)
        except OSError as exc:
            raise ConfigError(
                "aggregator.credentials_file", f"cannot read {credentials}: {exc.strerror}"
            ) from exc
    tls_cert, tls_key = _readable(s, "tls_cert_file"), _readable(s, "tls_key_file")
    if bool(tls_cert) != bool(tls_key):
        raise ConfigError("aggregator.tls_key_file", "give tls_cert_file and tls_key_file together")
    if not tokens and not credentials:
        raise ConfigError(
            "aggregator.credentials_file", "agents need credentials: credentials_file, tokens or tokens_file"
        )
    for i, token in enumerate(tokens):
        if not isinstance(token, str) or not TOKEN.match(token):
            raise ConfigError(
                f"aggregator.tokens[{i}]", "must be 16 to 256 printable characters without spaces"
            )
    return AggregatorConfig(
        mysql=_mysql(s),
        tokens=tuple(tokens),
        credentials_file=credentials,
        listen=_listen(s, "listen", AggregatorConfig.listen) or AggregatorConfig.listen,
        client_timeout=s.duration("client_timeout", AggregatorConfig.client_timeout, 0.1),
        tls_cert_file=tls_cert,
        tls_key_file=tls_key,
        max_body=s.size("max_body", AggregatorConfig.max_body, 1024),
        table_prefix=s.string("table_prefix", "stat_", re.compile(r"^[a-z][a-z0-9_]{0,15}$")),
        retention_interval=s.duration("retention_interval", AggregatorConfig.retention_interval, 1),
        max_pending_rows=s.integer("max_pending_rows", AggregatorConfig.max_pending_rows, 1000, 10**9),
        flush_retry=s.backoff("flush_retry", Backoff(1.0, 30.0)),
        drain_timeout=s.duration("drain_timeout", AggregatorConfig.drain_timeout),
        threads=s.integer("threads", 2, 1, 64),
        log_level=s.choice("log_level", "info", ("debug", "info", "warning", "error")),
    )


def load(path: Path) -> Config:
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError("", f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{path} is not YAML: {exc}") from exc
    top = _Section(raw, "", {"agent", "aggregator", "statistics", "formats"}, path.parent)
    formats = load_formats(raw.get("formats"))
    if "statistics" not in raw:
        raise ConfigError("statistics", "is required (a built-in set such as cdn, a file, or inline)")
    stats = load_statistic_set(raw["statistics"], formats, top.base)
    agent = _agent(raw["agent"], top.base, stats) if "agent" in raw else None
    aggregator = _aggregator(raw["aggregator"], top.base) if "aggregator" in raw else None
    if agent is None and aggregator is None:
        raise ConfigError("", "the configuration needs an agent or an aggregator section")
    return Config(path, stats, formats, agent, aggregator)
