"""Debian's kernel, taken from its .deb (apt-get download, dpkg-deb -x), never installed on the host.

The unpacked package is cached per exact package version. Kernel modules are found in the package's
tree and ordered by their `depends=` field (read from each module's .modinfo ELF section, since the
.deb ships no modules.dep: depmod runs only on installation).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from netboot.cache import cache_root

log = logging.getLogger(__name__)


class KernelError(RuntimeError):
    """The kernel package could not be found, fetched or read."""


def _run(argv: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise KernelError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def resolve_package(metapackage: str) -> tuple[str, str]:
    """The versioned linux-image package a metapackage (linux-image-cloud-amd64) points at."""
    out = _run(["apt-cache", "show", "--no-all-versions", metapackage])
    match = re.search(r"^Depends: (linux-image-[^\s,]+) \(= ([^)]+)\)", out, re.MULTILINE)
    if not match:
        raise KernelError(f"{metapackage}: no linux-image dependency in apt-cache (run apt-get update)")
    return match.group(1), match.group(2)


def modinfo(path: Path) -> dict[str, str]:
    """The key=value strings of a kernel module's .modinfo section (ELF64, little endian)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise KernelError(f"{path}: not an ELF64 kernel module")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(index: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + index * shentsize
        )
        return name, offset, size

    _, strtab, _ = section(shstrndx)
    for index in range(shnum):
        name, offset, size = section(index)
        if data[strtab + name : data.index(b"\0", strtab + name)] == b".modinfo":
            pairs = (
                item.split(b"=", 1) for item in data[offset : offset + size].split(b"\0") if b"=" in item
            )
            return {key.decode(): value.decode(errors="replace") for key, value in pairs}
    return {}


@dataclass(frozen=True)
class DebianKernel:
    """One unpacked linux-image package."""

    package: str
    version: str
    root: Path

    @property
    def release(self) -> str:
        return self.package.removeprefix("linux-image-")

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def modules_dir(self) -> Path:
        return self.root / "lib" / "modules" / self.release

    @cached_property
    def _modules(self) -> dict[str, Path]:
        return {
            path.name.removesuffix(".ko").replace("-", "_"): path for path in self.modules_dir.rglob("*.ko")
        }

    @cached_property
    def _builtin(self) -> set[str]:
        builtin = self.modules_dir / "modules.builtin"
        return {Path(line).name.removesuffix(".ko").replace("-", "_") for line in builtin.read_text().split()}

    def load_order(self, names: list[str]) -> list[Path]:
        """The modules to insmod, dependencies first, for the given module names (built-ins skipped)."""
        ordered: list[Path] = []
        seen: set[str] = set()

        def visit(name: str, chain: tuple[str, ...]) -> None:
            name = name.replace("-", "_")
            if name in seen or name in self._builtin:
                return
            if name in chain:
                raise KernelError(f"module dependency cycle: {' -> '.join((*chain, name))}")
            path = self._modules.get(name)
            if path is None:
                raise KernelError(f"{self.package}: no module {name}")
            for dep in filter(None, modinfo(path).get("depends", "").split(",")):
                visit(dep, (*chain, name))
            seen.add(name)
            ordered.append(path)

        for name in names:
            visit(name, ())
        return ordered


def fetch_kernel(metapackage: str = "linux-image-cloud-amd64") -> DebianKernel:
    """Download and unpack the kernel package once per version; later calls reuse the cache.

    Debian's security archive replaces kernel versions, so package lists older than the archive name a
    .deb that is gone: then the lists are refreshed (as root) and the newest version is taken.
    """
    try:
        return _fetch(*resolve_package(metapackage))
    except KernelError:
        if os.geteuid() != 0:
            raise
        log.info("refreshing apt's package lists and retrying")
        _run(["apt-get", "update", "-qq"])
        return _fetch(*resolve_package(metapackage))


def _fetch(package: str, version: str) -> DebianKernel:
    root = cache_root() / "kernel" / f"{package}_{version}"
    kernel = DebianKernel(package, version, root)
    if kernel.vmlinuz.exists():
        return kernel
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".fetch-") as work:
        log.info("apt-get download %s=%s", package, version)
        _run(["apt-get", "download", "-q", f"{package}={version}"], cwd=Path(work))
        deb = next(Path(work).glob("*.deb"))
        unpacked = Path(work) / "root"
        _run(["dpkg-deb", "-x", str(deb), str(unpacked)])
        shutil.rmtree(root, ignore_errors=True)
        unpacked.rename(root)
    if not kernel.vmlinuz.exists():
        raise KernelError(f"{package}: no {kernel.vmlinuz.name} in the package")
    return kernel
