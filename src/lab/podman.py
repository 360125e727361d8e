"""A thin, explicit wrapper over the podman CLI with the project's containers.conf."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from lab.paths import CONTAINERS_CONF


class PodmanError(RuntimeError):
    """A podman command failed; carries its stderr."""


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    # Respect a caller that already chose a containers.conf (the Makefile sets the same file).
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def podman(args: Sequence[str], *, check: bool = True, stdin: bytes | None = None) -> str:
    proc = subprocess.run(["podman", *args], input=stdin, capture_output=True, env=podman_env(), check=False)
    if check and proc.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace")


def image_exists(image: str) -> bool:
    return subprocess.run(["podman", "image", "exists", image], env=podman_env(), check=False).returncode == 0


def ensure_network(name: str) -> bool:
    """Create a bridge network with DNS (aardvark) unless it exists; True when created."""
    if subprocess.run(["podman", "network", "exists", name], env=podman_env(), check=False).returncode == 0:
        return False
    podman(["network", "create", "--label", "project=cdn-infra", name])
    return True


def remove_network(name: str) -> bool:
    """Remove the network unless it is absent or still in use; True when removed.

    Never `--force`: that would also remove every container attached to it, such as a Molecule
    scenario's hosts sharing the lab network.
    """
    if subprocess.run(["podman", "network", "exists", name], env=podman_env(), check=False).returncode != 0:
        return False
    in_use = podman(["ps", "--all", "--quiet", "--filter", f"network={name}"]).split()
    if in_use:
        return False
    podman(["network", "rm", name])
    return True


@dataclass(frozen=True)
class ContainerHost:
    """A lab host: a systemd container on the lab network, reachable by name from its peers."""

    name: str
    image: str
    network: str
    hostname: str = ""
    publish: Sequence[str] = field(default_factory=tuple)
    labels: Sequence[str] = field(default_factory=tuple)
    volumes: Sequence[str] = field(default_factory=tuple)

    def run_args(self) -> list[str]:
        args = [
            "run",
            "--detach",
            "--name",
            self.name,
            "--hostname",
            self.hostname or self.name,
            "--network",
            self.network,
            "--systemd",
            "always",
            "--label",
            "project=cdn-infra",
        ]
        for label in self.labels:
            args += ["--label", label]
        for mapping in self.publish:
            args += ["--publish", mapping]
        for volume in self.volumes:
            args += ["--volume", volume]
        return [*args, self.image, "/sbin/init"]


def container_state(name: str) -> str | None:
    """'running', 'exited', ... or None when there is no such container."""
    out = podman(["container", "inspect", name], check=False).strip()
    found = json.loads(out) if out else []
    return found[0]["State"]["Status"] if found else None


def container_up(host: ContainerHost) -> bool:
    """Start the container if needed; True when something changed."""
    state = container_state(host.name)
    if state == "running":
        return False
    if state is not None:
        podman(["start", host.name])
        return True
    podman(host.run_args())
    return True


def container_rm(name: str) -> bool:
    if container_state(name) is None:
        return False
    podman(["rm", "--force", "--time", "5", name])
    return True


def wait_for_systemd(name: str, timeout: float = 90.0) -> str:
    """Block until systemd inside the container finished booting; return its last state.

    Right after `podman run`, PID 1 may not answer on its bus yet, so ask again until it does.
    """
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = podman(["exec", name, "systemctl", "is-system-running", "--wait"], check=False).strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.5)
    return state
