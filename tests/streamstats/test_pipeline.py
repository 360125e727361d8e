"""Agent and aggregator as real processes, a real MariaDB: the billing totals in MySQL equal the
totals computed straight from the log files."""

from __future__ import annotations

import time

from streamstats import generate
from tests.streamstats.harness import Lab, file_totals

NOW = int(time.time()) // 60 * 60 - 3600


def test_lines_written_while_running_arrive_exactly_once(lab: Lab):
    log = lab.dir / "access.log"
    log.write_bytes(b"".join(generate.blocks(20_000, seed=11, start=NOW)))
    aggregator = lab.aggregator()
    aggregator.start()
    aggregator.wait_healthy()
    agent = lab.agent(aggregator, [str(log)])
    agent.start()
    agent.wait_healthy()
    with open(log, "ab") as handle:
        for block in generate.blocks(30_000, seed=11, first=20_000, start=NOW, block=5_000):
            handle.write(block)
            handle.flush()
            time.sleep(0.1)
    lab.wait_for_totals(file_totals([log]), timeout=60)
    assert agent.stop() == 0
    assert aggregator.stop() == 0
