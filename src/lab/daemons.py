"""Detached services on this machine's loopback: started once, found again by pidfile, stopped by SIGTERM.

There is no service manager on the lab's machines (PID 1 is not systemd), so a service here is a process
in its own session whose pid, output and readiness the lab keeps track of itself:
STATE/<name>.pid and STATE/<name>.log. Starting is idempotent: a live process with the recorded command
line is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class DaemonError(RuntimeError):
    """A service did not start, or did not become ready in time; carries the tail of its log."""


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Daemon:
    """One detached process: its command line, the loopback port it serves, and where its state goes."""

    name: str
    argv: tuple[str, ...]
    port: int
    state_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    # A file the service writes once it is usable (goiardi's admin key), besides the open port.
    ready_file: Path | None = None
    cwd: Path | None = None
    # Seconds to wait for readiness (Rails boots Redmine in 4 s on a quiet machine, far slower on a busy one).
    start_timeout: float = 30.0

    @property
    def pidfile(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The recorded pid if that process is alive and still runs our program (pids get reused)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if os.fsencode(self.argv[0]) in cmdline[:2] else None

    def ready(self) -> bool:
        return port_open(self.port) and (self.ready_file is None or self.ready_file.exists())

    def start(self) -> bool:
        """Start unless running; wait until ready. True when it was started now."""
        if self.pid() is not None:
            return False
        if port_open(self.port):
            raise DaemonError(f"{self.name}: 127.0.0.1:{self.port} is taken by another process")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                # Its own session: the service outlives `lab up` and the terminal it ran in.
                start_new_session=True,
            )
        self.pidfile.write_text(f"{process.pid}\n")
        deadline = time.monotonic() + self.start_timeout
        while not self.ready():
            if process.poll() is not None:
                self.pidfile.unlink(missing_ok=True)
                raise DaemonError(f"{self.name} exited with {process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise DaemonError(
                    f"{self.name} not ready on :{self.port} in {self.start_timeout} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        return True

    def stop(self, timeout: float = 15.0) -> bool:
        """SIGTERM, then SIGKILL if it lingers. True if it was running."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid() is not None:
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(0.1)
        # An exiting process loses its command line before its sockets: wait for the port as well.
        deadline = time.monotonic() + timeout
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
        return True

    def status(self) -> str:
        pid = self.pid()
        return f"running pid={pid} 127.0.0.1:{self.port}" if pid else "stopped"

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
