"""The agent in streaming mode: a real agent process catches up on a generated log while sending to a
real aggregator and MariaDB (all on this machine), with the default cdn statistics. Prints JSON: the
agent's CPU time per line, its peak RSS, and the aggregator's rows written.

    .venv/bin/python bench/agent_streaming.py [--lines 2000000] [--chunk 16MiB]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamstats import generate
from tests.mariadb import start_mariadb
from tests.streamstats.harness import Lab, Service, wait_until


def _proc(service: Service) -> tuple[float, float]:
    """CPU seconds and peak RSS (MB) of a service's process."""
    assert service.process is not None
    pid = service.process.pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    hwm = next(
        line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    return ticks / 100, int(hwm.split()[1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--chunk", default="16MiB")
    parser.add_argument("--batch-rows", type=int, default=100_000, help="the agent's max_batch_rows")
    args = parser.parse_args()
    start = int(time.time()) // 3600 * 3600 - 3600
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        server = start_mariadb(base / "mariadb")
        lab = Lab(base, server)
        try:
            log = base / "access.log"
            with open(log, "wb") as out:
                for block in generate.blocks(args.lines, seed=1, start=start, rate=1000):
                    out.write(block)
            aggregator = lab.aggregator(statistics="cdn")
            aggregator.start()
            aggregator.wait_healthy()
            settings = {"chunk_size": args.chunk, "max_batch_rows": args.batch_rows, "flush_interval": "5s"}
            agent = lab.agent(aggregator, [str(log)], statistics="cdn", **settings)
            agent.start()
            agent.wait_healthy()
            began = time.monotonic()
            wait_until(
                lambda: agent.metrics().get("streamstats_agent_lines_read_total") == args.lines,
                1800,
                "the agent to read everything",
                interval=0.5,
            )
            wall = time.monotonic() - began
            cpu, rss = _proc(agent)
            wait_until(lambda: agent.metrics()["streamstats_agent_batches_pending"] == 0, 300, "the last ack")
            written = sum(
                v
                for k, v in aggregator.metrics().items()
                if k.startswith("streamstats_aggregator_rows_written")
            )
        finally:
            lab.stop_all()
            server.stop()
    result = {
        "lines": args.lines,
        "chunk": args.chunk,
        "max_batch_rows": args.batch_rows,
        "agent_cpu_seconds": cpu,
        "agent_lines_per_cpu_second": round(args.lines / cpu),
        "agent_wall_seconds": round(wall, 1),
        "agent_peak_rss_mb": round(rss, 1),
        "aggregator_rows_written_so_far": int(written),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
