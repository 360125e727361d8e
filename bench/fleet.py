"""The fleet benchmark: N simulated edge agents against one aggregator host and MariaDB, for the
aggregator of this checkout and the one of the commit before the fleet work (PREVIOUS), in one run.

The host is as deploy-analytics.yml makes it: this checkout's aggregator runs `--processes` processes
(default 2, the role's default) behind nginx with the role's balancer configuration, over TLS with
a private CA; the previous one is its single process over plain HTTP, as it was deployed.

Each simulated agent replays a real agent's deltas (`streamstats agent --once` over generated logs,
1,000 customers, 1,000 lines/s, the default `cdn` statistics) as the agent of its version sends them:
the previous agent every statistic every 5 s, the current one each statistic before its own write
slots (flush offset + multiples of its flush interval; a 30 s statistic's delta covers 30 s of
lines). Sends go just before the slots with the agent's jitter, so the fleet's bursts are the real
ones. Bodies go uncompressed (a gzip per request would cost the driver more CPU than it leaves the
aggregator; both versions get the same). The driver runs on the same 2 cores as the host.

Per N: batches acknowledged per second, POST latency p50/p99, errors by kind, the aggregator's and
MariaDB's CPU (cores) and peak RSS, the billing statistic's freshness (from an acknowledged send to
its checkpoint in MySQL, sampled on a few agents), and exactness at the end (SUM(requests) and
SUM(bytes_sent) of the billing table equal the acknowledged deltas' totals, after a drain).

    python bench/fleet.py [--agents 50,100,200,500,1000] [--previous-agents 10,20,50] [--seconds 65]
                          [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import signal
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import polars as pl
import yaml
from common import (
    ROOT,
    Machine,
    free_port,
    process_cpu_seconds,
    start_tuned_mariadb,
    write_result,
)

from streamstats import generate
from streamstats.agent import SEND_LEAD
from streamstats.aggregate import empty_frame
from streamstats.credentials import digest
from streamstats.formats import load_formats
from streamstats.positions import FilePos, to_json
from streamstats.protocol import V2_CONTENT_TYPE
from streamstats.statistics import Statistic, StatisticSet, load_statistic_set
from tests.mariadb import PASSWORD, USER
from tests.pki import CA
from tests.streamstats.harness import BALANCER_TEMPLATE, render_role_template

PREVIOUS = "32ccba5"  # the last commit before the fleet work
TICK = 5.0  # the agent's flush interval
LINES_PER_SECOND = 1000
HELD_P99 = 1.0
BILLING = "customer_traffic"
FRESHNESS_SAMPLE = 5
CONTENT_TYPES = {1: "application/json", 2: V2_CONTENT_TYPE}


def _deltas(stats: StatisticSet, seconds: int, work: Path) -> dict[str, pl.DataFrame]:
    """A real agent's counts of `seconds` of traffic, per statistic (the agent's own JSON output)."""
    log = work / f"access-{seconds}.log"
    log.write_bytes(
        b"".join(
            generate.blocks(seconds * LINES_PER_SECOND, seed=7, start=1_790_000_000, rate=LINES_PER_SECOND)
        )
    )
    config = work / f"once-{seconds}.yml"
    config.write_text(yaml.safe_dump({"statistics": "cdn", "agent": {"id": "edge01", "files": [str(log)]}}))
    agent = [sys.executable, "-m", "streamstats.cli", "agent", "--config", str(config)]
    done = subprocess.run([*agent, "--once", "--output", "json"], capture_output=True, check=True)
    doc = json.loads(done.stdout)
    return {
        s.name: pl.DataFrame(doc["statistics"][s.name], schema=empty_frame(s).schema)
        for s in stats.statistics
    }


@dataclass
class Plan:
    """What a simulated agent of one version sends: per slot, the statistics due and their deltas."""

    name: str
    cadence: dict[str, int]  # statistic -> seconds between two sends
    offset: dict[str, int]  # statistic -> its sends' place in the cadence, in seconds
    deltas: dict[str, pl.DataFrame]  # statistic -> its delta over its cadence
    billing_totals: tuple[int, int] = (0, 0)
    protocol: int = 1
    encoded: dict[str, bytes] = field(default_factory=dict)  # statistic -> its delta, encoded once

    def __post_init__(self) -> None:
        for name, frame in self.deltas.items():
            if self.protocol == 2:
                out = io.BytesIO()
                frame.write_ipc_stream(out)
                self.encoded[name] = out.getvalue()
            else:
                self.encoded[name] = json.dumps(frame.to_dict(as_series=False)).encode()

    def due(self, slot: int) -> list[str]:
        """The statistics sent before the wall-clock second `slot` (a multiple of TICK)."""
        return [n for n, every in self.cadence.items() if (slot - self.offset[n]) % every == 0]


def _plans(stats: StatisticSet, work: Path) -> dict[str, Plan]:
    every5 = {s.name: int(TICK) for s in stats.statistics}
    current = {s.name: int(max(TICK, s.flush_interval)) for s in stats.statistics}
    offsets = {s.name: int(s.flush_offset) % current[s.name] for s in stats.statistics}
    by_seconds = {seconds: _deltas(stats, seconds, work) for seconds in sorted({*current.values(), 5})}
    plans = {
        "previous": Plan("previous", every5, dict.fromkeys(every5, 0), by_seconds[int(TICK)]),
        "current": Plan(
            "current", current, offsets, {n: by_seconds[c][n] for n, c in current.items()}, protocol=2
        ),
    }
    for plan in plans.values():
        billing = plan.deltas[BILLING]
        plan.billing_totals = (int(billing["requests"].sum()), int(billing["bytes_sent"].sum()))
    return plans


def _position(offset: int) -> dict[str, Any]:
    return to_json({"/var/log/nginx/access.log": FilePos(2049, 77, "ab" * 16, 1024, offset)})


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    acked: int = 0
    billing: list[int] = field(default_factory=lambda: [0, 0])
    freshness: list[float] = field(default_factory=list)


class SimulatedAgent:
    def __init__(self, index: int, plan: Plan, stats: StatisticSet, token: str) -> None:
        self.id = f"edge{index:04d}"
        self.plan, self.stats, self.token = plan, stats, token
        self.run = uuid.uuid4().hex
        self.seq = 0
        self.offsets = {s.name: 0 for s in stats.statistics}
        low, high = SEND_LEAD  # as the agent spreads its sends
        self.lead = min(low + (high - low) * random.random(), TICK * 0.4)

    def body(self, names: list[str]) -> tuple[bytes, dict[str, int]]:
        """A batch as streamstats.protocol writes it, from the deltas encoded once."""
        self.seq += 1
        ends = {name: self.offsets[name] + 1000 for name in names}
        entries = []
        for name in names:
            stat: Statistic = self.stats.get(name)  # type: ignore[assignment]
            start = _position(self.offsets[name]) if self.offsets[name] else {}
            entries.append(
                {"name": name, "fingerprint": stat.fingerprint, "from": start, "to": _position(ends[name])}
            )
        identity = {"agent": self.id, "run": self.run, "seq": self.seq}
        if self.plan.protocol == 2:
            for entry in entries:
                entry["bytes"] = len(self.plan.encoded[entry["name"]])
            header = json.dumps({"version": 2, **identity, "statistics": entries}).encode()
            streams = b"".join(self.plan.encoded[name] for name in names)
            return struct.pack(">I", len(header)) + header + streams, ends
        parts = []
        for entry in entries:
            head = json.dumps({k: entry[k] for k in ("fingerprint", "from", "to")}).encode()
            parts.append(
                json.dumps(entry["name"]).encode()
                + b":"
                + head[:-1]
                + b',"columns":'
                + self.plan.encoded[entry["name"]]
                + b"}"
            )
        head = json.dumps({"version": 1, **identity}).encode()
        return head[:-1] + b',"statistics":{' + b",".join(parts) + b"}}", ends


async def _agent_loop(
    agent: SimulatedAgent, session: aiohttp.ClientSession, host: Host, t0: int, ticks: int, out: Outcome, db
) -> None:
    pending: tuple[bytes, dict[str, int]] | None = None
    for tick in range(ticks):
        slot = t0 + tick * int(TICK)
        await asyncio.sleep(max(0.0, slot - agent.lead - time.time()))
        if pending is None:
            pending = agent.body(agent.plan.due(slot))
        body, ends = pending
        began = time.monotonic()
        try:
            async with session.post(
                f"{host.url}/v{agent.plan.protocol}/batches",
                data=body,
                headers={
                    "Authorization": f"Bearer {agent.token}",
                    "Content-Type": CONTENT_TYPES[agent.plan.protocol],
                    "X-Streamstats-Agent": agent.id,
                },
                ssl=host.ssl,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            out.errors[type(exc).__name__] += 1
            continue  # the same batch at the next tick, as the agent does
        out.latencies.append(time.monotonic() - began)
        if status != 200:
            out.errors[f"http_{status}"] += 1
            continue
        out.acked += 1
        pending = None
        agent.offsets.update(ends)
        if BILLING in ends:
            out.billing[0] += agent.plan.billing_totals[0]
            out.billing[1] += agent.plan.billing_totals[1]
            if db is not None:
                asyncio.get_running_loop().create_task(db.freshness(agent.id, ends[BILLING], out))


def _offset(position: dict) -> int:
    return max((p["offset"] for p in position.values()), default=0)


class Database:
    def __init__(self, server, name: str) -> None:
        self.server, self.name = server, name

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.server.root() as conn, conn.cursor() as cur:
            cur.execute(f"USE `{self.name}`")
            cur.execute(sql, args)
            return list(cur.fetchall())

    async def freshness(self, agent: str, offset: int, out: Outcome) -> None:
        """Seconds from the acknowledgement to the commit of a billing checkpoint at or past `offset`
        (one write may cover several acknowledged sends)."""
        began = time.monotonic()
        while time.monotonic() - began < 120:
            rows = await asyncio.to_thread(
                self.query,
                "SELECT position FROM streamstats_checkpoints WHERE agent_id = %s AND statistic = %s",
                (agent, BILLING),
            )
            if rows and _offset(json.loads(rows[0][0])) >= offset:
                out.freshness.append(time.monotonic() - began)
                return
            await asyncio.sleep(0.25)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _tree(pid: int) -> list[int]:
    """`pid` and its children (nginx's workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return [pid, *children]


class Aggregator:
    """One aggregator process of a version: this checkout's, or PREVIOUS's from `git archive`."""

    def __init__(self, version: str, work: Path, server, database: str, agents: list[SimulatedAgent]) -> None:
        self.port = free_port()
        section: dict[str, Any] = {
            "listen": f"127.0.0.1:{self.port}",
            "mysql": {
                "host": "127.0.0.1",
                "port": server.port,
                "user": USER,
                "password": PASSWORD,
                "database": database,
            },
            "max_pending_rows": 30_000_000,
            "drain_timeout": "120s",
        }
        env = {"PATH": "/usr/bin:/bin"}
        if version == "previous":
            (work / "tokens").write_text("fleet-shared-token-0123456789\n")
            section["tokens_file"] = str(work / "tokens")
            env["PYTHONPATH"] = str(work / "previous" / "src")
        else:
            lines = "".join(f"{a.id} sha256:{digest(a.token)}\n" for a in agents)
            (work / "credentials").write_text(lines)
            section["credentials_file"] = str(work / "credentials")
            env["PYTHONPATH"] = str(ROOT / "src")
        config = work / f"aggregator-{version}-{self.port}.yml"
        config.write_text(yaml.safe_dump({"statistics": "cdn", "aggregator": section}))
        self.log_path = work / f"aggregator-{version}-{self.port}.log"
        with open(self.log_path, "wb") as log:  # the child keeps its copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamstats.cli", "aggregator", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=work,
            )

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=180)


class Balancer:
    """nginx with the role's balancer configuration (TLS) in front of the aggregator processes."""

    def __init__(self, work: Path, ports: list[int], ca: CA) -> None:
        self.port = free_port()
        base = work / f"nginx-{self.port}"
        base.mkdir()
        cert, key = ca.issue("127.0.0.1")
        settings = {
            "analytics_aggregator_balancer_listen": f"127.0.0.1:{self.port}",
            "analytics_aggregator_balancer_ports": ports,
            "analytics_aggregator_balancer_tls_cert_file": str(cert),
            "analytics_aggregator_balancer_tls_key_file": str(key),
            "analytics_aggregator_balancer_timeout": "10s",
            "analytics_aggregator_balancer_max_body": 64 << 20,
        }
        (base / "balancer.conf").write_text(render_role_template(BALANCER_TEMPLATE, settings))
        (base / "nginx.conf").write_text(
            f"daemon off;\nworker_processes auto;\npid {base}/nginx.pid;\nerror_log {base}/error.log;\n"
            f"events {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n"
            f"  client_body_temp_path {base}/body;\n  proxy_temp_path {base}/proxy;\n"
            f"  include {base}/balancer.conf;\n}}\n"
        )
        self.process = subprocess.Popen(
            ["nginx", "-p", str(base), "-e", str(base / "error.log"), "-c", str(base / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=60)


class Host:
    """The aggregator host of a version: its processes, behind the balancer for this checkout."""

    def __init__(
        self, version: str, processes: int, work: Path, server, database: str, agents: list[SimulatedAgent]
    ) -> None:
        count = processes if version == "current" else 1
        self.aggregators = [Aggregator(version, work, server, database, agents) for _ in range(count)]
        self.balancer: Balancer | None = None
        self.ssl: ssl.SSLContext | bool = False
        if version == "current":
            ca = CA.create(work, f"fleet{self.aggregators[0].port}")
            self.balancer = Balancer(work, [a.port for a in self.aggregators], ca)
            self.ssl = ssl.create_default_context(cafile=str(ca.cert))
            self.url = f"https://127.0.0.1:{self.balancer.port}"
        else:
            self.url = f"http://127.0.0.1:{self.aggregators[0].port}"
        self.peak_rss = 0.0

    @property
    def pids(self) -> list[int]:
        pids = [a.process.pid for a in self.aggregators]
        return pids + (_tree(self.balancer.process.pid) if self.balancer else [])

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.pids)

    async def wait_healthy(self, session: aiohttp.ClientSession) -> None:
        for aggregator in self.aggregators:
            url = f"http://127.0.0.1:{aggregator.port}/healthz"
            for _ in range(600):
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                log = aggregator.log_path.read_text()[-2000:]
                raise RuntimeError(f"the aggregator did not become healthy: {log}")

    async def sample_rss(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.peak_rss = max(self.peak_rss, sum(_rss_mb(a.process.pid) for a in self.aggregators))
            await asyncio.sleep(0.5)

    def stop(self) -> int:
        if self.balancer:
            self.balancer.stop()
        return max(a.stop() for a in self.aggregators)


async def one_run(
    version: str, n: int, plan: Plan, stats: StatisticSet, server, work: Path, seconds: float, processes: int
) -> dict:
    database = server.create_database(f"fleet_{version}_{n}")
    tokens = [
        "fleet-shared-token-0123456789" if version == "previous" else uuid.uuid4().hex * 2 for _ in range(n)
    ]
    agents = [SimulatedAgent(i, plan, stats, tokens[i]) for i in range(n)]
    host = Host(version, processes, work, server, database, agents)
    db = Database(server, database)
    out = Outcome()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        await host.wait_healthy(session)
        ticks = int(seconds / TICK)
        t0 = int((time.time() // TICK + 2) * TICK)
        stop = asyncio.Event()
        sampler = asyncio.create_task(host.sample_rss(stop))
        load_before = os.getloadavg()[0]
        cpu0, db_cpu0, driver_cpu0, began = (
            host.cpu_seconds(),
            process_cpu_seconds(server.process.pid),
            process_cpu_seconds(os.getpid()),
            time.monotonic(),
        )
        sample = set(range(min(n, FRESHNESS_SAMPLE)))
        await asyncio.gather(
            *(
                _agent_loop(a, session, host, t0, ticks, out, db if i in sample else None)
                for i, a in enumerate(agents)
            )
        )
        wall = time.monotonic() - began
        cpu = host.cpu_seconds() - cpu0
        db_cpu = process_cpu_seconds(server.process.pid) - db_cpu0
        driver_cpu = process_cpu_seconds(os.getpid()) - driver_cpu0
        await asyncio.sleep(3)  # the sampled agents' last billing checkpoints
        stop.set()
        await sampler
    exit_code = host.stop()
    stored = db.query(f"SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(bytes_sent), 0) FROM stat_{BILLING}")[
        0
    ]
    p99 = _percentile(out.latencies, 0.99)
    errors = sum(out.errors.values())
    return {
        "agents": n,
        "aggregator_processes": len(host.aggregators),
        "lines_per_second": n * LINES_PER_SECOND,
        "batches_acked_per_second": round(out.acked / wall, 1),
        "post_latency_p50_s": _percentile(out.latencies, 0.5),
        "post_latency_p99_s": p99,
        "errors": dict(out.errors),
        "aggregator_cpu_cores": round(cpu / wall, 2),
        "aggregator_peak_rss_mb": round(host.peak_rss),
        "mariadb_cpu_cores": round(db_cpu / wall, 2),
        "mariadb_rss_mb": round(_rss_mb(server.process.pid)),
        "driver_cpu_cores": round(driver_cpu / wall, 2),
        "load_average_before": round(load_before, 1),
        "billing_freshness_s": {
            "p50": _percentile(out.freshness, 0.5),
            "max": _percentile(out.freshness, 1.0),
        },
        "exact": [int(stored[0]), int(stored[1])] == out.billing and exit_code == 0,
        "held": bool(p99 is not None and p99 < HELD_P99 and errors == 0),
    }


async def sweep(
    version: str,
    counts: list[int],
    plan: Plan,
    stats: StatisticSet,
    server,
    work: Path,
    seconds: float,
    processes: int,
) -> list[dict]:
    rows = []
    for n in counts:
        row = await one_run(version, n, plan, stats, server, work, seconds, processes)
        print(json.dumps({"version": version, **row}), file=sys.stderr, flush=True)
        rows.append(row)
        if not row["held"]:
            break  # larger fleets will not be held either
    return rows


def _table(rows: dict[str, list[dict]]) -> str:
    """The fleet table as `make bench` prints it (the JSON has every figure)."""
    head = (
        "version   agents  p50 s   p99 s  errors  host cores  RSS MB  MariaDB cores  freshness max s"
        "  exact  held"
    )
    lines = [head, "-" * len(head)]
    for version, runs in rows.items():
        for r in runs:
            lines.append(
                f"{version:<8} {r['agents']:>7} {r['post_latency_p50_s'] or 0:>6.3f} "
                f"{r['post_latency_p99_s'] or 0:>7.3f} {sum(r['errors'].values()):>7} "
                f"{r['aggregator_cpu_cores']:>11.2f} {r['aggregator_peak_rss_mb']:>7} "
                f"{r['mariadb_cpu_cores']:>14.2f} {r['billing_freshness_s']['max'] or 0:>16.1f} "
                f"{'yes' if r['exact'] else 'NO':>6} {'yes' if r['held'] else 'no':>5}"
            )
    return "\n".join(lines)


def _held(rows: list[dict]) -> int:
    return max((r["agents"] for r in rows if r["held"] and r["exact"]), default=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="50,100,200,500,1000")
    parser.add_argument("--previous-agents", default="10,15,20,50")
    parser.add_argument("--seconds", type=float, default=65.0)
    parser.add_argument("--processes", type=int, default=2, help="this checkout's aggregator processes")
    args = parser.parse_args()
    machine = Machine.now()
    stats = load_statistic_set("cdn", load_formats(None), ROOT)
    with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
        work = Path(tmp)
        (work / "previous").mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", PREVIOUS, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(work / "previous")], input=archive.stdout, check=True)
        plans = _plans(stats, work)
        server = start_tuned_mariadb(work / "mariadb")
        try:
            counts = {"current": args.agents, "previous": args.previous_agents}
            rows = {
                version: asyncio.run(
                    sweep(
                        version,
                        [int(n) for n in counts[version].split(",")],
                        plans[version],
                        stats,
                        server,
                        work,
                        args.seconds,
                        args.processes,
                    )
                )
                for version in ("current", "previous")
            }
        finally:
            server.stop()
    print(_table(rows), file=sys.stderr, flush=True)
    held, held_before = _held(rows["current"]), _held(rows["previous"])
    write_result(
        "fleet",
        "python bench/fleet.py " + " ".join(sys.argv[1:]),
        machine,
        {
            "previous_commit": PREVIOUS,
            "seconds_per_run": args.seconds,
            "aggregator_processes": args.processes,
            "held_means": f"POST p99 under {HELD_P99} s, no error, exact totals",
            "delta_rows": {
                name: {s: f.height for s, f in plan.deltas.items()} for name, plan in plans.items()
            },
            "current": rows["current"],
            "previous": rows["previous"],
            "agents_held": held,
            "previous_agents_held": held_before,
            "ratio_vs_previous": round(held / held_before, 1) if held_before else None,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
