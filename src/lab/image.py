"""The lab's Debian base image, built locally with debootstrap (no registry is reachable) and cached.

The image name carries a hash of the recipe, so changing the recipe builds a new image and an unchanged
recipe never rebuilds: first podman's own store is checked, then a cached root file system tarball.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lab.paths import cache_dir
from lab.podman import image_exists, podman

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseImageRecipe:
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    # What Ansible, systemd and testinfra's socket/process checks need on every host.
    packages: tuple[str, ...] = field(
        default=(
            "python3",
            "python3-apt",
            "systemd",
            "systemd-sysv",
            "dbus",
            "iproute2",
            "procps",
            "ca-certificates",
            "sudo",
        )
    )
    repository: str = "localhost/cdnlab-debian"

    @property
    def digest(self) -> str:
        text = "\n".join([self.suite, self.mirror, *self.packages, "recipe-v2"])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"{self.repository}:{self.suite}-{self.digest}"

    @property
    def tarball(self) -> Path:
        return cache_dir() / f"rootfs-{self.suite}-{self.digest}.tar"


def _debootstrap(recipe: BaseImageRecipe, tarball: Path) -> None:
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(recipe.packages)}",
                recipe.suite,
                str(rootfs),
                recipe.mirror,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # The container's hostname comes from podman. debootstrap's package lists stay: roles refresh
        # them when older than their cache_valid_time.
        (rootfs / "etc" / "hostname").unlink(missing_ok=True)
        partial = tarball.with_suffix(".tar.partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


def ensure_base_image(recipe: BaseImageRecipe | None = None) -> tuple[str, bool]:
    """Return (image tag, built-now). Idempotent and cached across clean checkouts."""
    recipe = recipe or BaseImageRecipe()
    if image_exists(recipe.tag):
        return recipe.tag, False
    if not recipe.tarball.exists():
        log.info("debootstrap %s into %s (about a minute)", recipe.suite, recipe.tarball)
        _debootstrap(recipe, recipe.tarball)
    with recipe.tarball.open("rb") as stream:
        podman(["import", "--change", "CMD=/sbin/init", "-", recipe.tag], stdin=stream.read())
    return recipe.tag, True
