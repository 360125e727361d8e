"""A real Redmine for the tests, started the way the lab starts its own: `lab redmine` (src/lab/redmine.py:
Debian's `redmine` 5.0 on SQLite, migrated and seeded with the project `cdn` and the issues the repository's
commits reference, REST API on, an admin API key, WEBrick on 127.0.0.1), here with a temporary state
directory and a free port. The tests' own issues are then made through the REST API. One per session."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from lab.redmine import RedmineSetup, lab_instance

ISSUES = 6


@dataclass(frozen=True)
class Redmine:
    url: str
    api_key: str = field(repr=False)
    issues: tuple[int, ...]
    statuses: dict[str, int]
    # What `lab redmine` was given, and what it set up (the lab's project and its issues).
    state_dir: Path
    port: int
    setup: RedmineSetup

    def issue(self, number: int) -> dict:
        response = requests.get(
            f"{self.url}/issues/{number}.json?include=journals",
            headers={"X-Redmine-API-Key": self.api_key},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["issue"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_redmine(state_dir: Path, port: int) -> subprocess.CompletedProcess:
    """The lab's own command; it fails with the Redmine setup's or server's error (its log's tail)."""
    command = [sys.executable, "-m", "lab.cli", "redmine", "--state-dir", str(state_dir), "--port", str(port)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)


def _new_issue(url: str, api_key: str, project: str, subject: str) -> int:
    response = requests.post(
        f"{url}/issues.json",
        json={"issue": {"project_id": project, "subject": subject}},
        headers={"X-Redmine-API-Key": api_key},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["issue"]["id"]


@pytest.fixture(scope="session")
def redmine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redmine]:
    state_dir = tmp_path_factory.mktemp("lab")
    port = _free_port()
    instance = lab_instance(state_dir)
    try:
        started = lab_redmine(state_dir, port)
        assert started.returncode == 0, started.stdout + started.stderr
        setup = RedmineSetup.from_json((instance.state_dir / "setup.json").read_text())
        url = f"http://127.0.0.1:{port}"
        issues = tuple(_new_issue(url, setup.api_key, setup.project, f"Issue {n + 1}") for n in range(ISSUES))
        yield Redmine(url, setup.api_key, issues, dict(setup.statuses), state_dir, port, setup)
    finally:
        instance.server(port).stop()
        instance.remove()
