"""A real Redmine for the tests: Debian's `redmine` package (5.0.4, SQLite), as a private instance with a
temporary database, its REST API on and an admin API key, served by WEBrick on a free port of 127.0.0.1.

Debian's Redmine keeps an instance's configuration under /var/lib/redmine/INSTANCE (REDMINE_INSTANCE): the
fixture makes a uniquely named one there (database in a temporary directory) and removes it at the end."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

REDMINE_ROOT = Path("/usr/share/redmine")
INSTANCES = Path("/var/lib/redmine")
SETUP_SCRIPT = Path(__file__).resolve().parent / "redmine_setup.rb"
ISSUES = 6
STARTUP_TIMEOUT = 180.0


@dataclass(frozen=True)
class Redmine:
    url: str
    api_key: str = field(repr=False)
    issues: tuple[int, ...]
    statuses: dict[str, int]

    def issue(self, number: int) -> dict:
        response = requests.get(
            f"{self.url}/issues/{number}.json?include=journals",
            headers={"X-Redmine-API-Key": self.api_key},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["issue"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Redmine exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/issue_statuses.json", timeout=5).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"Redmine did not come up within {STARTUP_TIMEOUT} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def redmine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redmine]:
    if not (REDMINE_ROOT / "bin" / "rails").exists():
        pytest.fail("Debian's redmine is not installed: run scripts/deps.sh (make test does)")
    work = tmp_path_factory.mktemp("redmine")
    instance = f"cdn-test-{secrets.token_hex(4)}"
    root = INSTANCES / instance
    (root / "config").mkdir(parents=True)
    try:
        for name in ("tmp", "log", "files"):
            (root / name).mkdir()
        (root / "config" / "database.yml").write_text(
            f"production:\n  adapter: sqlite3\n  database: {work / 'redmine.sqlite3'}\n  timeout: 5000\n"
        )
        (root / "config" / "secret_key.txt").write_text(secrets.token_hex(32) + "\n")
        env = {**os.environ, "REDMINE_INSTANCE": instance, "RAILS_ENV": "production"}
        seeded = subprocess.run(
            ["bin/rails", "runner", str(SETUP_SCRIPT), str(ISSUES)],
            cwd=REDMINE_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        # Ruby prints the error first, then the backtrace: keep the lines that are not `from ...`.
        message = [line for line in seeded.stderr.splitlines() if not line.lstrip().startswith("from ")]
        assert seeded.returncode == 0, "\n".join(message)[-3000:]
        setup = json.loads(seeded.stdout.strip().splitlines()[-1])
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = work / "server.log"
        with log.open("wb") as out:
            # Rails finds no server in Redmine's bundle; WEBrick (Debian's ruby-webrick) loaded before
            # Bundler restricts the load path is the one Rails then uses.
            server = ["bin/rails", "server", "-u", "webrick", "-b", "127.0.0.1", "-p", str(port)]
            process = subprocess.Popen(
                [*server, "-P", str(work / "server.pid")],
                cwd=REDMINE_ROOT,
                env={**env, "RUBYOPT": "-rwebrick"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_ready(process, url, log)
            yield Redmine(
                url=url,
                api_key=setup["api_key"],
                issues=tuple(setup["issues"]),
                statuses=setup["statuses"],
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
