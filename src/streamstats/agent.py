"""The edge agent: follows access logs, counts them in RAM, sends deltas to the aggregator.

Each statistic's counters are a delta between two positions of the logs. On start (and whenever the
aggregator answers 409) the agent asks for its positions, one per statistic, and opens each stream at
the earliest of them; a statistic whose position lies further on waits until the reader reaches it,
so it never counts a line twice. Reads stop at a waiting statistic's offset, which makes "count this
chunk or not" a yes/no per statistic. Nothing on the edge has to survive a crash but the logs.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import random
import signal
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import polars as pl

from streamstats import positions
from streamstats.aggregate import Engine
from streamstats.client import AggregatorClient, AggregatorError
from streamstats.config import AgentConfig, Config, FileEntry
from streamstats.counters import Counters
from streamstats.httpserver import Response, serve
from streamstats.logs import event
from streamstats.metrics import Registry
from streamstats.native import chunk_parser
from streamstats.parse import TS, ParsedChunk
from streamstats.positions import FilePos
from streamstats.protocol import encode_batch, encode_batch_v2
from streamstats.slots import next_slot, until_slot
from streamstats.statistics import Statistic
from streamstats.tail import Chunk, Stream

log = logging.getLogger("streamstats.agent")
SAMPLE_EVERY = 10.0  # seconds between two logged samples of one reject reason
# Seconds before the aggregator's write slots that a batch is sent: each agent at its own point of this
# window, so that a fleet's sends spread over it; a line then waits at most a flush interval plus this.
SEND_LEAD = (0.2, 2.0)


class _Metrics:
    def __init__(self, registry: Registry) -> None:
        self.lines = registry.counter("streamstats_agent_lines_read_total", "Log lines read")
        self.counted = registry.counter("streamstats_agent_lines_counted_total", "Good lines counted")
        self.errors = registry.counter("streamstats_agent_parse_errors_total", "Lines rejected", ("reason",))
        self.bytes = registry.counter("streamstats_agent_bytes_read_total", "Log bytes consumed")
        self.batches = registry.counter("streamstats_agent_batches_total", "Batch sends", ("result",))
        self.pending = registry.gauge(
            "streamstats_agent_batches_pending", "Batches sealed and not acknowledged"
        )
        self.unacked = registry.gauge("streamstats_agent_unacked_bytes", "Bytes read and not acknowledged")
        self.flush_seconds = registry.histogram(
            "streamstats_agent_flush_seconds", "Latency of acknowledged sends"
        )
        self.lag = registry.gauge("streamstats_agent_lag_bytes", "Bytes written to the logs and not read yet")
        self.newest = registry.gauge(
            "streamstats_agent_newest_line_timestamp_seconds", "Timestamp of the newest line read"
        )
        self.rotations = registry.counter(
            "streamstats_agent_rotations_total", "Rotations followed", ("kind",)
        )
        self.lost = registry.counter(
            "streamstats_agent_checkpoints_lost_total", "Positions whose file was gone"
        )
        self.resyncs = registry.counter(
            "streamstats_agent_resyncs_total", "Restarts from the aggregator's positions"
        )
        self.parser = registry.gauge(
            "streamstats_agent_parser_info", "The parser in use: native or polars", ("path",)
        )


class _TokenBucket:
    """Bounds the reading rate (bytes/s) when catching up; 0 means unbounded."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.stamp = time.monotonic()

    def allows(self) -> bool:
        if not self.rate:
            return True
        now = time.monotonic()
        self.tokens = min(float(self.rate), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens > 0

    def spend(self, amount: int) -> None:
        if self.rate:
            self.tokens -= amount


@dataclass
class _Followed:
    stream: Stream
    constants: dict[str, str]
    waiting: dict[str, FilePos] = field(default_factory=dict)  # statistics ahead of the reader
    serial: int = -1
    here: dict[str, bool] = field(default_factory=dict)  # waiting statistic -> target in the open file


@dataclass
class _InFlight:
    seq: int
    body: bytes
    read_marks: dict[str, int]  # statistic -> bytes read when it was sealed
    attempts: int = 0
    next_try: float = 0.0


class Resync(Exception):
    """The aggregator's positions differ from ours: start again from them."""


class Agent:
    def __init__(self, config: Config) -> None:
        assert config.agent is not None
        self.cfg: AgentConfig = config.agent
        self.stats = config.statistics
        bounds = (self.cfg.timestamp_min, self.cfg.timestamp_max)
        self.parser, parser_path = chunk_parser(self.stats.format, bounds, self.cfg.parser)
        self.engine = Engine(self.stats)
        self.registry = Registry()
        self.metrics = _Metrics(self.registry)
        self.metrics.parser.set(1, path=parser_path)
        event(log, logging.INFO, "parser", path=parser_path, format=self.stats.format.name)
        self.run_id = uuid.uuid4().hex
        self.seq = 0
        self.client = AggregatorClient(
            self.cfg.aggregator_url, self.cfg.id, self.cfg.token, self.cfg.request_timeout, self.cfg.ca_file
        )
        self.followed: dict[str, _Followed] = {}
        self.counters = Counters(self.engine, self.parser)
        self.start_of: dict[str, dict[str, Any]] = {}  # statistic -> position JSON where its counts begin
        self.carried: dict[str, dict[str, Any]] = {}  # statistic -> positions of streams not followed
        self.inflight: _InFlight | None = None
        self.read_total = 0  # log bytes consumed since the last resync
        self.acked_marks: dict[str, int] = {}  # statistic -> read_total up to its acknowledged position
        self.next_due: dict[str, float] = {}  # statistic -> wall-clock slot of its next send
        self.bucket = _TokenBucket(self.cfg.catch_up_rate)
        self.stopping = threading.Event()
        self.last_tick = time.monotonic()
        self._sampled: dict[str, float] = {}
        self._jitter = random.random()  # this agent's place in the lead before each slot
        self.newest = 0.0  # the newest line's timestamp
        # Statistics whose acknowledged deltas the aggregator still held in RAM at its last answer:
        # sent again as empty deltas at their cadence, though nothing moved, until it says they are in
        # MySQL. If it died meanwhile, that empty delta gets a 409 and the agent re-reads what was lost.
        self.unwritten: set[str] = set()

    # --- streams -----------------------------------------------------------------------------------
    def _discover(self) -> dict[str, FileEntry]:
        found: dict[str, FileEntry] = {}
        for entry in self.cfg.files:
            paths = sorted(glob.glob(entry.path)) if glob.has_magic(entry.path) else [entry.path]
            for path in paths:
                found.setdefault(path, entry)
        rotated = {template.format(path=p) for p, e in found.items() for template in e.rotated}
        return {p: e for p, e in found.items() if p not in rotated}

    def _on_stream_event(self, kind: str, path: str) -> None:
        if kind == "lost":
            self.metrics.lost.inc()
        else:
            self.metrics.rotations.inc(kind=kind)

    def _follow(self, path: str, entry: FileEntry, at_end: bool) -> None:
        stream = Stream(path, list(entry.rotated), self.cfg.rotate_wait, self._on_stream_event)
        wanted = {
            name: positions.parse({path: start[path]})[path]
            for name, start in self.start_of.items()
            if path in start
        }
        lost = stream.start(sorted(set(wanted.values()), key=lambda p: p.offset), at_end)
        followed = _Followed(stream, dict(entry.fields))
        here = stream.position()
        for name, target in wanted.items():
            if target in lost:
                # Its file is gone: the oldest files go first, so it lay before the reader. Count from here.
                event(
                    log, logging.ERROR, "checkpoint_lost", stream=path, statistic=name, offset=target.offset
                )
            elif not (here and target.offset == here.offset and stream.current_matches(target)):
                followed.waiting[name] = target
        event(
            log,
            logging.INFO,
            "stream_resumed",
            stream=path,
            file=stream.file.path if stream.file else "-",
            offset=here.offset if here else 0,
            waiting=",".join(f"{n}@{t.ino}:{t.offset}" for n, t in sorted(followed.waiting.items())) or "-",
        )
        self.followed[path] = followed

    def _rescan(self) -> None:
        for path, entry in self._discover().items():
            if path not in self.followed:
                event(log, logging.INFO, "new_stream", stream=path)
                for carried in self.carried.values():
                    carried.pop(path, None)
                self._follow(path, entry, at_end=False)

    # --- positions ---------------------------------------------------------------------------------
    def _position(self, stat: Statistic) -> dict[str, Any]:
        out = dict(self.carried.get(stat.name, {}))
        for path, followed in self.followed.items():
            pos = followed.waiting.get(stat.name) or followed.stream.position()
            if pos is not None:
                out[path] = asdict(pos)
        return dict(sorted(out.items()))

    def _reset(self) -> None:
        for followed in self.followed.values():
            followed.stream.close()
        self.followed.clear()
        self.counters = Counters(self.engine, self.parser)
        self.inflight = None
        self.read_total = 0
        self.acked_marks = {s.name: 0 for s in self.stats.statistics}
        self.next_due = {s.name: 0.0 for s in self.stats.statistics}
        # The positions just fetched may be an aggregator's RAM, not MySQL: ask once.
        self.unwritten = {s.name for s in self.stats.statistics}

    def _fetch_positions(self) -> dict[str, dict[str, Any]] | None:
        attempt = 0
        while not self.stopping.is_set():
            try:
                answer = self.client.positions(self.cfg.id)
                return self._check_positions(answer)
            except (AggregatorError, ValueError) as exc:
                attempt += 1
                event(log, logging.WARNING, "positions_unavailable", error=str(exc), attempt=attempt)
                self.stopping.wait(self._backoff(attempt))
        return None

    def _check_positions(self, answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
        theirs = answer.get("statistics", {})
        out = {}
        for stat in self.stats.statistics:
            entry = theirs.get(stat.name)
            if entry is None:
                raise ValueError(f"the aggregator does not know the statistic {stat.name}")
            if entry.get("fingerprint") != stat.fingerprint:
                raise ValueError(f"the aggregator defines {stat.name} differently (configuration rollout?)")
            raw = json.loads(entry["position"])
            positions.parse(raw)
            out[stat.name] = raw
        return out

    def resync(self, starts: dict[str, dict[str, Any]] | None = None) -> bool:
        """Open every stream at the positions the aggregator holds (or `starts`); False when stopping."""
        self._reset()
        if starts is None:
            starts = self._fetch_positions()
            if starts is None:
                return False
        self.start_of = starts
        fresh = not any(starts.values())
        discovered = self._discover()
        for path, entry in discovered.items():
            self._follow(path, entry, at_end=fresh and self.cfg.start_at == "end")
        self.carried = {
            name: {p: v for p, v in start.items() if p not in discovered} for name, start in starts.items()
        }
        if fresh:
            # A new agent's starting point is "the current files": commit it before anything else, so
            # that a restart after a rotation resumes there instead of starting afresh.
            self.inflight = self.seal()
        event(log, logging.INFO, "resumed", streams=len(self.followed), run=self.run_id, fresh=fresh)
        return True

    # --- reading -----------------------------------------------------------------------------------
    def _entered_file(self, followed: _Followed) -> None:
        stream = followed.stream
        followed.serial = stream.serial
        followed.here = {name: stream.current_matches(t) for name, t in followed.waiting.items()}
        if stream.file is None or not stream.file.live or stream.file.offset:
            return
        chain = stream.chain()
        for name, target in list(followed.waiting.items()):
            if not followed.here[name] and stream.locate(target, chain) is None:
                # Its file vanished while it waited: start it with the live file, which comes after.
                event(log, logging.ERROR, "checkpoint_lost", stream=stream.path, statistic=name)
                self.metrics.lost.inc()
                del followed.waiting[name]

    def _limit(self, followed: _Followed) -> int | None:
        """Activate the waiting statistics the reader has reached; the next of them caps the read."""
        if not followed.waiting:
            return None
        if followed.serial != followed.stream.serial:
            self._entered_file(followed)
        here = followed.stream.position()
        limit = None
        for name, target in list(followed.waiting.items()):
            if here is None or not followed.here.get(name):
                continue
            if target.offset <= here.offset:
                stream = followed.stream.path
                event(
                    log, logging.INFO, "statistic_resumed", statistic=name, stream=stream, offset=here.offset
                )
                del followed.waiting[name]
            else:
                limit = target.offset if limit is None else min(limit, target.offset)
        return limit

    def _log_sample(self, reason: str, chunk: Chunk, sample: str) -> None:
        now = time.monotonic()
        if now - self._sampled.get(reason, -SAMPLE_EVERY) >= SAMPLE_EVERY:
            self._sampled[reason] = now
            event(
                log,
                logging.WARNING,
                "rejected_line",
                reason=reason,
                stream=chunk.stream,
                offsets=f"{chunk.start.offset}-{chunk.end.offset}",
                sample=repr(sample)[:200],
            )

    def _count(self, followed: _Followed, chunk: Chunk) -> ParsedChunk | None:
        size = chunk.end.offset - chunk.start.offset
        self.read_total += size
        self.bucket.spend(size)
        self.metrics.bytes.inc(size)
        if not chunk.data:
            self.metrics.lines.inc()
            self.metrics.errors.inc(reason=chunk.skipped)
            self._log_sample(chunk.skipped, chunk, f"{size} bytes")
            return None
        parsed = self.counters.parse(chunk.data)
        active = [s for s in self.stats.statistics if s.name not in followed.waiting]
        self.counters.add(parsed.frame, active, followed.constants, parsed.codes)
        self.metrics.lines.inc(parsed.lines)
        self.metrics.counted.inc(parsed.good)
        for reason, count in parsed.rejected.items():
            self.metrics.errors.inc(count, reason=reason)
            self._log_sample(reason, chunk, parsed.samples.get(reason, ""))
        if parsed.good:
            self.newest = max(self.newest, float(parsed.frame[TS].max()))  # type: ignore[arg-type]
            self.metrics.newest.set(self.newest)
        return parsed

    def batch_full(self) -> bool:
        """The counts since the last batch hold enough rows: send them before reading on (a catch-up
        spanning hours of log would otherwise pile up every minute's keys in RAM)."""
        return self.counters.rows >= self.cfg.max_batch_rows

    def read_some(self) -> bool:
        """One chunk from each stream that has one; False when there was nothing to read (a stream
        that just moved on to its next file counts as progress)."""
        progressed = False
        for followed in self.followed.values():
            if self.unacked >= self.cfg.max_unacked or self.batch_full() or not self.bucket.allows():
                break
            serial = followed.stream.serial
            chunk = followed.stream.read(self.cfg.chunk_size, self._limit(followed))
            if chunk is not None:
                self._count(followed, chunk)
            progressed = progressed or chunk is not None or followed.stream.serial != serial
        return progressed

    # --- sending -----------------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        delay = min(self.cfg.backoff.max, self.cfg.backoff.initial * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    @property
    def unacked(self) -> int:
        """Bytes read past the oldest acknowledged position of any statistic."""
        return self.read_total - min(self.acked_marks.values(), default=self.read_total)

    def _cadence(self, stat: Statistic) -> float:
        """A statistic is sent before each of its own write slots, not at every one of the agent's."""
        return max(self.cfg.flush_interval, stat.flush_interval)

    def due(self) -> list[Statistic]:
        """The statistics whose write slot comes before the agent's next one; all of them when the
        counts or the unacknowledged bytes grow too large to wait."""
        if self.batch_full() or self.unacked >= self.cfg.max_unacked:
            return list(self.stats.statistics)
        horizon = time.time() + self.cfg.flush_interval / 2
        return [s for s in self.stats.statistics if self.next_due[s.name] <= horizon]

    def seal(self, due: list[Statistic] | None = None, ask_unwritten: bool = False) -> _InFlight | None:
        """The counts of the `due` statistics (all by default) as a new batch; None when none moved
        (and, with `ask_unwritten`, none is among the unwritten ones to ask about again)."""
        due = list(self.stats.statistics) if due is None else due
        counts = self.counters.take(s.name for s in due)
        horizon = time.time() + self.cfg.flush_interval / 2
        deltas = []
        for stat in due:
            cadence = self._cadence(stat)
            self.next_due[stat.name] = next_slot(horizon, cadence, stat.flush_offset)
            deltas.append((stat, self.start_of[stat.name], self._position(stat), counts[stat.name]))
        asking = ask_unwritten and bool(self.unwritten & {s.name for s in due})
        if all(start == end for _, start, end, _ in deltas) and not asking:
            for stat, *_ in deltas:
                self.acked_marks[stat.name] = self.read_total  # nothing moved: nothing to acknowledge
            return None
        self.seq += 1
        for stat, _, end, _ in deltas:
            self.start_of[stat.name] = end
        encode = encode_batch_v2 if self.cfg.protocol == 2 else encode_batch
        body = encode(self.cfg.id, self.run_id, self.seq, deltas)
        self.metrics.pending.set(1)
        return _InFlight(self.seq, body, {stat.name: self.read_total for stat, *_ in deltas})

    def send(self, batch: _InFlight) -> bool:
        """One attempt; True when acknowledged. Raises Resync on a position conflict."""
        began = time.monotonic()
        try:
            answer = self.client.post_batch(batch.body, self.cfg.protocol)
        except AggregatorError as exc:
            if exc.status == 409:
                self.metrics.batches.inc(result="conflict")
                event(log, logging.WARNING, "resync", seq=batch.seq, detail=exc.detail)
                raise Resync from exc
            batch.attempts += 1
            batch.next_try = time.monotonic() + self._backoff(batch.attempts)
            self.metrics.batches.inc(result="error")
            level = logging.ERROR if exc.status in (401, 403, 413, 422) else logging.WARNING
            event(
                log,
                level,
                "send_failed",
                seq=batch.seq,
                attempt=batch.attempts,
                error=str(exc),
                detail=exc.detail,
            )
            return False
        self.metrics.flush_seconds.observe(time.monotonic() - began)
        self.metrics.batches.inc(result="ok")
        self.metrics.pending.set(0)
        self.acked_marks.update(batch.read_marks)
        # An aggregator older than this answer's field: nothing to ask again.
        self.unwritten = set(answer.get("unwritten", ()))
        return True

    def _until_send(self) -> float:
        """Batches go out just before the wall-clock slots where the aggregator writes (a multiple of
        the flush interval), each agent at its own point of SEND_LEAD so that a fleet spreads its sends."""
        interval = self.cfg.flush_interval
        low, high = SEND_LEAD
        return until_slot(interval, min(low + (high - low) * self._jitter, interval * 0.4))

    def _send_due(self, now: float, next_seal: float) -> float:
        """Seal and send when it is time; returns the next sealing time."""
        if self.inflight is None:
            if now < next_seal and not self.batch_full():
                return next_seal
            self.inflight = self.seal(self.due(), ask_unwritten=True)
            next_seal = now + self._until_send()
        if self.inflight is not None and now >= self.inflight.next_try and self.send(self.inflight):
            self.inflight = None
        return next_seal

    def _update_gauges(self) -> None:
        self.metrics.lag.set(sum(f.stream.lag_bytes() for f in self.followed.values()))
        self.metrics.unacked.set(self.unacked)

    # --- service -----------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        age = time.monotonic() - self.last_tick
        ok = age < max(30.0, 3 * self.cfg.request_timeout)
        return ok, {"loop_age_seconds": round(age, 1), "unacked_bytes": self.unacked, "run": self.run_id}

    def _drain(self) -> bool:
        """Send what is counted (after the batch in flight) until acknowledged or the deadline."""
        deadline = time.monotonic() + self.cfg.drain_timeout
        while time.monotonic() < deadline:
            if self.inflight is None:
                self.inflight = self.seal()
                if self.inflight is None:
                    return True
            try:
                if self.send(self.inflight):
                    self.inflight = None
                    continue
            except Resync:
                return False  # nothing is lost: the next start re-reads from the aggregator's positions
            time.sleep(max(0.0, min(self.inflight.next_try, deadline) - time.monotonic()))
        return False

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        if self.cfg.listen:
            serve(
                self.cfg.listen, lambda r: Response(404, {"error": "not found"}), self.registry, self.health
            )
        if not self.resync():
            return 0
        next_seal = time.monotonic() + self._until_send()
        next_rescan = next_gauges = time.monotonic()
        while not self.stopping.is_set():
            now = self.last_tick = time.monotonic()
            try:
                progressed = self.read_some()
                next_seal = self._send_due(now, next_seal)
            except Resync:
                self.metrics.resyncs.inc()
                if not self.resync():
                    break
                continue
            if now >= next_rescan:
                self._rescan()
                next_rescan = now + self.cfg.rescan_interval
            if now >= next_gauges:
                self._update_gauges()
                next_gauges = now + 1.0
            if not progressed:
                self.stopping.wait(self.cfg.poll_interval)
        event(log, logging.INFO, "draining", run=self.run_id)
        drained = self._drain()
        for followed in self.followed.values():
            followed.stream.close()
        event(log, logging.INFO, "stopped", drained=drained)
        return 0

    # --- one-shot ----------------------------------------------------------------------------------
    def read_to_end(self) -> None:
        while not self.stopping.is_set() and self.read_some():
            pass

    def run_once(self, output: TextIO | None) -> int:
        """Read the files to their end, then print the statistics (`output`) or send them."""
        if output is not None:
            self.resync({s.name: {} for s in self.stats.statistics})
            self.read_to_end()
            lines, counted = int(self.metrics.lines.get()), int(self.metrics.counted.get())
            output.write(f'{{"lines":{lines},"counted":{counted},"statistics":{{')
            counts = self.counters.take()
            for n, stat in enumerate(self.stats.statistics):
                output.write(f"{',' if n else ''}{json.dumps(stat.name)}:")
                _write_rows(counts.pop(stat.name).sort(list(stat.columns)), output)
            output.write("}}\n")
            return 0
        if not self.resync():
            return 1
        try:
            while True:  # batches of at most max_batch_rows, each acknowledged before reading on
                before = self.metrics.bytes.get()
                self.read_to_end()
                if not self._drain():
                    return 1
                if self.metrics.bytes.get() == before:
                    return 0
        finally:
            for followed in self.followed.values():
                followed.stream.close()


def _write_rows(frame: pl.DataFrame, output: TextIO, rows: int = 20_000) -> None:
    """A table as one JSON array of objects, written by polars a slice at a time (the text of a whole
    table at once would be the run's peak of memory)."""
    output.write("[")
    for start in range(0, frame.height, rows):
        text = frame.slice(start, rows).write_json()
        output.write(("," if start else "") + text[1:-1])
    output.write("]")


def agent_main(config: Config, once: bool, output_json: bool) -> int:
    if once:
        # Read everything now: no waiting for rotated files to settle, no bound on what is unacknowledged;
        # printed statistics stay in RAM until the end.
        assert config.agent is not None
        agent_cfg = dataclasses.replace(config.agent, rotate_wait=0.0, catch_up_rate=0, max_unacked=2**62)
        if output_json:
            agent_cfg = dataclasses.replace(agent_cfg, max_batch_rows=2**62)
        agent = Agent(dataclasses.replace(config, agent=agent_cfg))
        return agent.run_once(sys.stdout if output_json else None)
    return Agent(config).run()
