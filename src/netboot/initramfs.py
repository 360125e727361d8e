"""The project's initramfs images: busybox, dropbear (with its libraries) and an /init script.

Two recipes share the same parts: `live` (the network-booted live image the OS is installed from) and
`os` (the stand-in for the installed operating system, booted from disk). Each image is cached under a
hash of everything that goes into it: the recipe, the scripts, the host binaries and the kernel.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from netboot import cpio
from netboot.cache import cache_root, digest
from netboot.cpio import CpioArchive
from netboot.debkernel import DebianKernel

log = logging.getLogger(__name__)

FILES = Path(__file__).with_name("files")

# Host binaries copied in (from busybox-static, dropbear-bin, openssh-sftp-server) -> path in the image.
# dropbear runs /usr/lib/sftp-server for the SFTP subsystem, which pyinfra uses to upload files.
BINARIES = {
    "/bin/busybox": "/bin/busybox",
    "/usr/sbin/dropbear": "/usr/sbin/dropbear",
    "/usr/lib/openssh/sftp-server": "/usr/lib/sftp-server",
}

_ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/shells": "/bin/sh\n",
    "etc/hostname": "localhost\n",
}


@dataclass(frozen=True)
class InitramfsRecipe:
    name: str
    init: str
    modules: tuple[str, ...]


LIVE = InitramfsRecipe("live", "live.init", ("virtio_pci", "virtio_net", "virtio_blk"))
INSTALLED_OS = InitramfsRecipe("os", "os.init", ("virtio_pci", "virtio_net", "virtio_blk"))


def shared_libraries(binary: str) -> list[str]:
    """The libraries a dynamic binary loads (ldd), the loader included; [] for a static one."""
    proc = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return []
    return re.findall(r"(/\S+) \(0x", proc.stdout)


def _host_files() -> dict[str, Path]:
    """Image path -> host file, for the binaries and every library they need."""
    files: dict[str, Path] = {}
    for source, target in BINARIES.items():
        if not Path(source).exists():
            raise FileNotFoundError(f"{source} is missing: run scripts/deps.sh")
        files[target] = Path(source)
        for library in shared_libraries(source):
            files[library] = Path(library).resolve()
    return files


def _archive(recipe: InitramfsRecipe, kernel: DebianKernel, host_files: dict[str, Path]) -> CpioArchive:
    archive = CpioArchive()
    for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "run", "tmp", "root"):
        archive.tree(directory)
    # The kernel opens /dev/console for /init before anything is mounted.
    archive.char_device("dev/console", 5, 1)
    for name, text in _ETC.items():
        archive.tree(str(Path(name).parent))
        archive.file(name, text.encode())
    for target, source in sorted(host_files.items()):
        archive.tree(str(Path(target).parent))
        archive.file(target, source.read_bytes(), 0o755)
    archive.symlink("bin/sh", "busybox")
    archive.tree("lib/cdn")
    archive.file("lib/cdn/lib.sh", (FILES / "lib.sh").read_bytes())
    archive.file("lib/cdn/udhcpc.sh", (FILES / "udhcpc.sh").read_bytes(), 0o755)
    archive.file("init", (FILES / recipe.init).read_bytes(), 0o755)
    modules = kernel.load_order(list(recipe.modules))
    module_dir = f"lib/modules/{kernel.release}"
    archive.tree(module_dir)
    for module in modules:
        archive.file(f"{module_dir}/{module.name}", module.read_bytes())
    archive.file("lib/cdn/modules", "".join(f"/{module_dir}/{m.name}\n" for m in modules).encode())
    return archive


def recipe_digest(recipe: InitramfsRecipe, kernel: DebianKernel, host_files: dict[str, Path]) -> str:
    parts: list[str | bytes] = [recipe.name, recipe.init, *recipe.modules, kernel.package, kernel.version]
    # The builder's own code is part of the recipe: changing how an image is made makes a new one.
    parts += [Path(__file__).read_bytes(), Path(cpio.__file__).read_bytes()]
    parts += [path.read_bytes() for path in sorted(FILES.iterdir())]
    for target, source in sorted(host_files.items()):
        parts += [target, source.read_bytes()]
    return digest(parts)


def build_initramfs(recipe: InitramfsRecipe, kernel: DebianKernel) -> Path:
    """The gzipped initramfs for the recipe: built once per recipe hash, then taken from the cache."""
    host_files = _host_files()
    path = cache_root() / "initramfs" / f"{recipe.name}-{recipe_digest(recipe, kernel, host_files)}.img"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("building initramfs %s", path.name)
    partial = path.with_suffix(".partial")
    partial.write_bytes(_archive(recipe, kernel, host_files).to_gzip())
    partial.rename(path)
    return path
