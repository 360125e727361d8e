"""The bare-metal twin: one QEMU virtual machine per lab server, driven by LeaseWeb power events.

A power event (from the LeaseWeb simulator's power hook) stops and/or starts the server's VM. A VM
started while the server has a DHCP lease network-boots: QEMU's user-mode DHCP hands out the lease's
bootfile (option 67) and the NIC's iPXE ROM chains it. Without a lease the VM boots its disk. An install
event (LeaseWeb's install job) writes an installed OS to the disk and boots it (lab.installer).

The guest's network is QEMU user networking with restrict=on: it can reach nothing, except the boot
server, which a guestfwd rule maps from BOOT_SERVER_IP:80 inside the guest to the boot web server on
the host's loopback (each guest connection runs `busybox nc` to it). sshd in the guest is reachable
through a hostfwd on 127.0.0.1 only. QEMU runs with TCG (no KVM here), detached, with a pidfile.

State per twin under STATE_DIR/<serverId>/: twin.json (settings), disk.raw, qemu.pid, boot.json (the
current boot) and console/boot-NNNN.log (the serial console of each boot).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.installer import InstallError, InstallRequest, wait_until_ready, write_installation

# Where the boot server appears inside every guest (QEMU reserves 10.0.2.2 for the host itself).
BOOT_SERVER_IP = "10.0.2.100"
EVENTS = ("powerCycle", "powerOn", "powerOff", "install")
# Seconds an installed OS may take to say it is ready (TCG boots in 20-30 s on an idle machine).
INSTALL_BOOT_TIMEOUT = 240.0
_SERVER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
_ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9]|[=>c])")


class TwinError(RuntimeError):
    """A power event or twin command could not be carried out."""


@dataclass(frozen=True)
class Lease:
    bootfile: str
    hostname: str = ""


@dataclass(frozen=True)
class PowerEvent:
    """One line of the simulator's power hook interface (JSON on stdin)."""

    event: str
    server_id: str
    mac: str
    lease: Lease | None
    install: InstallRequest | None = None

    @classmethod
    def from_json(cls, text: str) -> PowerEvent:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TwinError(f"power event is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise TwinError("power event must be a JSON object")
        event, server_id, mac = data.get("event"), data.get("serverId"), data.get("macAddress")
        if event not in EVENTS:
            raise TwinError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")
        if not isinstance(server_id, str) or not _SERVER_ID.match(server_id):
            raise TwinError(f"bad serverId {server_id!r}")
        if not isinstance(mac, str) or not _MAC.match(mac):
            raise TwinError(f"bad macAddress {mac!r}")
        lease = data.get("lease")
        if lease is not None:
            if (
                not isinstance(lease, dict)
                or not isinstance(lease.get("bootfile"), str)
                or not lease["bootfile"]
            ):
                raise TwinError("lease must be null or an object with a bootfile")
            lease = Lease(lease["bootfile"], lease.get("hostname") or "")
        install = None
        if event == "install":
            try:
                install = InstallRequest.from_json(data.get("jobId"), data.get("install"))
            except InstallError as exc:
                raise TwinError(str(exc)) from exc
        return cls(event, server_id, mac.lower(), lease, install)


@dataclass
class TwinSettings:
    """Per-twin settings, persisted so the SSH port stays the same across power cycles."""

    server_id: str
    mac: str
    ssh_port: int
    memory_mib: int = 256
    disk_mib: int = 256


@dataclass
class BootRecord:
    number: int
    device: str  # "network" or "disk"
    bootfile: str
    console: str
    started_at: float = field(default_factory=time.time)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ssh_port_for(server_id: str, choices: list[str]) -> int | None:
    """The port from `--ssh-port` values: SERVER_ID=PORT for this server wins over a bare PORT."""
    fallback = None
    for choice in choices:
        name, _, port = choice.rpartition("=")
        if not port.isdigit():
            raise TwinError(f"bad --ssh-port {choice!r}: expected PORT or SERVER_ID=PORT")
        if name == server_id:
            return int(port)
        if not name:
            fallback = int(port)
    return fallback


def _qemu_escape(value: str) -> str:
    """QEMU's option syntax: a literal comma is written twice."""
    return value.replace(",", ",,")


def qemu_argv(
    settings: TwinSettings, state: Path, boot: BootRecord, boot_server: str, hostname: str = ""
) -> list[str]:
    """The QEMU command line for one boot of a twin."""
    nc = shutil.which("busybox") or "/bin/busybox"
    host, port = boot_server.rsplit(":", 1)
    netdev = [
        "user",
        "id=n0",
        "restrict=on",
        f"hostfwd=tcp:127.0.0.1:{settings.ssh_port}-:22",
        f"guestfwd=tcp:{BOOT_SERVER_IP}:80-cmd:{nc} nc {host} {port}",
    ]
    if boot.device == "network":
        netdev.append(f"bootfile={_qemu_escape(boot.bootfile)}")
    if hostname:
        netdev.append(f"hostname={_qemu_escape(hostname)}")
    return [
        "qemu-system-x86_64",
        "-name",
        f"twin-{settings.server_id}",
        "-machine",
        "pc,graphics=off",
        "-accel",
        "tcg",
        "-m",
        str(settings.memory_mib),
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        f"file:{boot.console}",
        # A reboot from inside the guest powers the twin off: the next boot comes from a power event,
        # which reads the lease as it is then (QEMU's DHCP options are fixed for a VM's lifetime).
        "-no-reboot",
        "-daemonize",
        "-pidfile",
        str(state / "qemu.pid"),
        "-drive",
        f"file={state / 'disk.raw'},format=raw,if=virtio",
        "-netdev",
        ",".join(netdev),
        "-device",
        f"virtio-net-pci,netdev=n0,mac={settings.mac}",
        # With a lease: network first, then the disk, as a server's firmware would. Without: the disk.
        "-boot",
        "order=nc" if boot.device == "network" else "order=c",
    ]


class Twin:
    """One server's VM and its state directory."""

    def __init__(self, state_root: Path, server_id: str) -> None:
        if not _SERVER_ID.match(server_id):
            raise TwinError(f"bad server id {server_id!r}")
        self.server_id = server_id
        self.dir = state_root / server_id

    @property
    def _settings_file(self) -> Path:
        return self.dir / "twin.json"

    @property
    def _boot_file(self) -> Path:
        return self.dir / "boot.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Power events for one server are handled one at a time."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def settings(self) -> TwinSettings | None:
        if not self._settings_file.exists():
            return None
        return TwinSettings(**json.loads(self._settings_file.read_text()))

    def configure(self, mac: str, ssh_port: int | None, memory_mib: int | None) -> TwinSettings:
        current = self.settings()
        settings = TwinSettings(
            server_id=self.server_id,
            mac=mac,
            ssh_port=ssh_port or (current.ssh_port if current else free_port()),
            memory_mib=memory_mib or (current.memory_mib if current else TwinSettings.memory_mib),
        )
        self._settings_file.write_text(json.dumps(asdict(settings), indent=2) + "\n")
        return settings

    def boot(self) -> BootRecord | None:
        if not self._boot_file.exists():
            return None
        return BootRecord(**json.loads(self._boot_file.read_text()))

    def pid(self) -> int | None:
        """The running QEMU's pid, checked against its command line (pids get reused)."""
        try:
            pid = int((self.dir / "qemu.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if f"twin-{self.server_id}".encode() in cmdline else None

    def stop(self, timeout: float = 10.0) -> bool:
        """Power off: SIGTERM (QEMU exits at once), SIGKILL if it lingers. True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid() is not None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(0.05)
        (self.dir / "qemu.pid").unlink(missing_ok=True)
        return True

    def start(self, settings: TwinSettings, lease: Lease | None, boot_server: str) -> BootRecord:
        disk = self.dir / "disk.raw"
        if not disk.exists():
            with disk.open("wb") as stream:
                stream.truncate(settings.disk_mib * 1024 * 1024)
        previous = self.boot()
        number = previous.number + 1 if previous else 1
        console = self.dir / "console" / f"boot-{number:04d}.log"
        console.parent.mkdir(exist_ok=True)
        boot = BootRecord(
            number, "network" if lease else "disk", lease.bootfile if lease else "", str(console)
        )
        argv = qemu_argv(settings, self.dir, boot, boot_server, lease.hostname if lease else "")
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise TwinError(f"qemu failed to start {self.server_id}: {proc.stderr.strip()}")
        self._boot_file.write_text(json.dumps(asdict(boot), indent=2) + "\n")
        return boot

    def console_text(self, number: int | None = None, raw: bool = False) -> str:
        boot = self.boot()
        if boot is None:
            raise TwinError(f"{self.server_id} has never booted")
        path = self.dir / "console" / f"boot-{number or boot.number:04d}.log"
        if not path.exists():
            raise TwinError(f"{self.server_id}: no console log {path.name}")
        text = path.read_text(errors="replace")
        return text if raw else _ANSI.sub("", text).replace("\r", "")


@dataclass(frozen=True)
class HookOptions:
    state_root: Path
    boot_server: str
    ssh_port: int | None = None
    memory_mib: int | None = None
    install_timeout: float = INSTALL_BOOT_TIMEOUT


def handle_power_event(event: PowerEvent, options: HookOptions) -> dict[str, object]:
    """Carry out one power event; returns a summary for the simulator's log."""
    twin = Twin(options.state_root, event.server_id)
    with twin.locked():
        settings = twin.configure(event.mac, options.ssh_port, options.memory_mib)
        was_running = twin.pid() is not None
        result: dict[str, object] = {"event": event.event, "serverId": event.server_id}
        if event.event == "powerOn" and was_running:
            return {**result, "action": "none", "running": True}
        if event.event in ("powerOff", "powerCycle", "install"):
            twin.stop()
        if event.event == "powerOff":
            return {**result, "action": "stopped" if was_running else "none", "running": False}
        if event.install is not None:
            sha256 = install_os(twin, settings, event.install)
            result.update(action="installed", job=event.install.job_id, sha256=sha256)
            boot = twin.start(settings, None, options.boot_server)
            try:
                result["ready"] = wait_until_ready(twin, boot, options.install_timeout)
            except InstallError as exc:
                raise TwinError(str(exc)) from exc
        else:
            boot = twin.start(settings, event.lease, options.boot_server)
        return {
            **result,
            "action": "restarted" if was_running else "started",
            "running": True,
            "boot": boot.number,
            "device": boot.device,
            "bootfile": boot.bootfile,
            "sshPort": settings.ssh_port,
            "console": boot.console,
        }


def install_os(twin: Twin, settings: TwinSettings, request: InstallRequest) -> str:
    """LeaseWeb's installer on a stopped twin; the sha256 of what it wrote."""
    try:
        return write_installation(twin, settings, request)
    except (OSError, RuntimeError) as exc:
        raise TwinError(f"{twin.server_id}: install job {request.job_id}: {exc}") from exc


def list_twins(state_root: Path) -> list[Twin]:
    if not state_root.is_dir():
        return []
    return [Twin(state_root, d.name) for d in sorted(state_root.iterdir()) if (d / "twin.json").exists()]
