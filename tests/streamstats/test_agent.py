"""The agent as a process: one-shot mode (JSON or sent) equals streaming mode, SIGTERM drains,
backpressure bounds what it reads ahead while the aggregator is away, and it reports metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from streamstats import generate
from tests.streamstats.harness import TEST_STATISTICS, Lab, db_totals, file_totals, wait_until

START = int(time.time()) // 3600 * 3600 - 3 * 3600


def _log(lab: Lab, name: str, lines: int, seed: int) -> Path:
    path = lab.dir / name
    path.write_bytes(b"".join(generate.blocks(lines, seed=seed, start=START, rate=50)))
    return path


def _once_json(config: Path) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamstats.cli",
            "agent",
            "--config",
            str(config),
            "--once",
            "--output",
            "json",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def _json_totals(doc: dict) -> dict:
    return {
        (r["customer"], r["bucket"]): (r["requests"], r["bytes_sent"])
        for r in doc["statistics"]["customer_traffic"]
    }


def _table(lab: Lab, table: str, columns: str) -> set[tuple]:
    with lab.mariadb.connect(lab.database) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT UNIX_TIMESTAMP(bucket), {columns} FROM {table}")
        return {
            tuple(int(v) if isinstance(v, int | float) or str(v).isdigit() else v for v in row) for row in cur
        }


def test_once_equals_streaming_for_every_exact_statistic(lab: Lab):
    log = _log(lab, "access.log", 40_000, seed=21)
    doc = _once_json(lab.agent_config(None, [str(log)]))
    assert doc["lines"] == doc["counted"] == 40_000
    assert _json_totals(doc) == file_totals([log])

    aggregator = lab.aggregator()
    aggregator.start()
    agent = lab.agent(aggregator, [str(log)])
    agent.start()
    lab.wait_for_totals(file_totals([log]), timeout=60)
    wait_until(
        lambda: (
            _table(lab, "stat_customer_status", "customer, status_class, requests, bytes_sent")
            == {
                (r["bucket"], r["customer"], r["status_class"], r["requests"], r["bytes_sent"])
                for r in doc["statistics"]["customer_status"]
            }
        ),
        30,
        "customer_status to equal the one-shot output",
    )
    wait_until(
        lambda: (
            _table(
                lab,
                "stat_pop_cache",
                "pop, cache_status, requests, request_time_ms_sum, request_time_ms_count",
            )
            == {
                (
                    r["bucket"],
                    r["pop"],
                    r["cache_status"],
                    r["requests"],
                    r["request_time_ms_sum"],
                    r["request_time_ms_count"],
                )
                for r in doc["statistics"]["pop_cache"]
            }
        ),
        30,
        "pop_cache to equal the one-shot output",
    )


def test_once_sends_in_bounded_batches_and_two_agents_add_up(lab: Lab):
    logs = [_log(lab, f"edge{n}.log", 15_000, seed=30 + n) for n in (1, 2)]
    aggregator = lab.aggregator()
    aggregator.start()
    for n, log in enumerate(logs, 1):
        # Their counts exceed max_batch_rows: each sends several batches, one after the other.
        config = lab.agent_config(aggregator, [str(log)], id=f"edge0{n}", max_batch_rows=1000 * n)
        subprocess.run(
            [sys.executable, "-m", "streamstats.cli", "agent", "--config", str(config), "--once"],
            check=True,
            timeout=120,
            capture_output=True,
        )
    lab.wait_for_totals(file_totals(logs), timeout=60)
    assert aggregator.metrics()['streamstats_aggregator_batches_total{result="ok"}'] > 3


def test_sigterm_drains_agent_and_aggregator(lab: Lab):
    slow = {
        **TEST_STATISTICS,
        "statistics": [{**s, "flush_interval": "1h"} for s in TEST_STATISTICS["statistics"]],
    }
    log = _log(lab, "access.log", 20_000, seed=41)
    aggregator = lab.aggregator(statistics=slow)
    aggregator.start()
    agent = lab.agent(aggregator, [str(log)], statistics=slow, flush_interval="1h")
    agent.start()
    agent.wait_healthy()
    wait_until(
        lambda: agent.metrics().get("streamstats_agent_lines_counted_total") == 20_000,
        60,
        "the agent to count",
    )
    assert db_totals(lab.mariadb, lab.database) == {}  # nothing sent or written yet: only SIGTERM will
    assert agent.metrics()['streamstats_agent_parser_info{path="native"}'] == 1
    assert agent.stop() == 0
    assert aggregator.stop() == 0
    assert db_totals(lab.mariadb, lab.database) == file_totals([log])


def test_deltas_an_aggregator_lost_before_writing_them_are_read_again(lab: Lab):
    """An aggregator acknowledges deltas once it holds them and writes them at the statistic's slot. It
    dies in between; the agent has nothing new to send, so only its asking again (empty deltas, while
    the answer says they are unwritten) finds out: the restarted aggregator answers 409 and the agent
    re-reads the lost lines."""
    far = int(time.time() + 1800) % 3600  # this aggregator's write slots are half an hour away
    held = {
        **TEST_STATISTICS,
        "statistics": [
            {**s, "flush_interval": "1h", "flush_offset": f"{far}s"} for s in TEST_STATISTICS["statistics"]
        ],
    }
    log = _log(lab, "access.log", 2_000, seed=45)
    aggregator = lab.aggregator(statistics=held)
    aggregator.start()
    agent = lab.agent(aggregator, [str(log)])
    agent.start()
    agent.wait_healthy()
    wait_until(
        lambda: (
            agent.metrics().get("streamstats_agent_lines_counted_total") == 2_000
            and agent.metrics().get("streamstats_agent_unacked_bytes") == 0
        ),
        60,
        "the agent's deltas to be acknowledged",
    )
    assert aggregator.metrics()["streamstats_aggregator_pending_rows"] > 0
    aggregator.kill()
    assert db_totals(lab.mariadb, lab.database) == {}  # accepted, never written: lost with the process
    config = Path(aggregator.args[2])
    document = {**yaml.safe_load(config.read_text()), "statistics": TEST_STATISTICS}
    config.write_text(yaml.safe_dump(document, sort_keys=False))  # a statistic's values keep their order
    aggregator.start()
    lab.wait_for_totals(file_totals([log]), timeout=60)
    assert agent.metrics()["streamstats_agent_resyncs_total"] >= 1


def test_backpressure_bounds_reading_ahead_and_catches_up(lab: Lab):
    log = _log(lab, "access.log", 1_000, seed=51)
    aggregator = lab.aggregator()
    aggregator.start()
    agent = lab.agent(aggregator, [str(log)], max_unacked="4MiB", chunk_size="1MiB", catch_up_rate="40MiB")
    agent.start()
    lab.wait_for_totals(file_totals([log]), timeout=60)
    aggregator.kill()
    read_before = agent.metrics()["streamstats_agent_bytes_read_total"]
    with open(log, "ab") as handle:  # about 22 MB more while the aggregator is away
        handle.write(b"".join(generate.blocks(60_000, seed=51, first=1_000, start=START, rate=50)))
    wait_until(
        lambda: agent.metrics()["streamstats_agent_bytes_read_total"] > read_before, 30, "the agent to read"
    )
    time.sleep(2)  # it keeps retrying; the bound holds whatever it does meanwhile
    metrics = agent.metrics()
    assert metrics["streamstats_agent_bytes_read_total"] - read_before <= 4 * 2**20 + 2**20
    assert metrics["streamstats_agent_unacked_bytes"] <= 4 * 2**20 + 2**20
    assert metrics["streamstats_agent_lag_bytes"] > 15 * 2**20
    assert metrics["streamstats_agent_batches_pending"] == 1
    aggregator.start()
    lab.wait_for_totals(file_totals([log]), timeout=90)
    wait_until(lambda: agent.metrics()["streamstats_agent_lag_bytes"] == 0, 30, "the lag to reach 0")


def test_agent_metrics_and_health(lab: Lab):
    log = _log(lab, "access.log", 1_000, seed=61)
    with open(log, "ab") as handle:
        handle.write(b"garbage line\n")
    aggregator = lab.aggregator()
    aggregator.start()
    agent = lab.agent(aggregator, [str(log)])
    agent.start()
    agent.wait_healthy()
    wait_until(
        lambda: agent.metrics().get("streamstats_agent_lines_read_total") == 1_001, 30, "the agent to read"
    )
    metrics = agent.metrics()
    assert metrics['streamstats_agent_parse_errors_total{reason="field_count"}'] == 1
    wait_until(
        lambda: agent.metrics().get("streamstats_agent_batches_pending") == 0,
        30,
        "the batch to be acknowledged",
    )
    text = (lab.dir / agent.log.name).read_text()
    assert "event=rejected_line reason=field_count" in text
    names = {line.split()[2] for line in agent.metrics_text().splitlines() if line.startswith("# TYPE")}
    assert {
        "streamstats_agent_lines_read_total",
        "streamstats_agent_parse_errors_total",
        "streamstats_agent_batches_pending",
        "streamstats_agent_flush_seconds",
        "streamstats_agent_lag_bytes",
        "streamstats_agent_newest_line_timestamp_seconds",
    } <= names


def test_each_statistic_is_sent_at_its_own_cadence(lab: Lab):
    """The agent seals every 500 ms; customer_traffic is written every second, pop_cache every three:
    pop_cache's deltas go a third as often, and the billing totals stay exact."""
    aggregator = lab.aggregator()
    aggregator.start()
    log = lab.dir / "access.log"
    agent = lab.agent(aggregator, [str(log)])
    agent.start()
    for seed in range(12):
        with open(log, "ab") as out:
            out.write(b"".join(generate.blocks(500, seed=100 + seed, start=START + seed * 10, rate=50)))
        time.sleep(0.5)
    lab.wait_for_totals(file_totals([log]), timeout=60)
    metrics = aggregator.metrics()
    frequent = metrics['streamstats_aggregator_deltas_total{statistic="customer_traffic"}']
    rare = metrics['streamstats_aggregator_deltas_total{statistic="pop_cache"}']
    assert frequent >= 5 and rare <= frequent / 2


def test_version_1_and_version_2_agents_against_one_aggregator(lab: Lab):
    """A rollout: the aggregator speaks both; an agent not yet upgraded sends JSON, one upgraded Arrow."""
    old, new = _log(lab, "old.log", 20_000, seed=71), _log(lab, "new.log", 20_000, seed=72)
    aggregator = lab.aggregator()
    aggregator.start()
    lab.agent(aggregator, [str(old)], id="edge01", protocol=1).start()
    lab.agent(aggregator, [str(new)], id="edge02", protocol=2).start()
    totals = file_totals([old, new])
    lab.wait_for_totals(totals, timeout=90)
