"""The pyinfra deploy that writes an OS image onto a server's disk from the live image.

The live image has busybox and sshd but no Python, which is why this is pyinfra (it needs only a POSIX
shell and SFTP on the target) rather than Ansible modules. It refuses to run anywhere but the live
image, skips the write when the disk already holds the image (same checksum), and verifies the checksum
of what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyinfra import host
from pyinfra.api import FactBase, deploy
from pyinfra.operations import files, server


class InstallError(RuntimeError):
    """The target is not one the image may be written to."""


class DiskDigest(FactBase):
    """sha256 of the first SIZE bytes of DEVICE, or '' when it cannot be read."""

    def command(self, device: str, size: int) -> str:
        return f"head -c {size} {device} 2>/dev/null | sha256sum | cut -d ' ' -f 1"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class LiveStage(FactBase):
    """The live image's mode ('live', 'rescue'), or '' on anything else."""

    command = "cat /etc/cdn-live 2>/dev/null || true"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


@dataclass(frozen=True)
class ImageSpec:
    compressed: Path  # gzip of the image, uploaded
    size: int  # bytes of the uncompressed image
    sha256: str  # of the uncompressed image
    device: str = "/dev/vda"


@deploy("Install the OS image")
def install_image(spec: ImageSpec) -> None:
    stage = host.get_fact(LiveStage)
    if stage != "live":
        raise InstallError(f"{host.name} is not running the live image (stage {stage!r}): refusing to write")
    if host.get_fact(DiskDigest, device=spec.device, size=spec.size) == spec.sha256:
        return
    remote = "/tmp/cdn-os-image.gz"
    files.put(name="Upload the OS image", src=str(spec.compressed), dest=remote)
    server.shell(
        name="Write the OS image and verify its checksum",
        commands=[
            f"gunzip -c {remote} | dd of={spec.device} bs=1M 2>/dev/null",
            "sync",
            f"test \"$(head -c {spec.size} {spec.device} | sha256sum | cut -d ' ' -f 1)\" = {spec.sha256}",
            f"rm -f {remote}",
        ],
    )
