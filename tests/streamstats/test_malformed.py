"""Garbage mixed into a live log: truncated lines, binary noise, wrong field counts, non-numeric
numbers, absurd timestamps. Each is counted under its reason, nothing crashes, and the billing totals
of the good lines around them are exact."""

from __future__ import annotations

import random
import time

from streamstats import generate
from tests.streamstats.harness import Lab, file_totals, wait_until

START = int(time.time()) // 3600 * 3600 - 3600


def _garbage(rng: random.Random, good: list[bytes]) -> dict[str, list[bytes]]:
    def field(line: bytes, index: int, value: bytes) -> bytes:
        fields = line.rstrip(b"\n").split(b"\t")
        fields[index] = value
        return b"\t".join(fields) + b"\n"

    sample = rng.sample(good, 40)
    return {
        "field_count": [line[: rng.randrange(20, len(line) - 40)] + b"\n" for line in sample[:10]]
        + [b"\n", b"GET / HTTP/1.1\n", sample[10].rstrip(b"\n") + b"\tone more\n"],
        "invalid_number": [field(line, 9, b"12kB") for line in sample[11:16]] + [field(sample[16], 12, b"-")],
        "invalid_timestamp": [
            field(sample[17], 0, b"1.000"),
            field(sample[18], 0, b"32503680000.000"),
            field(sample[19], 0, b"2024-11-26T10:00:00"),
        ],
        # Binary noise never contains a newline here, so each piece is exactly one bad line.
        "binary": [
            bytes(rng.choice([*range(0, 10), *range(11, 256)]) for _ in range(rng.randrange(5, 300)))
            + b"\x00\n"
            for _ in range(8)
        ]
        + [b"\x00" * 512 + sample[20]],
    }


def test_garbage_is_rejected_by_reason_and_the_good_lines_are_exact(lab: Lab):
    rng = random.Random(7)
    log = lab.dir / "access.log"
    good_file = lab.dir / "good-lines-only.log"
    blocks = [
        b.splitlines(keepends=True)
        for b in generate.blocks(30_000, seed=71, start=START, rate=100, block=3_000)
    ]
    garbage = _garbage(rng, [line for block in blocks for line in block])
    bad_lines = [(reason, line) for reason, lines in garbage.items() for line in lines]
    rng.shuffle(bad_lines)
    aggregator = lab.aggregator()
    aggregator.start()
    log.touch()
    agent = lab.agent(aggregator, [str(log)])
    agent.start()
    with open(log, "ab") as handle, open(good_file, "wb") as good:
        for block in blocks:
            for line in block:
                if bad_lines and rng.random() < 0.002:
                    handle.write(bad_lines.pop()[1])
                handle.write(line)
                good.write(line)
            handle.flush()
            time.sleep(0.05)
        handle.write(b"".join(line for _, line in bad_lines))
    lab.wait_for_totals(file_totals([good_file]), timeout=90)
    errors = {reason: len(lines) for reason, lines in garbage.items()}
    wait_until(
        lambda: all(
            agent.metrics().get(f'streamstats_agent_parse_errors_total{{reason="{r}"}}') == n
            for r, n in errors.items()
        ),
        30,
        f"the rejects to be counted by reason: {errors}",
    )
    metrics = agent.metrics()
    assert metrics["streamstats_agent_lines_counted_total"] == 30_000
    assert metrics["streamstats_agent_lines_read_total"] == 30_000 + sum(errors.values())
    assert agent.process.poll() is None and aggregator.process.poll() is None
    assert "event=rejected_line" in agent.log.read_text()
