"""The installed OS as a bootable disk image, built without mounting anything (no root, no loop devices).

Layout: an MBR (syslinux's boot code) with one active FAT16 partition at 1 MiB made with mtools;
syslinux installs its loader into that file system through mtools too. The partition holds the Debian
kernel, the `os` initramfs and `site.img`, a second initramfs that carries what makes an installation
this server's (hostname, operator keys, callback, the /etc/cdn-provisioned marker). syslinux hands both
to the kernel, which unpacks them over each other. The generic image is cached; the installer writes
a per-server copy whose only difference is site.img, so its checksum is stable for the same inputs.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from netboot import cpio
from netboot.cache import cache_root, digest, file_digest
from netboot.cpio import CpioArchive

log = logging.getLogger(__name__)

SECTOR = 512
PARTITION_START = 2048  # sectors: 1 MiB, the usual alignment
MBR_CODE = Path("/usr/lib/syslinux/mbr/mbr.bin")
SYSLINUX_CFG = """\
SERIAL 0 115200
PROMPT 0
TIMEOUT 1
DEFAULT cdn
LABEL cdn
  KERNEL /vmlinuz
  INITRD /initrd.img,/site.img
  APPEND console=ttyS0,115200 quiet
"""
# Files in the image's FAT have this fixed time, so the same inputs give the same bytes.
_FIXED_MTIME = 1_700_000_000


class DiskImageError(RuntimeError):
    """mtools or syslinux failed while building or personalising an image."""


@dataclass(frozen=True)
class DiskImage:
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class SiteConfig:
    """What makes an installation one server's."""

    server_id: str
    hostname: str
    authorized_keys: tuple[str, ...]
    callback_url: str = ""
    token: str = ""
    # A script the installed OS runs once its network is up (LeaseWeb's postInstallScript).
    post_install: bytes = b""
    # The project's /etc/cdn-provisioned marker; LeaseWeb's installer writes none (a post-install may).
    marker: bool = True


def _mtools(*argv: str) -> None:
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise DiskImageError(f"{' '.join(argv)}: {proc.stderr.strip()}")


def _fs(image: Path) -> str:
    return f"{image}@@{PARTITION_START * SECTOR}"


def _mbr(total_sectors: int) -> bytes:
    """syslinux's MBR code and one bootable FAT16 (LBA) partition spanning the disk after 1 MiB."""
    code = MBR_CODE.read_bytes()[:440].ljust(446, b"\0")
    chs = b"\xfe\xff\xff"  # "use LBA"
    entry = struct.pack("<B3sB3sII", 0x80, chs, 0x0E, chs, PARTITION_START, total_sectors - PARTITION_START)
    return code + entry + b"\0" * 48 + b"\x55\xaa"


def _copy_in(image: Path, source: Path, name: str) -> None:
    os.utime(source, (_FIXED_MTIME, _FIXED_MTIME))
    _mtools("mcopy", "-o", "-m", "-i", _fs(image), str(source), f"::/{name}")


def site_overlay(site: SiteConfig, image_sha256: str) -> bytes:
    """The gzipped initramfs overlay read by the installed OS's /init."""
    env = {
        "CDN_SERVER": site.server_id,
        "CDN_HOSTNAME": site.hostname,
        "CDN_CALLBACK": site.callback_url,
        "CDN_TOKEN": site.token,
    }
    marker = {
        "server_id": site.server_id,
        "hostname": site.hostname,
        "image_sha256": image_sha256,
        "install_token": site.token,
    }
    archive = CpioArchive()
    archive.tree("etc/cdn")
    archive.file("etc/cdn/site.env", "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()).encode())
    archive.file(
        "etc/cdn/authorized_keys", "".join(f"{key}\n" for key in site.authorized_keys).encode(), 0o600
    )
    if site.marker:
        archive.file("etc/cdn-provisioned", "".join(f"{k}={v}\n" for k, v in marker.items()).encode())
    if site.post_install:
        archive.file("etc/cdn/post-install", site.post_install, 0o700)
    return archive.to_gzip()


def _unprovisioned() -> SiteConfig:
    return SiteConfig(server_id="", hostname="", authorized_keys=())


def build_disk_image(vmlinuz: Path, initramfs: Path, size_mib: int = 32) -> DiskImage:
    """The generic installed-OS image (no site data), cached under a hash of its inputs."""
    parts = [file_digest(vmlinuz), file_digest(initramfs), MBR_CODE.read_bytes(), str(size_mib)]
    # The builder's own code is part of the recipe: changing how an image is made makes a new one.
    parts += [Path(__file__).read_bytes(), Path(cpio.__file__).read_bytes()]
    parts.append(subprocess.run(["syslinux", "--version"], capture_output=True, text=True).stderr)
    path = cache_root() / "disk" / f"os-{digest(parts)}.img"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        log.info("building disk image %s", path.name)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as work:
            partial = Path(work) / "disk.img"
            _assemble(partial, vmlinuz, initramfs, size_mib, Path(work))
            partial.rename(path)
    return DiskImage(path, path.stat().st_size, file_digest(path))


def _assemble(image: Path, vmlinuz: Path, initramfs: Path, size_mib: int, work: Path) -> None:
    total = size_mib * 1024 * 1024 // SECTOR
    with image.open("wb") as stream:
        stream.truncate(total * SECTOR)
        stream.write(_mbr(total))
    # Fixed volume serial number: reproducible bytes.
    _mtools(
        "mformat",
        "-i",
        _fs(image),
        "-T",
        str(total - PARTITION_START),
        "-h",
        "64",
        "-s",
        "32",
        "-H",
        str(PARTITION_START),
        "-N",
        "0cd10001",
        "-v",
        "CDNBOOT",
        "::",
    )
    _mtools("syslinux", "--offset", str(PARTITION_START * SECTOR), "--install", str(image))
    for name, source in (("vmlinuz", vmlinuz), ("initrd.img", initramfs)):
        staged = work / name
        shutil.copyfile(source, staged)
        _copy_in(image, staged, name)
    (work / "syslinux.cfg").write_text(SYSLINUX_CFG)
    _copy_in(image, work / "syslinux.cfg", "syslinux.cfg")
    (work / "site.img").write_bytes(site_overlay(_unprovisioned(), ""))
    _copy_in(image, work / "site.img", "site.img")


def personalise(generic: DiskImage, site: SiteConfig, dest: Path) -> DiskImage:
    """A copy of the generic image with this server's site overlay; same inputs, same checksum."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(generic.path, dest)
    overlay = dest.with_name(dest.name + ".site.img")
    overlay.write_bytes(site_overlay(site, generic.sha256))
    try:
        _copy_in(dest, overlay, "site.img")
    finally:
        overlay.unlink()
    return DiskImage(dest, dest.stat().st_size, file_digest(dest))
