"""Agent throughput on one core: parse and count a generated cdn log with the full default statistic
set, as `streamstats agent --once --output json` does, and print JSON (lines/s of CPU time, peak RSS).

    .venv/bin/python bench/agent_throughput.py --lines 2000000 [--chunk 8MiB] [--statistics cdn]

The log is generated once into a cache directory (seeded, about 370 bytes a line). The run is pinned
to one CPU with POLARS_MAX_THREADS=1; CPU time is reported next to wall time because a shared machine
makes wall time noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from streamstats import generate


def _log(lines: int, seed: int) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cdn-infra" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"cdn-{lines}-{seed}.log"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            for block in generate.blocks(lines, seed=seed):
                out.write(block)
        tmp.rename(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", default="16MiB")
    parser.add_argument("--statistics", default="cdn")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin the agent to")
    args = parser.parse_args()
    log = _log(args.lines, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "agent.yml"
        agent = {"id": "bench", "files": [str(log)], "chunk_size": args.chunk}
        config.write_text(yaml.safe_dump({"statistics": args.statistics, "agent": agent}))
        command = ["taskset", "-c", str(args.cpu), sys.executable, "-m", "streamstats.cli", "agent"]
        command += ["--config", str(config), "--once", "--output", "json"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        env = {**os.environ, "POLARS_MAX_THREADS": "1"}
        done = subprocess.run(command, capture_output=True, check=True, env=env)
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = json.loads(done.stdout)
    result = {
        "lines": output["lines"],
        "bytes": log.stat().st_size,
        "bytes_per_line": round(log.stat().st_size / output["lines"], 1),
        "statistics": len(output["statistics"]),
        "chunk": args.chunk,
        "cpu_seconds": round(cpu, 2),
        "wall_seconds": round(wall, 2),
        "lines_per_cpu_second": round(output["lines"] / cpu),
        "lines_per_wall_second": round(output["lines"] / wall),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
