"""The whole pipeline on this machine: freshness, and catch-up after the aggregator was down.

    .venv/bin/python bench/pipeline.py [--seconds 150] [--rate 2000] [--backlog 2000000]

A private MariaDB tuned like roles/mysql_server, a real aggregator and a real agent (the default `cdn`
statistics, the default intervals: the agent sends every 5 s, the aggregator writes customer_traffic
every 30 s).

- freshness: lines are appended to the log at `--rate` per second in real time; twice a second one of
  them is a probe (customer "probe"). A poller reads the probe's count in stat_customer_traffic every
  0.1 s; a probe's freshness is the time from its write to its count being visible. p50/p99.
- catch-up: the aggregator is killed, `--backlog` lines are appended, the aggregator is started again;
  lines per second from its start until the agent has everything acknowledged, and until MySQL holds
  the exact totals of the file; the agent's CPU seconds and peak RSS meanwhile.

Writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, Machine, process_cpu_seconds, start_tuned_mariadb, write_result

from streamstats import generate
from tests.streamstats.harness import Lab, Service, file_totals, wait_until

# The agent's and aggregator's production defaults (the Lab's are sped up for tests).
AGENT = {
    "flush_interval": "5s",
    "poll_interval": "250ms",
    "rotate_wait": "5s",
    "rescan_interval": "10s",
    "chunk_size": "16MiB",
    "backoff": {"initial": "500ms", "max": "30s"},
    "request_timeout": "10s",
    "drain_timeout": "30s",
}
AGGREGATOR = {"flush_retry": {"initial": "1s", "max": "30s"}}
PROBE = "probe"


def _proc(service: Service) -> tuple[float, float]:
    """CPU seconds and peak RSS (MB) of a running service."""
    assert service.process is not None
    pid = service.process.pid
    hwm = next(
        line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    return process_cpu_seconds(pid), int(hwm.split()[1]) / 1024


def _probe_line(template: bytes, now: float) -> bytes:
    fields = template.split(b"\t")
    fields[0], fields[1] = f"{now:.3f}".encode(), PROBE.encode()
    return b"\t".join(fields)


class Writer(threading.Thread):
    """Appends `rate` lines a second in real time, two of them probes; remembers when each probe went."""

    def __init__(self, log: Path, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.log, self.rate, self.seconds = log, rate, seconds
        self.probes: list[float] = []

    def run(self) -> None:
        start = int(time.time()) + 1
        with open(self.log, "ab") as out:
            for second in range(int(self.seconds)):
                frame = generate.frame(second * self.rate, self.rate, seed=7, start=start, rate=self.rate)
                lines = generate.to_bytes(frame).splitlines(keepends=True)
                half = len(lines) // 2
                for n, part in enumerate((lines[:half], lines[half:])):
                    time.sleep(max(0.0, start + second + n / 2 - time.time()))
                    now = time.time()
                    out.write(b"".join(part) + _probe_line(part[0], now))
                    out.flush()
                    self.probes.append(now)


def freshness(lab: Lab, log: Path, rate: int, seconds: float) -> dict[str, object]:
    writer = Writer(log, rate, seconds)
    seen: list[float] = []
    writer.start()
    deadline = time.monotonic() + seconds + 120
    with lab.mariadb.connect(lab.database) as conn:
        while time.monotonic() < deadline and (writer.is_alive() or len(seen) < len(writer.probes)):
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT COALESCE(SUM(requests), 0) FROM stat_customer_traffic WHERE customer = %s",
                    (PROBE,),
                )
                count = int(cur.fetchone()[0])
            now = time.time()
            seen += [now] * (count - len(seen))
            time.sleep(0.1)
    ages = sorted(seen[i] - writer.probes[i] for i in range(len(seen)))
    quantile = statistics.quantiles(ages, n=100)
    return {
        "what": "a line written to the log -> its count visible in stat_customer_traffic "
        "(flush_interval 30s), agent flush_interval 5s",
        "probes": len(ages),
        "lines_per_second_written": rate,
        "p50_seconds": round(quantile[49], 2),
        "p99_seconds": round(quantile[98], 2),
        "max_seconds": round(ages[-1], 2),
        "bound_seconds": "one statistic flush interval (30) + the agent's lead before the slot (<= 1) "
        "+ reading and the transaction",
    }


def catch_up(lab: Lab, aggregator: Service, agent: Service, log: Path, backlog: int) -> dict[str, object]:
    aggregator.kill()
    start = int(time.time()) - 3600
    with open(log, "ab") as out:
        for block in generate.blocks(backlog, seed=9, start=start, rate=1000):
            out.write(block)
    expected = file_totals([log])
    cpu_before, _ = _proc(agent)
    aggregator.start()
    began = time.monotonic()

    def acknowledged_all() -> bool:
        # Lines read counts re-reads (the restarted aggregator makes the agent resync): the lag says.
        metrics = agent.metrics()
        names = ("lag_bytes", "unacked_bytes", "batches_pending")
        return all(metrics.get(f"streamstats_agent_{name}") == 0 for name in names)

    wait_until(acknowledged_all, 1800, "the agent to have everything acknowledged", interval=0.2)
    acknowledged = time.monotonic() - began
    cpu_after, rss = _proc(agent)
    lab.wait_for_totals(expected, timeout=600)
    visible = time.monotonic() - began
    return {
        "what": f"aggregator killed, {backlog} lines appended, aggregator started again",
        "backlog_lines": backlog,
        "seconds_to_acknowledged": round(acknowledged, 1),
        "lines_per_second_acknowledged": round(backlog / acknowledged),
        "seconds_to_exact_in_mysql": round(visible, 1),
        "lines_per_second_to_mysql": round(backlog / visible),
        "agent_cpu_seconds": round(cpu_after - cpu_before, 2),
        "agent_lines_per_cpu_second": round(backlog / max(0.01, cpu_after - cpu_before)),
        "agent_peak_rss_mb": round(rss, 1),
        "exact": True,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=150, help="how long lines are written for freshness")
    parser.add_argument("--rate", type=int, default=2000, help="lines per second written meanwhile")
    parser.add_argument("--backlog", type=int, default=2_000_000)
    args = parser.parse_args()
    machine = Machine.now()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        base = Path(tmp)
        server = start_tuned_mariadb(base / "mariadb")
        lab = Lab(base, server)
        try:
            log = base / "access.log"
            log.touch()
            aggregator = lab.aggregator(statistics="cdn", **AGGREGATOR)
            aggregator.start()
            aggregator.wait_healthy()
            agent = lab.agent(aggregator, [str(log)], statistics="cdn", **AGENT)
            agent.start()
            agent.wait_healthy()
            fresh = freshness(lab, log, args.rate, args.seconds)
            caught = catch_up(lab, aggregator, agent, log, args.backlog)
        finally:
            lab.stop_all()
            server.stop()
    command = " ".join(["bench/pipeline.py", *sys.argv[1:]])
    write_result("pipeline", command, machine, {"freshness": fresh, "catch_up": caught})
    return 0


if __name__ == "__main__":
    sys.exit(main())
