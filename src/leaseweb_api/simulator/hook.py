"""The power hook: a command run on every successful powerCycle, powerOn and powerOff, and on install jobs.

The command (shlex-split, no shell) gets one JSON object on its standard input:
{"event": "powerCycle"|"powerOn"|"powerOff", "serverId": "...", "macAddress": "<public MAC>",
 "lease": {"bootfile": "...", "hostname": "..."} or null}.
An install job that power-cycles the server sends {"event": "install", ..., "lease": null, "jobId": "...",
"install": {"operatingSystemId", "hostname", "sshKeys", "postInstallScript" (base64), ...}}: the command is
LeaseWeb's installer, and the job ends when it exits (status 0: FINISHED; anything else: FAILED).
It runs off the request path: one worker thread per server runs that server's hooks in order, so a powerOff
followed by a powerOn reach the hook in that order, and a slow hook for one server delays no other.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from leaseweb_api.simulator import logfmt
from leaseweb_api.simulator.state import PowerEvent

_STOP = None
# Told of every install event's outcome: (serverId, jobId, succeeded).
InstallDone = Callable[[str, str, bool], None]


class PowerHook:
    def __init__(self, command: list[str], timeout: float, on_install_done: InstallDone | None = None):
        self.command = command
        self.timeout = timeout
        self.on_install_done = on_install_done
        self._queues: dict[str, queue.Queue[PowerEvent | None]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __call__(self, event: PowerEvent) -> None:
        with self._lock:
            pending = self._queues.get(event.server_id)
            if pending is None:
                pending = self._queues[event.server_id] = queue.Queue()
                thread = threading.Thread(
                    target=self._work, args=(pending,), name=f"power-hook-{event.server_id}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        pending.put(event)

    def _work(self, pending: queue.Queue[PowerEvent | None]) -> None:
        while (event := pending.get()) is not _STOP:
            ok = self._run(event)
            if event.job_id is not None and self.on_install_done is not None:
                self.on_install_done(event.server_id, event.job_id, ok)

    def _run(self, event: PowerEvent) -> bool:
        started = time.monotonic()
        fields = {"hook_event": event.event, "server_id": event.server_id, "command": self.command[0]}
        try:
            done = subprocess.run(
                self.command,
                input=(json.dumps(event.to_json()) + "\n").encode(),
                stdout=sys.stderr,
                stderr=sys.stderr,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            logfmt.event("power_hook", logging.ERROR, **fields, outcome="timeout", timeout_s=self.timeout)
            return False
        except OSError as exc:
            logfmt.event("power_hook", logging.ERROR, **fields, outcome="not_started", error=str(exc))
            return False
        level = logging.INFO if done.returncode == 0 else logging.WARNING
        duration_ms = round((time.monotonic() - started) * 1000)
        logfmt.event("power_hook", level, **fields, exit_status=done.returncode, duration_ms=duration_ms)
        return done.returncode == 0

    def close(self, timeout: float) -> None:
        """Let queued hooks finish (up to `timeout` seconds in all), then stop the workers."""
        with self._lock:
            for pending in self._queues.values():
                pending.put(_STOP)
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
