"""Real `ansible-playbook` / `ansible-inventory` runs against a simulator, with results read back as JSON."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.leaseweb.simulator_process import SimulatorProcess
from tests.support import require_binary

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = Path(__file__).parent / "playbooks"


def ansible_env(
    sim: SimulatorProcess, *, key_in_env: bool = True, json_output: bool = True, home: Path | None = None
) -> dict[str, str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "LSW_BASE_URL": sim.url,
    }
    env.pop("LSW_API_KEY", None)
    if home is not None:
        env["HOME"] = str(home)
    if key_in_env:
        env["LSW_API_KEY"] = sim.api_key
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        # Instead of ansible.cfg's profile_tasks, whose timing lines would break the JSON.
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.json"
    return env


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def results(self) -> list[dict[str, Any]]:
        """Each task's result for localhost, in order."""
        return [task["hosts"]["localhost"] for play in self.data["plays"] for task in play["tasks"]]

    @property
    def result(self) -> dict[str, Any]:
        """The result of a one-task playbook."""
        (only,) = self.results()
        return only

    @property
    def stats(self) -> dict[str, int]:
        return self.data["stats"]["localhost"]


def run_ansible(
    sim: SimulatorProcess,
    tool: str,
    *args: str,
    key_in_env: bool = True,
    json_output: bool = False,
    home: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run an Ansible command line tool from the repository's root, pointed at the simulator."""
    return subprocess.run(
        [require_binary(tool), *args],
        env=ansible_env(sim, key_in_env=key_in_env, json_output=json_output, home=home),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_playbook(
    name: str,
    sim: SimulatorProcess,
    extra_vars: dict[str, Any] | None = None,
    *args: str,
    check: bool = False,
    diff: bool = False,
    json_output: bool = True,
) -> PlaybookRun:
    options = [*args, *(["--check"] if check else []), *(["--diff"] if diff else [])]
    done = run_ansible(
        sim,
        "ansible-playbook",
        str(PLAYBOOKS / name),
        "-e",
        json.dumps(extra_vars or {}),
        *options,
        json_output=json_output,
    )
    return PlaybookRun(done.returncode, done.stdout, done.stderr)
