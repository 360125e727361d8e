"""Connections to MariaDB: one per request (opened and closed by the caller), UTC, strict."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql

from cdnpanel.config import DatabaseConfig


@dataclass(frozen=True)
class Database:
    config: DatabaseConfig

    def connect(self) -> pymysql.connections.Connection:
        cfg = self.config
        return pymysql.connect(
            host=cfg.host,
            port=cfg.port,
            unix_socket=cfg.unix_socket or None,
            user=cfg.user,
            password=cfg.password,
            database=cfg.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=cfg.connect_timeout,
            read_timeout=60,
            ssl_ca=cfg.ssl_ca or None,
            ssl_verify_identity=bool(cfg.ssl_ca),
            init_command="SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
        )

    @contextmanager
    def session(self) -> Iterator[pymysql.connections.Connection]:
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()
