"""Chaos: a million generated lines read by two agents while the agents and the aggregator processes
(two, behind the nginx balancer, over TLS: each agent routed to one, their sums merged) die by SIGKILL
at random moments, MariaDB crashes and restarts, and the log
rotates both ways (rename and copytruncate). Afterwards the billing table equals the totals computed
straight from the log files (twice: each agent counts every line), exactly, and so do its rollups."""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

from streamstats import generate
from tests.mariadb import MariaDB, start_mariadb
from tests.streamstats.harness import Lab, Service, checkpoints, db_totals, file_totals, rolled_up, wait_until

LINES = 1_000_000
BLOCK = 10_000
ROTATED = 60  # rotated names the agent knows; the writer never keeps more
START = int(time.time()) // 3600 * 3600 - 7200


class Writer(threading.Thread):
    """Appends the generated log block by block, like nginx with O_APPEND, and rotates it now and
    then the way logrotate does: by rename (the writer reopens) or by copytruncate (it does not)."""

    def __init__(self, path: Path, rng: random.Random, first: int) -> None:
        super().__init__(name="writer", daemon=True)
        self.path, self.rng, self.first = path, rng, first
        self.rotations: Counter[str] = Counter()
        self.error: BaseException | None = None

    def _shift(self) -> None:
        names = sorted(
            self.path.parent.glob(self.path.name + ".*"), key=lambda p: int(p.suffix[1:]), reverse=True
        )
        for name in names:
            name.rename(f"{self.path}.{int(name.suffix[1:]) + 1}")

    def _rotate(self, handle: int) -> int:
        self._shift()
        if self.rng.random() < 0.5:
            self.path.rename(f"{self.path}.1")
            os.close(handle)
            self.rotations["rename"] += 1
            return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        shutil.copyfile(self.path, f"{self.path}.1")
        os.truncate(self.path, 0)
        self.rotations["copytruncate"] += 1
        return handle

    def run(self) -> None:
        try:
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            rest = LINES - self.first
            blocks = generate.blocks(rest, seed=42, first=self.first, start=START, rate=5000, block=BLOCK)
            for i, block in enumerate(blocks):
                os.write(handle, block)
                if i % 4 == 3 and sum(self.rotations.values()) < ROTATED - 1:
                    handle = self._rotate(handle)
                time.sleep(self.rng.uniform(0.1, 0.7))
            os.close(handle)
        except BaseException as exc:  # reported by the test
            self.error = exc


def _chaos(services: dict[str, Service], db: MariaDB, writer: Writer, rng: random.Random) -> Counter[str]:
    survived: Counter[str] = Counter()
    while writer.is_alive():
        time.sleep(rng.uniform(0.4, 1.8))
        victim = rng.choices(
            ["agent-a", "agent-b", "aggregator-a", "aggregator-b", "mariadb"], [3, 3, 2, 2, 1]
        )[0]
        if victim == "mariadb":
            crash = rng.random() < 0.5
            db.restart(crash=crash)
            survived["mariadb crash" if crash else "mariadb restart"] += 1
            continue
        service = services[victim]
        service.kill()
        survived[f"{victim.split('-')[0]} SIGKILL"] += 1
        time.sleep(rng.uniform(0.0, 1.0))
        service.start()
    return survived


def test_exactly_once_through_kills_restarts_and_rotations(tmp_path: Path, record_property, capsys):
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "20241126")))
    db = start_mariadb(tmp_path / "mariadb")
    lab = Lab(tmp_path, db)
    log = tmp_path / "access.log"
    rotated = [f"{{path}}.{n}" for n in range(1, ROTATED + 1)]
    began = time.monotonic()
    try:
        aggregators = [lab.aggregator(), lab.aggregator()]
        balancer = lab.balancer(aggregators)
        files = [{"path": str(log), "rotated": rotated}]
        agents = [lab.agent(balancer, files, chunk_size="4MiB", id=name) for name in ("edge01", "edge02")]
        log.write_bytes(next(generate.blocks(BLOCK, seed=42, start=START, rate=5000)))
        for service in (*aggregators, balancer, *agents):
            service.start()
        # A new agent counts from the file that is current when it first starts: rotate only once both
        # have joined (their starting positions are committed).
        wait_until(lambda: len(checkpoints(db, lab.database)) == 8, 60, "the agents to join")
        writer = Writer(log, rng, first=BLOCK)
        writer.start()
        victims = dict(
            zip(["agent-a", "agent-b", "aggregator-a", "aggregator-b"], [*agents, *aggregators], strict=True)
        )
        survived = _chaos(victims, db, writer, rng)
        writer.join()
        assert writer.error is None, writer.error
        files = [log, *tmp_path.glob("access.log.*")]
        expected = file_totals(files)
        assert sum(r for r, _ in expected.values()) == LINES
        both = {key: (2 * r, 2 * b) for key, (r, b) in expected.items()}
        lab.wait_for_totals(both, timeout=120)
        for seconds, rollup in ((300, "stat_customer_traffic_5m"), (3600, "stat_customer_traffic_1h")):
            assert db_totals(db, lab.database, rollup) == rolled_up(both, seconds), rollup
        survived.update({f"{kind} rotation": n for kind, n in writer.rotations.items()})
        summary = ", ".join(f"{n} {what}" for what, n in sorted(survived.items()))
        message = f"chaos: {LINES} lines exact in MySQL after {summary} ({time.monotonic() - began:.0f} s)"
        record_property("chaos", summary)
        with capsys.disabled():
            print(f"\n{message}")
        assert survived["agent SIGKILL"] and survived["aggregator SIGKILL"]
        assert writer.rotations["rename"] and writer.rotations["copytruncate"]
    finally:
        lab.stop_all()
        db.stop()
