"""LeaseWeb's installer, for the lab's twin: what an install job does to the server, done to its VM.

The simulator hands an install job that power-cycles the server to its hook (`lab twin power-event`,
event "install"). Here the job's request becomes an installation: the twin is powered off, the project's
disk image (the lab's stand-in for every operating system LeaseWeb offers) is written to its disk with the
job's hostname, SSH keys and post-install script, and the twin boots it. The job finishes when the installed
OS says it is ready on the serial console, as LeaseWeb's finishes once the server is up; an error fails it.
The partitions, RAID and device asked for are checked by the simulator against the spec; the twin has one
disk and takes the image as it is.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netboot.build import build_all
from netboot.diskimage import SiteConfig, personalise

if TYPE_CHECKING:
    from lab.twin import BootRecord, Twin, TwinSettings

# The installed OS's last line on its console once sshd runs (netboot/files/os.init).
READY = "cdn-infra: installed OS ready:"
FAILED = "cdn-infra: FAILED:"


class InstallError(RuntimeError):
    """The install request is malformed or the installed OS did not come up."""


@dataclass(frozen=True)
class InstallRequest:
    """The part of an install job the installer acts on."""

    job_id: str
    operating_system_id: str
    hostname: str
    ssh_keys: tuple[str, ...]
    post_install: bytes

    @classmethod
    def from_json(cls, job_id: Any, data: Any) -> InstallRequest:
        if not isinstance(job_id, str) or not job_id:
            raise InstallError("an install event needs its jobId")
        if not isinstance(data, dict):
            raise InstallError("an install event needs an install object")
        fields = {name: data.get(name) or "" for name in ("operatingSystemId", "hostname", "sshKeys")}
        script = data.get("postInstallScript") or ""
        if not all(isinstance(value, str) for value in (*fields.values(), script)):
            raise InstallError("install: operatingSystemId, hostname, sshKeys, postInstallScript: strings")
        try:
            post_install = base64.b64decode(script, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InstallError(f"install: postInstallScript is not base64: {exc}") from exc
        keys = tuple(line.strip() for line in fields["sshKeys"].splitlines() if line.strip())
        return cls(job_id, fields["operatingSystemId"], fields["hostname"], keys, post_install)


def write_installation(twin: Twin, settings: TwinSettings, request: InstallRequest) -> str:
    """The project's image, made this server's, written over the start of the twin's disk; its sha256."""
    site = SiteConfig(
        server_id=twin.server_id,
        hostname=request.hostname,
        authorized_keys=request.ssh_keys,
        post_install=request.post_install,
        marker=False,
    )
    disk = twin.dir / "disk.raw"
    with tempfile.TemporaryDirectory(dir=twin.dir, prefix=".install-") as work:
        image = personalise(build_all().disk, site, Path(work) / "os.img")
        disk.touch()
        with disk.open("r+b") as target, image.path.open("rb") as source:
            target.truncate(max(settings.disk_mib * 1024 * 1024, image.size))
            while chunk := source.read(1024 * 1024):
                target.write(chunk)
    return image.sha256


def wait_until_ready(twin: Twin, boot: BootRecord, timeout: float) -> str:
    """The installed OS's ready line from the boot's console, or InstallError on a failure or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = twin.console_text(boot.number)
        for line in text.splitlines():
            if line.startswith(FAILED):
                raise InstallError(f"{twin.server_id}: the installed OS failed to start: {line}")
            if line.startswith(READY):
                return line
        if twin.pid() is None:
            raise InstallError(f"{twin.server_id}: the VM stopped before the installed OS was ready")
        time.sleep(0.5)
    raise InstallError(f"{twin.server_id}: the installed OS was not ready within {timeout:.0f} s")
