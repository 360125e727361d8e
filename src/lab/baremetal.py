"""The lab's bare-metal servers: LeaseWeb's view of them (the simulator's seed) and ours (the inventory).

The seed (leaseweb-seed.yml, next to this file) says what the simulator serves: ids, MACs, power. The
lab inventory's group `baremetal` says how Ansible reaches each one: `leaseweb_server_id` and
`ansible_port`, the loopback port QEMU forwards to the guest's sshd. The simulator's power hook joins
the two: `lab twin power-event` with one `--ssh-port SERVER_ID=PORT` per server.
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.twin import Twin
from leaseweb_api import LeasewebClient

SEED = Path(__file__).with_name("leaseweb-seed.yml")
BAREMETAL_GROUP = "baremetal"


@dataclass(frozen=True)
class LabServer:
    inventory_name: str
    server_id: str
    ssh_port: int


def load_lab_servers(inventory_file: Path, seed: Path = SEED) -> list[LabServer]:
    """The inventory's bare-metal hosts, each checked against the seed (an unknown id is an error)."""
    data = yaml.safe_load(inventory_file.read_text()) or {}
    group = (data.get("all", {}).get("children", {}) or {}).get(BAREMETAL_GROUP) or {}
    seeded = {str(server["id"]) for server in (yaml.safe_load(seed.read_text()) or {}).get("servers", [])}
    servers = []
    for name, hostvars in (group.get("hosts") or {}).items():
        hostvars = hostvars or {}
        server_id, port = str(hostvars.get("leaseweb_server_id", "")), hostvars.get("ansible_port")
        if server_id not in seeded or not isinstance(port, int):
            raise ValueError(
                f"{inventory_file}: {name} needs a leaseweb_server_id from {seed.name} "
                f"({', '.join(sorted(seeded))}) and an integer ansible_port"
            )
        servers.append(LabServer(name, server_id, port))
    return servers


def power_hook(servers: list[LabServer], twin_state: Path, boot_server: str) -> list[str]:
    """The simulator's --power-hook: this virtualenv's `lab twin power-event`, with each server's port."""
    argv = [sys.executable, "-m", "lab.cli", "twin", "power-event", "--state-dir", str(twin_state)]
    argv += ["--boot-server", boot_server]
    for server in servers:
        argv += ["--ssh-port", f"{server.server_id}={server.ssh_port}"]
    return argv


def restore_power(client: LeasewebClient, servers: list[LabServer], twin_state: Path) -> list[LabServer]:
    """Start the twins LeaseWeb reports on whose VMs are not running (after `lab down` or a reboot).

    The power-on goes through the API, so the simulator's hook starts the VM as it would on any power
    event: from its disk, or from the network if the server still has a lease.
    """
    started = []
    for server in servers:
        if client.power_info(server.server_id).is_on and Twin(twin_state, server.server_id).pid() is None:
            client.power_on(server.server_id)
            started.append(server)
    return started


def wait_for_sshd(port: int, timeout: float) -> bool:
    """True once 127.0.0.1:PORT answers with an SSH banner (QEMU accepts on the port before the guest can)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=min(2.0, left)) as sock:
                sock.settimeout(max(0.1, min(5.0, deadline - time.monotonic())))
                if sock.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False
