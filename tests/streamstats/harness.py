"""Running agents and aggregators as real processes against real logs and a real MariaDB, and the
totals to compare them with, computed straight from the log files (independently of streamstats)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import requests
import yaml

from streamstats.credentials import digest
from tests.mariadb import PASSWORD, USER, MariaDB, free_port
from tests.pki import CA

BALANCER_TEMPLATE = Path(__file__).parents[2] / "roles/analytics_aggregator/templates/balancer.conf.j2"
TOKEN = "test-token-0123456789abcdef"  # a shared token (the version-1 scheme), where a test asks for one
AGENT_IDS = tuple(f"edge{n:02d}" for n in range(1, 10))


def agent_token(agent: str) -> str:
    """The token bound to `agent` in every lab aggregator's credentials file."""
    return f"{agent}-token-0123456789abcdef"


Totals = dict[tuple[str, int], tuple[int, int]]  # (customer, minute) -> (requests, bytes_sent)


# A small statistic set for the integration tests: billing first (with rollups, as the default set),
# flushed at different intervals so the per-statistic checkpoints differ whenever the aggregator dies.
def _statistic(
    name: str, keys: list[str], bucket: str, flush: str, values: dict, **more: Any
) -> dict[str, Any]:
    timing = {"flush_interval": flush, "retention": "30d"}
    return {"name": name, "keys": keys, "bucket": bucket, "values": values, **timing, **more}


TRAFFIC = {"requests": "count", "bytes_sent": "sum(bytes_sent)"}
TEST_STATISTICS: dict[str, Any] = {
    "format": "cdn",
    "statistics": [
        _statistic("customer_traffic", ["customer"], "1m", "1s", TRAFFIC, billing=True, rollups=["5m", "1h"]),
        _statistic("customer_status", ["customer", "status_class"], "1m", "2s", TRAFFIC),
        _statistic(
            "pop_cache",
            ["pop", "cache_status"],
            "5m",
            "3s",
            {"requests": "count", "request_time_ms": "avg(request_time)"},
        ),
        _statistic(
            "top_urls",
            ["customer"],
            "1h",
            "2s",
            {"requests": "count"},
            top={"field": "path", "n": 10, "max_length": 128},
            sample={"one_in": 2, "by": "request_id"},
        ),
    ],
}


def render_role_template(path: Path, variables: dict[str, Any]) -> str:
    """A role's Jinja template outside Ansible (the filters it uses provided the same way)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "#\n# " + text + "\n#"
    return env.from_string(path.read_text()).render(ansible_managed="Managed by the tests", **variables)


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def file_totals(paths: Iterable[Path]) -> Totals:
    """Requests and bytes per customer per minute, read straight from cdn-format log files."""
    requests_, bytes_ = collections.Counter(), collections.Counter()
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                fields = line.rstrip(b"\n").split(b"\t")
                key = (fields[1].decode(), int(float(fields[0])) // 60 * 60)
                requests_[key] += 1
                bytes_[key] += int(fields[9])
    return {k: (requests_[k], bytes_[k]) for k in requests_}


def rolled_up(totals: Totals, seconds: int) -> Totals:
    """The totals summed into buckets of `seconds`, as a statistic's rollup table holds them."""
    out: Totals = {}
    for (customer, bucket), (count, sent) in totals.items():
        key = (customer, bucket // seconds * seconds)
        before = out.get(key, (0, 0))
        out[key] = (before[0] + count, before[1] + sent)
    return out


def db_totals(mariadb: MariaDB, database: str, table: str = "stat_customer_traffic") -> Totals:
    with mariadb.connect(database) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT customer, UNIX_TIMESTAMP(bucket), requests, bytes_sent FROM {table}")
        return {(c, int(b)): (int(r), int(s)) for c, b, r, s in cur.fetchall()}


def checkpoints(mariadb: MariaDB, database: str) -> dict[tuple[str, str], str]:
    """(agent, statistic) -> committed position; empty while the tables do not exist."""
    try:
        with mariadb.connect(database) as conn, conn.cursor() as cur:
            cur.execute("SELECT agent_id, statistic, position FROM streamstats_checkpoints")
            return {(a, s): p for a, s, p in cur.fetchall()}
    except Exception:
        return {}


def describe_difference(expected: Totals, actual: Totals) -> str:
    keys = sorted(set(expected) | set(actual))
    diffs = [(k, expected.get(k), actual.get(k)) for k in keys if expected.get(k) != actual.get(k)]
    total_e = [sum(v[i] for v in expected.values()) for i in (0, 1)]
    total_a = [sum(v[i] for v in actual.values()) for i in (0, 1)]
    return f"{len(diffs)} keys differ, e.g. {diffs[:5]}; expected totals {total_e}, database {total_a}"


@dataclass
class Service:
    name: str
    args: list[str]
    log: Path
    url: str = ""
    verify: str | bool = True  # for https: the CA file its certificate chains to
    command: list[str] | None = None  # default: streamstats with `args`
    process: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "ab") as log:
            log.write(f"\n=== start {self.starts}\n".encode())
            self.process = subprocess.Popen(
                self.command or [sys.executable, "-m", "streamstats.cli", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self, timeout: float = 60) -> None:
        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=2, verify=self.verify).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout, f"{self.name} to be healthy")

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(30)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 60) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def metrics_text(self) -> str:
        return requests.get(f"{self.url}/metrics", timeout=5, verify=self.verify).text

    def metrics(self) -> dict[str, float]:
        out = {}
        for line in self.metrics_text().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


@dataclass
class Lab:
    dir: Path
    mariadb: MariaDB
    services: list[Service] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.database = self.mariadb.create_database("streamstats")
        (self.dir / "token").write_text(TOKEN + "\n")
        lines = [f"{a} sha256:{digest(agent_token(a))}\n" for a in AGENT_IDS]
        (self.dir / "credentials").write_text("".join(lines))
        for agent in AGENT_IDS:
            (self.dir / f"token-{agent}").write_text(agent_token(agent) + "\n")
        (self.dir / "mysql-password").write_text(PASSWORD + "\n")

    def write_config(self, name: str, document: dict[str, Any]) -> Path:
        path = self.dir / name
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def ca(self) -> CA:
        """The lab's private CA (made at the first use)."""
        if not (self.dir / "lab-ca.pem").exists():
            CA.create(self.dir, "lab")
        return CA(self.dir, "lab")

    def aggregator(self, statistics: Any = None, tls: bool = False, **settings: Any) -> Service:
        port = free_port()
        if tls:
            cert, key = self.ca().issue(f"aggregator{port}")
            settings |= {"tls_cert_file": str(cert), "tls_key_file": str(key)}
        section = {
            "listen": f"127.0.0.1:{port}",
            "credentials_file": "credentials",
            "mysql": {
                "host": "127.0.0.1",
                "port": self.mariadb.port,
                "user": USER,
                "password_file": "mysql-password",
                "database": self.database,
                "connect_timeout": "3s",
            },
            "retention_interval": "1h",
            "flush_retry": {"initial": "200ms", "max": "1s"},
            "drain_timeout": "30s",
            **settings,
        }
        config = self.write_config(
            f"aggregator{port}.yml", {"statistics": statistics or TEST_STATISTICS, "aggregator": section}
        )
        service = Service(
            "aggregator", ["aggregator", "--config", str(config)], self.dir / f"aggregator{port}.log"
        )
        service.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        service.verify = str(self.ca().cert) if tls else True
        self.services.append(service)
        return service

    def balancer(self, aggregators: list[Service], tls: bool = True) -> Service:
        """nginx in front of `aggregators`, with the role's own balancer configuration."""
        port = free_port()
        base = self.dir / f"nginx{port}"
        base.mkdir()
        settings: dict[str, Any] = {
            "analytics_aggregator_balancer_listen": f"127.0.0.1:{port}",
            "analytics_aggregator_balancer_ports": [a.url.rsplit(":", 1)[1] for a in aggregators],
            "analytics_aggregator_balancer_tls_cert_file": "",
            "analytics_aggregator_balancer_timeout": "10s",
            "analytics_aggregator_balancer_max_body": 64 << 20,
        }
        if tls:
            cert, key = self.ca().issue(f"balancer{port}")
            settings |= {
                "analytics_aggregator_balancer_tls_cert_file": str(cert),
                "analytics_aggregator_balancer_tls_key_file": str(key),
            }
        (base / "balancer.conf").write_text(render_role_template(BALANCER_TEMPLATE, settings))
        (base / "nginx.conf").write_text(
            f"daemon off;\npid {base}/nginx.pid;\nerror_log {base}/error.log;\nevents {{}}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {base}/body;\n"
            f"  proxy_temp_path {base}/proxy;\n  include {base}/balancer.conf;\n}}\n"
        )
        command = ["nginx", "-p", str(base), "-e", str(base / "error.log"), "-c", str(base / "nginx.conf")]
        service = Service("balancer", [], self.dir / f"nginx{port}.log", command=command)
        service.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        service.verify = str(self.ca().cert) if tls else True
        self.services.append(service)
        return service

    def agent_config(
        self, aggregator: Service | None, files: list[Any], statistics: Any = None, **settings: Any
    ) -> Path:
        port = free_port()
        agent = settings.pop("id", "edge01")
        section = {
            "id": agent,
            "files": files,
            "flush_interval": "500ms",
            "poll_interval": "50ms",
            "rotate_wait": "300ms",
            "rescan_interval": "1s",
            "backoff": {"initial": "100ms", "max": "1s"},
            "request_timeout": "5s",
            "drain_timeout": "20s",
            "listen": f"127.0.0.1:{port}",
            "chunk_size": "1MiB",
            **settings,
        }
        if aggregator is not None:
            section |= {"aggregator_url": aggregator.url, "token_file": f"token-{agent}"}
            if isinstance(aggregator.verify, str):
                section.setdefault("ca_file", aggregator.verify)
        return self.write_config(
            f"agent{port}.yml", {"statistics": statistics or TEST_STATISTICS, "agent": section}
        )

    def agent(
        self, aggregator: Service, files: list[Any], statistics: Any = None, **settings: Any
    ) -> Service:
        config = self.agent_config(aggregator, files, statistics, **settings)
        port = yaml.safe_load(config.read_text())["agent"]["listen"].rsplit(":", 1)[1]
        service = Service("agent", ["agent", "--config", str(config)], self.dir / f"agent{port}.log")
        service.url = f"http://127.0.0.1:{port}"
        self.services.append(service)
        return service

    def wait_for_totals(self, expected: Totals, timeout: float) -> None:
        def equal() -> bool:
            try:
                return db_totals(self.mariadb, self.database) == expected
            except Exception:  # the table may not exist yet, or the server may be restarting
                return False

        try:
            wait_until(equal, timeout, "the database totals to equal the log files' totals", interval=0.5)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}: {describe_difference(expected, db_totals(self.mariadb, self.database))}"
            ) from exc

    def stop_all(self) -> None:
        for service in reversed(self.services):  # agents (started last) drain into their aggregator
            service.stop(timeout=30)
