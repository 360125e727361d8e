"""The panel's YAML configuration. Secrets may come from files (`password_file`, `secret_key_file`,
relative to the configuration file), so the configuration itself may be world-readable:

    listen: 127.0.0.1:8400
    secret_key_file: session-key          # signs the session cookies (32+ characters)
    cookie_secure: true                   # Secure cookies (false only for plain-HTTP tests)
    session_max_age: 12h
    login_throttle: {max_failures: 5, max_failures_per_client: 50, window: 15m}
    complete_margin: 5s                   # subtracted from the checkpoints for "data complete up to"
    mysql: {host: 127.0.0.1, port: 3306, user: panel_reader, password_file: db-password, database: analytics}
    accounts_mysql: {host: db1, user: panel, password_file: accounts-pw, database: cdnpanel, ssl_ca: ca.pem}

`mysql` is where the statistics are read (a read-only replica, a SELECT-only account); `accounts_mysql`
is where the panel keeps its users, tokens and login failures, which it writes (the primary, a database
of the panel's own). Without `accounts_mysql`, both live behind `mysql`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streamstats.config import MySQLConfig as DatabaseConfig  # the aggregator's connection settings
from streamstats.units import parse_duration


class ConfigError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class ThrottleConfig:
    max_failures: int = 5  # per user name
    max_failures_per_client: int = 50  # per client address (many users behind one NAT)
    window: float = 900.0


@dataclass(frozen=True)
class PanelConfig:
    database: DatabaseConfig  # the statistics (read only)
    accounts_database: DatabaseConfig  # the panel's own tables (read and written)
    secret_key: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8400
    cookie_secure: bool = True
    session_max_age: float = 12 * 3600.0
    throttle: ThrottleConfig = ThrottleConfig()
    complete_margin: float = 5.0
    log_level: str = "info"


def _secret(section: dict[str, Any], key: str, base: Path, where: str) -> str:
    if key in section and f"{key}_file" in section:
        raise ConfigError(f"{where}{key}_file", f"give {key} or {key}_file, not both")
    if f"{key}_file" in section:
        path = base / str(section[f"{key}_file"])
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{where}{key}_file", f"cannot read {path}: {exc.strerror}") from exc
    return str(section.get(key, ""))


def _known(section: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}", "unknown key")


def _database(section: Any, base: Path, key: str = "mysql") -> DatabaseConfig:
    if not isinstance(section, dict):
        raise ConfigError(key, "must be a mapping")
    _known(section, {*DatabaseConfig.__dataclass_fields__, "password_file"}, f"{key}.")
    if not section.get("database"):
        raise ConfigError(f"{key}.database", "required")
    return DatabaseConfig(
        database=str(section["database"]),
        host=str(section.get("host", "127.0.0.1")),
        port=int(section.get("port", 3306)),
        unix_socket=str(section.get("unix_socket", "")),
        user=str(section.get("user", "panel")),
        password=_secret(section, "password", base, f"{key}."),
        connect_timeout=parse_duration(str(section.get("connect_timeout", "10s"))),
        # TLS with the server's certificate and name verified (as the aggregator does), when given.
        ssl_ca=str(base / str(section["ssl_ca"])) if section.get("ssl_ca") else "",
    )


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError("listen", "must be HOST:PORT")
    return host or "127.0.0.1", int(port)


def parse_config(document: Any, base: Path) -> PanelConfig:
    if not isinstance(document, dict):
        raise ConfigError("(top)", "must be a mapping")
    allowed = {
        "listen", "secret_key", "secret_key_file", "cookie_secure", "session_max_age", "login_throttle",
        "complete_margin", "mysql", "accounts_mysql", "log_level",
    }  # fmt: skip
    _known(document, allowed, "")
    secret = _secret(document, "secret_key", base, "")
    if len(secret) < 32:
        raise ConfigError("secret_key", "required, at least 32 characters")
    host, port = _listen(str(document.get("listen", "127.0.0.1:8400")))
    throttle = document.get("login_throttle", {}) or {}
    _known(throttle, {"max_failures", "max_failures_per_client", "window"}, "login_throttle.")
    statistics = _database(document.get("mysql"), base)
    accounts = document.get("accounts_mysql")
    return PanelConfig(
        database=statistics,
        accounts_database=statistics if accounts is None else _database(accounts, base, "accounts_mysql"),
        secret_key=secret,
        host=host,
        port=port,
        cookie_secure=bool(document.get("cookie_secure", True)),
        session_max_age=parse_duration(str(document.get("session_max_age", "12h"))),
        throttle=ThrottleConfig(
            max_failures=int(throttle.get("max_failures", 5)),
            max_failures_per_client=int(throttle.get("max_failures_per_client", 50)),
            window=parse_duration(str(throttle.get("window", "15m"))),
        ),
        complete_margin=parse_duration(str(document.get("complete_margin", "5s"))),
        log_level=str(document.get("log_level", "info")),
    )


def load_config(path: Path) -> PanelConfig:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from exc
    return parse_config(document, path.parent)
