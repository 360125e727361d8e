"""`netboot-build`: build (or take from the cache) everything a server boots, and say where it is.

netboot-build                      JSON: kernel, live initrd, installed-OS initramfs, disk image
netboot-build --docroot DIR        also lay the live image out under DIR/images/live/ for a boot server
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from netboot.debkernel import KernelError, fetch_kernel
from netboot.diskimage import DiskImage, DiskImageError, build_disk_image
from netboot.initramfs import INSTALLED_OS, LIVE, build_initramfs

log = logging.getLogger("netboot")

# Where a boot server's docroot holds the live image (the iPXE profiles refer to these paths).
LIVE_KERNEL = "images/live/vmlinuz"
LIVE_INITRD = "images/live/initrd.img"


@dataclass(frozen=True)
class Artefacts:
    kernel_package: str
    vmlinuz: Path
    live_initrd: Path
    os_initramfs: Path
    disk: DiskImage
    seconds: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "kernel_package": self.kernel_package,
            "vmlinuz": str(self.vmlinuz),
            "live_initrd": str(self.live_initrd),
            "os_initramfs": str(self.os_initramfs),
            "disk_image": str(self.disk.path),
            "disk_image_sha256": self.disk.sha256,
            "disk_image_size": self.disk.size,
            "seconds": self.seconds,
        }


def build_all(kernel_metapackage: str = "linux-image-cloud-amd64") -> Artefacts:
    seconds: dict[str, float] = {}
    start = time.monotonic()
    kernel = fetch_kernel(kernel_metapackage)
    seconds["kernel"] = round(time.monotonic() - start, 2)
    start = time.monotonic()
    live = build_initramfs(LIVE, kernel)
    installed = build_initramfs(INSTALLED_OS, kernel)
    seconds["initramfs"] = round(time.monotonic() - start, 2)
    start = time.monotonic()
    disk = build_disk_image(kernel.vmlinuz, installed)
    seconds["disk_image"] = round(time.monotonic() - start, 2)
    return Artefacts(kernel.package, kernel.vmlinuz, live, installed, disk, seconds)


def publish_live(artefacts: Artefacts, docroot: Path) -> None:
    """Copy the live kernel and initrd into a boot server's docroot."""
    for source, relative in ((artefacts.vmlinuz, LIVE_KERNEL), (artefacts.live_initrd, LIVE_INITRD)):
        target = docroot / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o644)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(
        prog="netboot-build", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kernel", default="linux-image-cloud-amd64", help="kernel metapackage")
    parser.add_argument("--docroot", type=Path, help="copy the live image into this boot server docroot")
    args = parser.parse_args(argv)
    try:
        artefacts = build_all(args.kernel)
        if args.docroot:
            publish_live(artefacts, args.docroot)
    except (KernelError, DiskImageError, OSError) as exc:
        log.error("%s", exc)
        return 1
    print(json.dumps(artefacts.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
