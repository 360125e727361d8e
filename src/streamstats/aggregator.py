"""The aggregator: receives agents' batches over HTTP, merges them in RAM and writes each statistic to
MySQL at its own flush interval, counters and checkpoints in one transaction (see sink.py).

In RAM, per agent and statistic: the position up to which deltas were accepted (`known`); per
statistic, the accepted deltas summed over all agents with each agent's chain of positions
(streamstats.pending). A batch is accepted only if it starts where `known` stands, so each chain is one
contiguous run of the agent's log; a resend of what was accepted already is acknowledged without
applying it; anything else is a 409 and the agent re-reads from its positions. The answer names the
statistics of which the agent's accepted deltas are still held here (not in MySQL yet): the agent keeps
asking about those, with empty deltas, until they are written, so that it finds out when they are lost.

A write that failed may or may not have committed: its generation is kept sealed, new deltas go to a
fresh one, and the next attempt finds out from the checkpoints. If another writer moved a checkpoint
(the agent was routed to another aggregator meanwhile), the statistic's sums cannot be split by agent:
they are dropped and all their agents re-read from MySQL, which keeps the totals exact.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pymysql

from streamstats.config import AGENT_ID, AggregatorConfig, Config
from streamstats.credentials import Credentials, may_write
from streamstats.httpserver import Request, Response, serve, server_tls
from streamstats.logs import event
from streamstats.metrics import Registry
from streamstats.pending import COMPACT_PARTS, Chain, Overflow, Pending, merged_parts
from streamstats.protocol import Batch, InvalidBatch, decode_batch, decode_batch_v2, decompress
from streamstats.schema import migrate
from streamstats.sink import INITIAL_POSITION, connect, delete_expired, load_positions, write_statistic
from streamstats.slots import until_slot
from streamstats.statistics import Statistic

log = logging.getLogger("streamstats.aggregator")

_AGENT_POSITIONS = "/v1/agents/"
# Batches read, decoded and applied at once per process; the others wait, unread, in arrival order. A
# fleet's burst then holds a few bodies in memory at a time instead of one per connection, and the
# interpreter is not shared among hundreds of threads that would all finish late. A body must arrive
# within client_timeout in all (nginx in front buffers whole bodies first). Position requests do not
# wait here.
DECODE_SLOTS = 4
_DECODERS = {"/v1/batches": decode_batch, "/v2/batches": decode_batch_v2}


@dataclass
class _StatState:
    stat: Statistic
    table: str
    current: Pending = field(init=False)
    sealed: Pending | None = None  # a write that failed: committed or not, the checkpoints will tell
    next_flush: float = 0.0
    failures: int = 0

    def __post_init__(self) -> None:
        self.current = Pending(self.stat)

    @property
    def rows(self) -> int:
        return self.current.rows + (self.sealed.rows if self.sealed else 0)

    def holds(self, agent: str) -> bool:
        """Whether deltas of `agent` wait here to be written."""
        return agent in self.current.chains or (self.sealed is not None and agent in self.sealed.chains)

    @property
    def empty(self) -> bool:
        return not self.current.chains and self.sealed is None


class _Metrics:
    def __init__(self, registry: Registry) -> None:
        self.batches = registry.counter(
            "streamstats_aggregator_batches_total", "Batches received", ("result",)
        )
        self.rows_received = registry.counter(
            "streamstats_aggregator_rows_received_total", "Counter rows received"
        )
        self.deltas = registry.counter(
            "streamstats_aggregator_deltas_total", "Statistics' deltas accepted", ("statistic",)
        )
        self.rows_written = registry.counter(
            "streamstats_aggregator_rows_written_total", "Rows upserted into MySQL", ("statistic",)
        )
        self.flush_seconds = registry.histogram(
            "streamstats_aggregator_flush_seconds",
            "Duration of a statistic's MySQL transaction",
            ("statistic",),
        )
        self.flush_errors = registry.counter(
            "streamstats_aggregator_flush_errors_total", "Failed MySQL transactions", ("statistic",)
        )
        self.conflicts = registry.counter(
            "streamstats_aggregator_conflicts_total", "Agent data dropped because its checkpoint moved"
        )
        self.overflows = registry.counter(
            "streamstats_aggregator_overflow_refused_total",
            "Batches refused because a sum would reach 2^62",
            ("statistic",),
        )
        self.quarantined = registry.counter(
            "streamstats_aggregator_rows_quarantined_total",
            "Rows set aside because a stored counter would overflow",
            ("statistic",),
        )
        self.pending_rows = registry.gauge(
            "streamstats_aggregator_pending_rows", "Rows waiting to be written"
        )
        self.deleted = registry.counter(
            "streamstats_aggregator_rows_expired_total", "Rows deleted past retention", ("statistic",)
        )
        self.db_up = registry.gauge(
            "streamstats_aggregator_mysql_up", "1 when the last MySQL operation worked"
        )


class Aggregator:
    def __init__(self, config: Config) -> None:
        assert config.aggregator is not None
        self.cfg: AggregatorConfig = config.aggregator
        self.stats = config.statistics
        self.registry = Registry()
        self.metrics = _Metrics(self.registry)
        self.credentials = Credentials(self.cfg.tokens, self.cfg.credentials_file)
        self._lock = threading.Lock()
        self._states = {s.name: _StatState(s, self.cfg.table_prefix + s.name) for s in self.stats.statistics}
        self._known: dict[tuple[str, str], str] = {}
        self._stale: set[tuple[str, str]] = set()  # dropped by a conflict: reload from MySQL first
        self._stop = threading.Event()
        self._draining = False
        self._conn: pymysql.connections.Connection | None = None
        self._positions_conn: pymysql.connections.Connection | None = None
        self._positions_lock = threading.Lock()
        self._decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)

    # --- HTTP ------------------------------------------------------------------------------------------
    def route(self, request: Request) -> Response:
        identity = self.credentials.identify(request.headers.get("Authorization") or "", time.monotonic())
        if identity is None:
            return Response(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
        if request.method == "POST" and request.path in _DECODERS:
            return self._post_batch(request, identity)
        if (
            request.method == "GET"
            and request.path.startswith(_AGENT_POSITIONS)
            and request.path.endswith("/positions")
        ):
            agent = request.path[len(_AGENT_POSITIONS) : -len("/positions")]
            if not may_write(identity, agent):
                return self._forbidden(identity, agent)
            return self._get_positions(agent)
        return Response(404, {"error": "not found"})

    def _forbidden(self, identity: str, agent: str) -> Response:
        self.metrics.batches.inc(result="forbidden")
        event(log, logging.WARNING, "forbidden", credential=identity, agent=agent)
        return Response(403, {"error": f"this credential belongs to agent {identity}, not {agent}"})

    def _refusal(self) -> Response | None:
        """Why no batch can be taken now, before its body is read."""
        if self._draining:
            return Response(503, {"error": "draining"}, {"Retry-After": "5"})
        if self.pending_rows() > self.cfg.max_pending_rows:
            self.metrics.batches.inc(result="busy")
            return Response(503, {"error": "too many pending rows"}, {"Retry-After": "5"})
        return None

    def _post_batch(self, request: Request, identity: str) -> Response:
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        with self._decode_slots:
            return self._read_and_apply(request, identity)

    def _read_and_apply(self, request: Request, identity: str) -> Response:
        body = request.read_body(self.cfg.max_body)
        if body is None:
            self.metrics.batches.inc(result="too_large")
            return Response(413, {"error": f"body larger than {self.cfg.max_body} bytes"})
        try:
            data = decompress(body, request.headers.get("Content-Encoding") or "", self.cfg.max_body)
            batch = _DECODERS[request.path](data, self.stats)
        except OverflowError as exc:
            self.metrics.batches.inc(result="too_large")
            return Response(413, {"error": str(exc)})
        except InvalidBatch as exc:
            self.metrics.batches.inc(result="invalid")
            event(log, logging.WARNING, "invalid_batch", detail=str(exc))
            return Response(422, {"error": "invalid", "detail": str(exc)})
        if not may_write(identity, batch.agent):
            return self._forbidden(identity, batch.agent)
        return self._apply(batch)

    def _load_known(self, agent: str, names: list[str]) -> None:
        """Positions from MySQL for pairs not in RAM (after a start or a conflict)."""
        with self._lock:
            missing = [n for n in names if (agent, n) not in self._known or (agent, n) in self._stale]
        if not missing:
            return
        with self._positions_lock:  # one connection for these short reads, kept open
            try:
                if self._positions_conn is None or not self._positions_conn.open:
                    self._positions_conn = connect(self.cfg.mysql)
                stored = load_positions(self._positions_conn, agent)
            except (pymysql.MySQLError, OSError):
                self._positions_conn = None
                raise
        with self._lock:
            for name in missing:
                if (agent, name) in self._stale or (agent, name) not in self._known:
                    self._known[(agent, name)] = stored.get(name, INITIAL_POSITION)
                    self._stale.discard((agent, name))

    def _classify(self, batch: Batch) -> tuple[list, list[str], list[str]]:
        """The batch's deltas as fresh, resent and conflicting (under the lock)."""
        fresh, resent, conflicts = [], [], []
        for delta in batch.deltas:
            key = (batch.agent, delta.statistic.name)
            known = self._known[key]
            if key not in self._stale and delta.start == known:
                fresh.append(delta)
            elif key not in self._stale and delta.end == known:
                resent.append(delta.statistic.name)  # accepted before; its answer was lost
            else:
                conflicts.append(delta.statistic.name)
        return fresh, resent, conflicts

    def _apply(self, batch: Batch) -> Response:
        try:
            self._load_known(batch.agent, [d.statistic.name for d in batch.deltas])
        except (pymysql.MySQLError, OSError) as exc:
            return Response(503, {"error": "mysql unavailable", "detail": str(exc)}, {"Retry-After": "5"})
        with self._lock:
            fresh, resent, conflicts = self._classify(batch)
            if conflicts:
                # What this process knew may be old (another process wrote since): the agent's next
                # positions come from MySQL, unless deltas are held here (they chain on `known`).
                for name in conflicts:
                    if not self._states[name].holds(batch.agent):
                        self._stale.add((batch.agent, name))
                self.metrics.batches.inc(result="conflict")
                event(
                    log,
                    logging.WARNING,
                    "position_conflict",
                    agent=batch.agent,
                    seq=batch.seq,
                    stats=",".join(conflicts),
                )
                return Response(409, {"error": "position mismatch", "statistics": conflicts})
            moving = [d for d in fresh if d.start != d.end]
            try:  # all or nothing: check every delta before adding any
                for delta in moving:
                    self._states[delta.statistic.name].current.check(delta.rows, delta.peak)
            except Overflow as exc:
                return self._refuse_overflow(batch, exc)
            for delta in fresh:
                self._known[(batch.agent, delta.statistic.name)] = delta.end
            for delta in moving:
                chain = Chain(delta.start, delta.end, batch.run, batch.seq)
                self._states[delta.statistic.name].current.add(batch.agent, chain, delta.rows, delta.peak)
                self.metrics.deltas.inc(statistic=delta.statistic.name)
            self.metrics.rows_received.inc(sum(d.rows.height for d in moving))
            # What of this agent is accepted but not in MySQL yet: lost if this process dies, so the
            # agent asks again until it is written (an idle agent would otherwise never find out).
            unwritten = sorted(name for name, state in self._states.items() if state.holds(batch.agent))
        self.metrics.batches.inc(result="resent" if resent and not fresh else "ok")
        return Response(200, {"status": "ok", "seq": batch.seq, "resent": resent, "unwritten": unwritten})

    def _refuse_overflow(self, batch: Batch, exc: Overflow) -> Response:
        names = [d.statistic.name for d in batch.deltas]
        for name in names:
            self.metrics.overflows.inc(statistic=name)
        self.metrics.batches.inc(result="overflow")
        event(log, logging.ERROR, "overflow_refused", agent=batch.agent, seq=batch.seq, detail=str(exc))
        return Response(422, {"error": "invalid", "detail": f"counters would overflow: {exc}"})

    def _get_positions(self, agent: str) -> Response:
        if not AGENT_ID.match(agent):
            return Response(422, {"error": "invalid agent id"})
        names = [s.name for s in self.stats.statistics]
        try:
            self._load_known(agent, names)
        except (pymysql.MySQLError, OSError) as exc:
            return Response(503, {"error": "mysql unavailable", "detail": str(exc)}, {"Retry-After": "5"})
        with self._lock:
            out = {
                s.name: {"fingerprint": s.fingerprint, "position": self._known[(agent, s.name)]}
                for s in self.stats.statistics
            }
        return Response(200, {"agent": agent, "statistics": out})

    def pending_rows(self) -> int:
        return sum(state.rows for state in self._states.values())

    # --- writing ---------------------------------------------------------------------------------------
    def _db(self) -> pymysql.connections.Connection:
        if self._conn is None or not self._conn.open:
            self._conn = connect(self.cfg.mysql)
        return self._conn

    def _flush(self, state: _StatState) -> None:
        """Write the sealed generation (a failed write's) or else the current one."""
        with self._lock:
            if state.sealed is None:
                if not state.current.chains:
                    return
                state.sealed, state.current = state.current, Pending(state.stat)
            sealed = state.sealed
        try:
            outcome = write_statistic(
                self._db(), state.stat, state.table, sealed.rows_to_write(), sealed.chains
            )
        except (pymysql.MySQLError, OSError) as exc:
            self._conn = None
            self.metrics.db_up.set(0)
            self.metrics.flush_errors.inc(statistic=state.stat.name)
            state.failures += 1
            event(
                log,
                logging.WARNING,
                "flush_failed",
                statistic=state.stat.name,
                error=str(exc),
                attempt=state.failures,
            )
            return
        state.failures = 0
        self.metrics.db_up.set(1)
        if outcome.conflicts:
            self._drop(state, outcome.conflicts)
            return
        with self._lock:
            state.sealed = None
        self.metrics.rows_written.inc(outcome.rows, statistic=state.stat.name)
        self.metrics.flush_seconds.observe(outcome.seconds, statistic=state.stat.name)
        if outcome.quarantined:
            self.metrics.quarantined.inc(outcome.quarantined, statistic=state.stat.name)
            event(
                log,
                logging.ERROR,
                "rows_quarantined",
                statistic=state.stat.name,
                rows=outcome.quarantined,
                agents=",".join(sorted(sealed.chains)),
            )
        event(
            log,
            logging.DEBUG,
            "flushed",
            statistic=state.stat.name,
            rows=outcome.rows,
            seconds=round(outcome.seconds, 3),
            already_committed=outcome.already_committed,
        )

    def _compact(self, state: _StatState) -> None:
        """Merge the current generation's parts outside the lock: requests only append. Runs in the
        flusher's thread, so a generation is never sealed while its parts are being merged."""
        with self._lock:
            pending = state.current
            parts = pending.take_parts(COMPACT_PARTS)
        if parts:
            merged = merged_parts(state.stat, parts)
            with self._lock:
                pending.give_merged(merged)

    def _drop(self, state: _StatState, moved: list[str]) -> None:
        """Another writer moved checkpoints: every agent of this statistic's sums re-reads from MySQL."""
        with self._lock:
            agents = set(state.current.chains) | set(state.sealed.chains if state.sealed else ())
            state.sealed, state.current = None, Pending(state.stat)
            for agent in agents:
                self._stale.add((agent, state.stat.name))
        self.metrics.conflicts.inc(len(agents))
        event(
            log,
            logging.WARNING,
            "checkpoint_conflict",
            statistic=state.stat.name,
            moved=",".join(moved),
            dropped=",".join(sorted(agents)),
        )

    def _retry_delay(self, state: _StatState) -> float:
        if not state.failures:
            return until_slot(state.stat.flush_interval, offset=state.stat.flush_offset)
        return min(self.cfg.flush_retry.max, self.cfg.flush_retry.initial * 2 ** (state.failures - 1))

    def _expire(self) -> None:
        for state in self._states.values():
            try:
                deleted = delete_expired(self._db(), state.stat, state.table)
            except (pymysql.MySQLError, OSError) as exc:
                self._conn = None
                event(log, logging.WARNING, "retention_failed", statistic=state.stat.name, error=str(exc))
                return
            if deleted:
                self.metrics.deleted.inc(deleted, statistic=state.stat.name)
                event(log, logging.INFO, "expired", statistic=state.stat.name, rows=deleted)

    def run_flusher(self) -> None:
        now = time.monotonic()
        for state in self._states.values():
            state.next_flush = now + until_slot(state.stat.flush_interval, offset=state.stat.flush_offset)
        next_expiry = now
        while not self._stop.is_set():
            now = time.monotonic()
            for state in self._states.values():
                if now >= state.next_flush:
                    self._flush(state)
                    state.next_flush = time.monotonic() + self._retry_delay(state)
                else:
                    self._compact(state)
            if now >= next_expiry:
                self._expire()
                next_expiry = time.monotonic() + self.cfg.retention_interval
            self.metrics.pending_rows.set(self.pending_rows())
            self._stop.wait(0.2)

    def drain(self, deadline: float) -> bool:
        """Write everything pending; True when nothing is left."""
        self._draining = True
        while time.monotonic() < deadline:
            for state in self._states.values():
                self._flush(state)  # a failed write's generation first, then the current one
                self._flush(state)
            with self._lock:
                if all(s.empty for s in self._states.values()):
                    return True
            time.sleep(1)
        return False

    def health(self) -> tuple[bool, dict[str, Any]]:
        pending = self.pending_rows()
        failing = [s.stat.name for s in self._states.values() if s.failures]
        return not failing, {"pending_rows": pending, "failing": failing, "draining": self._draining}

    def _prepare_schema(self, stop: threading.Event) -> bool:
        """Create or migrate the tables, waiting for MySQL as long as it takes (or until stopped)."""
        attempt = 0
        while not stop.is_set():
            try:
                conn = connect(self.cfg.mysql)
                try:
                    for step in migrate(conn, self.stats, self.cfg.table_prefix):
                        event(log, logging.INFO, "schema", step=step)
                finally:
                    conn.close()
                return True
            except (pymysql.MySQLError, OSError) as exc:
                attempt += 1
                delay = min(self.cfg.flush_retry.max, self.cfg.flush_retry.initial * 2 ** (attempt - 1))
                event(
                    log, logging.WARNING, "mysql_unavailable", error=str(exc), attempt=attempt, retry_in=delay
                )
                stop.wait(delay)
        return False

    def serve(self) -> int:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if not self._prepare_schema(stop):
            return 0
        tls = server_tls(self.cfg.tls_cert_file, self.cfg.tls_key_file) if self.cfg.tls_cert_file else None
        server = serve(self.cfg.listen, self.route, self.registry, self.health, self.cfg.client_timeout, tls)
        host, port = server.server_address[:2]
        event(
            log,
            logging.INFO,
            "listening",
            address=f"{host}:{port}",
            tls=bool(tls),
            statistics=len(self.stats.statistics),
            pid=os.getpid(),
        )
        flusher = threading.Thread(target=self.run_flusher, name="flusher", daemon=True)
        flusher.start()
        stop.wait()
        event(log, logging.INFO, "draining")
        self._stop.set()
        flusher.join()
        server.shutdown()
        drained = self.drain(time.monotonic() + self.cfg.drain_timeout)
        event(log, logging.INFO, "stopped", drained=drained)
        return 0 if drained else 1
