"""The lab's controller-side services: the LeaseWeb API simulator, goiardi (the lab's Chef server) and
Redmine (the lab's issue tracker, which deploy-analytics.yml notes its rollouts on).

They listen on fixed loopback ports, read from the lab inventory's group_vars/all.yml
(`lab_leaseweb_port`, `lab_goiardi_port`, `lab_redmine_port`), where the playbooks also find their URLs.
State under .lab/:

  leaseweb/  api-key (generated, mode 0600, never committed), state.json (the simulator's state: leases
             and power survive a restart), simulator.pid, simulator.log
  goiardi/   the conf root (admin.pem, written by goiardi at first start), data and index files (goiardi
             freezes its store there, so nodes and clients survive a restart), goiardi.pid, goiardi.log
  redmine/   the SQLite database, setup.json (the admin's API key, mode 0600; the project and its issues),
             redmine.pid, redmine.log (src/lab/redmine.py; the instance's configuration is in
             /var/lib/redmine/cdnlab-*, as Debian's package wants)
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.baremetal import SEED, load_lab_servers, power_hook
from lab.daemons import Daemon
from lab.hosts import boot_server_address
from lab.redmine import lab_instance

API_KEY_ENV = "LSW_SIMULATOR_API_KEY"


@dataclass(frozen=True)
class ServicePorts:
    leaseweb: int
    goiardi: int
    redmine: int

    @classmethod
    def from_inventory(cls, inventory_file: Path) -> ServicePorts:
        group_vars = inventory_file.parent / "group_vars" / "all.yml"
        data = yaml.safe_load(group_vars.read_text()) or {}
        names = ("lab_leaseweb_port", "lab_goiardi_port", "lab_redmine_port")
        try:
            return cls(*(int(data[name]) for name in names))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{group_vars}: {', '.join(names)} must be ports") from exc


def ensure_api_key(path: Path) -> str:
    """The lab's LeaseWeb API key: generated once, readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as stream:
            stream.write(secrets.token_hex(24) + "\n")
    return path.read_text().strip()


def _binary(name: str) -> str:
    """The program's full path (what the pidfile check compares): the virtualenv's own console script
    first, whatever PATH says, then PATH; the bare name if it is not installed, which fails to start
    with a clear error and is never found running."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name) or name


def simulator(state: Path, port: int, api_key: str, power_hook: list[str], seed: Path = SEED) -> Daemon:
    """The LeaseWeb simulator. The key travels in the environment, not on a command line `ps` shows."""
    argv = [_binary("leaseweb-simulator"), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--seed", str(seed), "--state", str(state / "state.json")]
    argv += ["--power-hook", shlex.join(power_hook)]
    return Daemon("simulator", tuple(argv), port, state, env={API_KEY_ENV: api_key})


def goiardi(state: Path, port: int) -> Daemon:
    """goiardi with authentication (-A) and its store frozen to files in its conf root."""
    argv = [_binary("goiardi"), "-A", "-I", "127.0.0.1", "-P", str(port), "-H", "127.0.0.1"]
    argv += ["--conf-root", str(state), "-D", str(state / "data.bin"), "-i", str(state / "index.bin")]
    argv += ["-F", "2", "-g", "warning"]
    return Daemon("goiardi", tuple(argv), port, state, ready_file=state / "admin.pem")


@dataclass(frozen=True)
class LabServices:
    """The lab's services, in start order (none needs another; Redmine's database is set up before it
    starts: lab.redmine.ensure_lab_setup)."""

    chef: Daemon
    leaseweb: Daemon
    redmine: Daemon

    @property
    def daemons(self) -> tuple[Daemon, ...]:
        return (self.chef, self.leaseweb, self.redmine)

    @property
    def leaseweb_url(self) -> str:
        return f"http://127.0.0.1:{self.leaseweb.port}"


def lab_services(inventory_file: Path, state_root: Path, api_key: str = "") -> LabServices:
    """The services as `lab up` starts them (`api_key` is needed to start, not to stop or show them)."""
    ports = ServicePorts.from_inventory(inventory_file)
    boot_server = boot_server_address(inventory_file)
    if not boot_server:
        raise ValueError(f"{inventory_file}: the ipxe_server host has no published port for the twins")
    hook = power_hook(load_lab_servers(inventory_file), state_root / "twin", boot_server)
    return LabServices(
        chef=goiardi(state_root / "goiardi", ports.goiardi),
        leaseweb=simulator(state_root / "leaseweb", ports.leaseweb, api_key, hook),
        redmine=lab_instance(state_root).server(ports.redmine),
    )
