"""Resuming with a different position per statistic (what an aggregator crash leaves behind): the
agent opens each stream at the earliest, and every statistic counts exactly the lines after its own
position, across rename and copytruncate rotations."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
import yaml

from streamstats import generate, positions
from streamstats.agent import Agent
from streamstats.config import load
from streamstats.tail import Stream

STATS = ("alpha", "beta", "gamma", "delta")


def _statistics() -> dict:
    stat = {"keys": ["customer"], "bucket": "1m", "values": {"requests": "count"}, "flush_interval": "1s"}
    return {"format": "cdn", "statistics": [{**stat, "name": n, "retention": "1d"} for n in STATS]}


def _write_history(log: Path, rng: random.Random) -> tuple[list[tuple], int]:
    """A log with rotations; returns (position, lines before it) pairs seen by a reader, and the total."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    reader = Stream(str(log), [f"{{path}}.{n}" for n in range(1, 50)], rotate_wait=0.0)
    seen: list[tuple] = []
    lines = read = 0
    for block in range(24):
        data = generate.to_bytes(generate.frame(lines, rng.randint(50, 400), seed=3))
        os.write(fd, data)
        lines += data.count(b"\n")
        if reader.file is None:
            reader.start([], at_end=False)
        for _ in range(rng.randint(0, 6)):
            chunk = reader.read(rng.choice([2000, 20000, 1 << 20]))
            read += chunk.data.count(b"\n") if chunk else 0
            if reader.position() is not None:
                seen.append((reader.position(), read))
        if block % 3 == 2:
            names = sorted(log.parent.glob(log.name + ".*"), key=lambda p: int(p.suffix[1:]), reverse=True)
            for name in names:
                name.rename(f"{log}.{int(name.suffix[1:]) + 1}")
            if rng.random() < 0.5:
                log.rename(f"{log}.1")
                os.close(fd)
                fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            else:
                shutil.copyfile(log, f"{log}.1")
                os.truncate(log, 0)
    os.close(fd)
    reader.close()
    return seen, lines


@pytest.mark.parametrize("seed", range(6))
def test_each_statistic_counts_from_its_own_position(tmp_path: Path, seed: int):
    rng = random.Random(seed)
    log = tmp_path / "access.log"
    seen, total = _write_history(log, rng)
    config_path = tmp_path / "agent.yml"
    agent_section = {
        "id": "edge01",
        "files": [{"path": str(log), "rotated": [f"{{path}}.{n}" for n in range(1, 50)]}],
        "rotate_wait": "0s",
        "chunk_size": "64KiB",
    }
    config_path.write_text(yaml.safe_dump({"statistics": _statistics(), "agent": agent_section}))
    agent = Agent(load(config_path))
    chosen = {name: rng.choice(seen) for name in STATS}
    starts = {name: positions.to_json({str(log): pos}) for name, (pos, _) in chosen.items()}
    assert agent.resync(starts)
    agent.read_to_end()
    taken = agent.counters.take()
    for name, (_, before) in chosen.items():
        counted = taken[name]["requests"].sum()
        assert counted == total - before, name
