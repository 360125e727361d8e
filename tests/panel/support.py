"""The control panel's test rig: real traffic through the real streamstats pipeline into the shared
MariaDB, the panel as a real `cdn-panel serve` process, and the figures recomputed straight from the
log files (independently of streamstats and of the panel)."""

from __future__ import annotations

import calendar
import collections
import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pymysql
import requests
import yaml

from cdnpanel import accounts
from streamstats import generate
from tests.mariadb import PASSWORD, USER, MariaDB, free_port
from tests.streamstats.harness import Lab, checkpoints, file_totals, wait_until

CUSTOMERS = ("c0000", "c0001", "c0002")
EDGES = ("edge01", "edge02")
MONTH_LINES = 30_000  # per edge, spread over the previous calendar month
RECENT_LINES = 3_500  # per edge, one a second over the last hour
PASSWORD_OF = {
    "alice": "alice-password-1",
    "bob": "bob-password-22",
    "olga": "olga-password-333",
    "dora": "dora-password-4444",
}


@dataclass(frozen=True)
class Line:
    ts: float
    customer: str
    vhost: str
    path: str
    status: int
    bytes_sent: int
    cache_status: str
    country: str
    content_type: str
    pop: str
    edge: str


@dataclass
class Pipeline:
    mariadb: MariaDB
    database: str
    month_start: int
    month_end: int
    logs: list[Path]
    lines: list[Line] = field(default_factory=list)

    @property
    def month(self) -> str:
        return datetime.fromtimestamp(self.month_start, UTC).strftime("%Y-%m")

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with self.mariadb.connect(self.database) as conn, conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(query, params)
            return list(cur.fetchall())


def previous_month(now: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(now, UTC)
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    start = calendar.timegm((year, month, 1, 0, 0, 0))
    return start, calendar.timegm((moment.year, moment.month, 1, 0, 0, 0))


def statistics_for_tests() -> dict[str, Any]:
    """The default `cdn` set as the aggregator runs it, written every second and kept long enough for
    a month that has ended."""
    document = yaml.safe_load(resources.files("streamstats").joinpath("data/cdn.stats.yml").read_text())
    for stat in document["statistics"]:
        stat["flush_interval"] = "1s"
        stat.pop("flush_offset", None)  # an offset must lie within the interval: every second, none
        stat["retention"] = "800d"
    return document


def write_logs(directory: Path, now: float) -> tuple[list[Path], int, int]:
    start, end = previous_month(now)
    paths = []
    for n, edge in enumerate(EDGES):
        path = directory / f"{edge}.log"
        with open(path, "wb") as out:
            month_rate = MONTH_LINES / (end - start)
            for block in generate.blocks(MONTH_LINES, seed=11 + n, start=start, rate=month_rate,
                                         customers=len(CUSTOMERS), edge=edge):  # fmt: skip
                out.write(block)
            # line i is at start + i / rate: the recent lines (numbered on from the month's, so their
            # request ids differ) are one a second over the last hour
            recent = {"first": MONTH_LINES, "start": int(now) - 3600 - MONTH_LINES, "rate": 1.0}
            for block in generate.blocks(
                RECENT_LINES, seed=21 + n, customers=len(CUSTOMERS), edge=edge, **recent
            ):
                out.write(block)
        paths.append(path)
    return paths, start, end


def read_lines(paths: list[Path]) -> list[Line]:
    """The cdn format's fields straight from the files (docs/analytics.md, "The cdn format")."""
    out = []
    for path in paths:
        with open(path, "rb") as handle:
            for raw in handle:
                f = raw.rstrip(b"\n").decode().split("\t")
                out.append(
                    Line(
                        float(f[0]), f[1], f[2], f[6], int(f[8]), int(f[9]), f[14], f[17], f[22], f[19], f[25]
                    )
                )
    return out


def run_pipeline(lab: Lab) -> Pipeline:
    logs, start, end = write_logs(lab.dir, time.time())
    stats = statistics_for_tests()
    aggregator = lab.aggregator(stats)
    aggregator.start()
    aggregator.wait_healthy()
    for edge, log in zip(EDGES, logs, strict=True):
        agent = lab.agent(aggregator, [str(log)], stats, id=edge)
        agent.args.append("--once")
        agent.start()
        assert agent.wait(180) == 0, agent.tail()
    lab.wait_for_totals(file_totals(logs), timeout=180)
    names = {s["name"] for s in stats["statistics"]}

    def all_committed() -> bool:
        done = checkpoints(lab.mariadb, lab.database)
        for edge in EDGES:
            positions = {p for (a, s), p in done.items() if a == edge and s in names}
            if len(positions) != 1 or sum(1 for a, _ in done if a == edge) != len(names):
                return False
        return True

    wait_until(all_committed, 120, "every statistic's checkpoint to reach the end of the logs", interval=0.5)
    return Pipeline(lab.mariadb, lab.database, start, end, logs, read_lines(logs))


# ---- the panel as a process ------------------------------------------------------------------------
@dataclass
class PanelServer:
    directory: Path
    mariadb: MariaDB
    database: str
    settings: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / f"panel{self.port}.yml"

    def write_config(self) -> Path:
        (self.directory / "db-password").write_text(PASSWORD + "\n")
        (self.directory / "session-key").write_text("k" * 8 + "test-session-key-0123456789abcdef\n")
        document = {
            "listen": f"127.0.0.1:{self.port}",
            "secret_key_file": "session-key",
            "cookie_secure": False,  # plain HTTP on loopback in the tests; a test checks the flag
            "login_throttle": {"max_failures": 3, "max_failures_per_client": 1000, "window": "10m"},
            "mysql": {"host": "127.0.0.1", "port": self.mariadb.port, "user": USER,
                      "password_file": "db-password", "database": self.database},
            **self.settings,
        }  # fmt: skip
        self.config_path.write_text(yaml.safe_dump(document, sort_keys=False))
        return self.config_path

    def start(self) -> None:
        self.write_config()
        log = open(self.directory / f"panel{self.port}.log", "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cdnpanel.cli", "serve", "--config", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"cdn-panel exited {self.process.returncode}: {self.log_tail()}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, 60, "the panel to answer /healthz")

    def log_tail(self) -> str:
        return "\n".join((self.directory / f"panel{self.port}.log").read_text().splitlines()[-30:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def connect(self) -> pymysql.connections.Connection:
        return self.mariadb.connect(self.database)

    def add_users(self) -> None:
        with self.connect() as conn:
            accounts.migrate(conn)
            accounts.add_user(conn, "alice", PASSWORD_OF["alice"], "customer", ["c0000"])
            accounts.add_user(conn, "bob", PASSWORD_OF["bob"], "customer", ["c0001", "c0002"])
            accounts.add_user(conn, "olga", PASSWORD_OF["olga"], "operator", [])
            accounts.add_user(conn, "dora", PASSWORD_OF["dora"], "customer", ["c0002"])


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the form"
    return match[1]


def login(url: str, username: str, password: str | None = None) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{url}/login", timeout=10)
    answer = session.post(
        f"{url}/login",
        data={"username": username, "password": password or PASSWORD_OF[username],
              "csrf_token": csrf_of(form.text), "next": "/"},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 303, (answer.status_code, answer.text[:500])
    return session


# ---- figures straight from the log lines -----------------------------------------------------------
def per_interval(
    lines: list[Line], customer: str, start: int, end: int, step: int
) -> dict[int, tuple[int, int]]:
    """(requests, bytes) per interval of `step` seconds (buckets of whole minutes, as the statistic's)."""
    requests_: collections.Counter = collections.Counter()
    bytes_: collections.Counter = collections.Counter()
    for line in lines:
        minute = int(line.ts) // 60 * 60
        if line.customer == customer and start <= minute < end:
            key = minute // step * step
            requests_[key] += 1
            bytes_[key] += line.bytes_sent
    return {k: (requests_[k], bytes_[k]) for k in requests_}


def p95_from_lines(lines: list[Line], customer: str, start: int, end: int) -> float:
    """Nearest-rank 95th percentile of every 5-minute interval's bits/s, zeros included."""
    sums = per_interval(lines, customer, start, end, 300)
    samples = sorted([sums.get(t, (0, 0))[1] * 8 / 300 for t in range(start, end, 300)])
    return samples[math.ceil(0.95 * len(samples)) - 1]
