"""A private MariaDB server for tests: its own datadir, TCP port (127.0.0.1) and socket in a temp dir,
run as the current user (these machines have no systemd). Reusable by any test area:

    from tests.mariadb import mariadb  # noqa: F401  (the session fixture)

    def test_x(mariadb):
        db = mariadb.create_database("x")
        conn = mariadb.connect(db)

`restart()` and `kill()` let a test take the server away and bring it back on the same port. The
server also speaks TLS, with a certificate for 127.0.0.1 from its own CA (`ca_file`).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest

from tests.pki import CA
from tests.support import require_binary

USER = "tester"
PASSWORD = "tester-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MariaDB:
    base: Path
    port: int
    flush_at_commit: int = 1  # innodb_flush_log_at_trx_commit
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def socket(self) -> Path:
        return self.base / "mysqld.sock"

    @property
    def log(self) -> Path:
        return self.base / "error.log"

    @property
    def ca_file(self) -> Path:
        """The CA the server's TLS certificate chains to."""
        return CA(self.base, "mariadb").cert

    def _tls_options(self) -> list[str]:
        ca = CA(self.base, "mariadb")
        if not ca.cert.exists():
            CA.create(self.base, "mariadb").issue("server")
        return [
            f"--ssl-ca={ca.cert}",
            f"--ssl-cert={self.base / 'server.pem'}",
            f"--ssl-key={self.base / 'server.key'}",
        ]

    def install(self) -> None:
        require_binary("mariadb-install-db")
        self.datadir.mkdir(parents=True)
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={getpass.getuser()}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def command(self) -> list[str]:
        """How mariadbd is started: the tests' options, nothing from /etc/mysql."""
        mariadbd = require_binary("mariadbd") if shutil.which("mariadbd") else "/usr/sbin/mariadbd"
        return [
            mariadbd,
            "--no-defaults",
            f"--user={getpass.getuser()}",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--pid-file={self.base / 'mysqld.pid'}",
            f"--log-error={self.log}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=256M",
            "--innodb-log-file-size=128M",
            f"--innodb-flush-log-at-trx-commit={self.flush_at_commit}",
            "--max-connections=200",
            "--local-infile=1",
            *self._tls_options(),
        ]

    def start(self, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mariadbd exited with {self.process.returncode}: {self.log.read_text()[-2000:]}"
                )
            try:
                self.root().close()
                return
            except pymysql.MySQLError:
                time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not answer within {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """A crash: SIGKILL, no clean shutdown (InnoDB recovers at the next start)."""
        self.stop(signal.SIGKILL)

    def restart(self, crash: bool = False) -> None:
        self.kill() if crash else self.stop()
        self.start()

    def root(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=str(self.socket), user="root", database=database, autocommit=True)

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        """The test user over TCP, as a service would connect."""
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, database=database, autocommit=True
        )

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with self.root() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return name

    def create_user(self) -> None:
        with self.root() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1'")


def start_mariadb(base: Path, flush_at_commit: int = 1) -> MariaDB:
    server = MariaDB(base, free_port(), flush_at_commit)
    server.install()
    server.start()
    server.create_user()
    return server


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One MariaDB for the whole session, stopped at the end."""
    server = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    try:
        yield server
    finally:
        server.stop()
        if os.environ.get("KEEP_MARIADB") is None:
            shutil.rmtree(server.base, ignore_errors=True)
