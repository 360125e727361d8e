"""A writer for the kernel's initramfs format (cpio "newc"), in memory and reproducible.

Building the archive in Python, instead of with cpio(1) over a staging tree, lets it hold device nodes
and root-owned files without root, and fixes every timestamp so the same inputs give the same bytes.
"""

from __future__ import annotations

import gzip
import stat
from dataclasses import dataclass, field

_TRAILER = "TRAILER!!!"


def _pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


@dataclass
class CpioArchive:
    """Entries are kept in insertion order; parents must be added before their children."""

    _chunks: list[bytes] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)
    _ino: int = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        name = name.lstrip("/")
        if name in self._names:
            raise ValueError(f"duplicate initramfs entry {name!r}")
        self._names.add(name)
        encoded = name.encode() + b"\0"
        fields = (
            self._ino,
            mode,
            0,  # uid
            0,  # gid
            1,  # nlink
            0,  # mtime: fixed, for reproducible archives
            len(data),
            0,  # dev major
            0,  # dev minor
            rdev[0],
            rdev[1],
            len(encoded),
            0,  # check
        )
        header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
        self._ino += 1
        self._chunks += [header, encoded, _pad4(len(header) + len(encoded)), data, _pad4(len(data))]

    def directory(self, name: str, mode: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | mode)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def has(self, name: str) -> bool:
        return name.lstrip("/") in self._names

    def tree(self, path: str, mode: int = 0o755) -> None:
        """Add a directory and any missing parents."""
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            if not self.has(name):
                self.directory(name, mode)

    def to_bytes(self) -> bytes:
        trailer = CpioArchive(_ino=0)
        trailer._entry(_TRAILER, 0)
        return b"".join([*self._chunks, *trailer._chunks])

    def to_gzip(self) -> bytes:
        return gzip.compress(self.to_bytes(), compresslevel=9, mtime=0)
