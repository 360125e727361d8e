"""A `leaseweb-simulator` process for the tests: on 127.0.0.1 port 0, its URL read from its first line."""

from __future__ import annotations

import secrets
import select
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from leaseweb_api import LeasewebClient, RetryPolicy
from tests.support import require_binary, simulator_admin

SEED = Path(__file__).parent / "seed.yml"
# Quick retries keep the retry tests short; the delays themselves are what the tests look at.
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_max=0.1)


@dataclass
class SimulatorProcess:
    url: str
    api_key: str
    process: subprocess.Popen[str]
    log_path: Path

    def admin(self, method: str, name: str, payload: Any = None) -> requests.Response:
        return simulator_admin(self.url, self.api_key, method, name, payload)

    def reset(self) -> None:
        self.admin("POST", "reset")

    def fault(self, **rule: Any) -> None:
        self.admin("POST", "faults", rule)

    def exchanges(self) -> list[dict[str, Any]]:
        return self.admin("GET", "exchanges").json()["exchanges"]

    def state(self) -> dict[str, Any]:
        return self.admin("GET", "state").json()

    def server_state(self, server_id: str) -> dict[str, Any]:
        return next(s for s in self.state()["servers"] if s["id"] == server_id)

    def client(self, **kwargs: Any) -> LeasewebClient:
        kwargs.setdefault("timeout", (2.0, 10.0))
        kwargs.setdefault("retry", FAST_RETRY)
        return LeasewebClient(api_key=self.api_key, base_url=self.url, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(timeout=15)
        if self.process.stdout:
            self.process.stdout.close()
        return code


def start_simulator(workdir: Path, *args: str, seed: Path | None = SEED) -> SimulatorProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    api_key = secrets.token_hex(16)
    log_path = workdir / "simulator.log"
    command = [
        require_binary("leaseweb-simulator"),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--api-key",
        api_key,
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    with log_path.open("w") as log:
        process = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 20)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("listening "):
        process.kill()
        raise RuntimeError(f"leaseweb-simulator did not start: {line!r}\n{log_path.read_text()}")
    return SimulatorProcess(line.split()[1], api_key, process, log_path)
