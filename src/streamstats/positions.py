"""Where an agent is in its logs: per stream (a configured path), the file and the byte offset.

A file is identified by device and inode plus a fingerprint of its first bytes: the inode alone is
reused, and after copytruncate the same inode holds new content while the old content lives on in a
copy with another inode. Offsets are always at line boundaries. A position's JSON form is canonical so
that agent and aggregator compare positions as strings.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

FP_BYTES = 1024  # the fingerprint covers the first bytes of a file, up to this many
MAX_STREAMS = 256
MAX_PATH = 4096
_FIELDS = ("dev", "ino", "fp", "fp_len", "offset")


@dataclass(frozen=True)
class FilePos:
    dev: int
    ino: int
    fp: str  # blake2b-128 hex of the first fp_len bytes
    fp_len: int
    offset: int

    def at(self, offset: int) -> FilePos:
        return FilePos(self.dev, self.ino, self.fp, self.fp_len, offset)


Position = dict[str, FilePos]  # stream path -> where its reading stands


def prefix_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read_prefix(fd: int, length: int) -> bytes:
    return os.pread(fd, length, 0)


def to_json(position: Position) -> dict[str, dict[str, Any]]:
    return {path: asdict(pos) for path, pos in sorted(position.items())}


def canonical(position_json: dict[str, Any]) -> str:
    return json.dumps(position_json, sort_keys=True, separators=(",", ":"))


def _non_negative_int(value: Any, key: str, limit: int = 2**63 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ValueError(f"{key}: must be an integer from 0 to {limit}")
    return value


def parse(obj: Any, key: str = "position") -> Position:
    """A position from its JSON form, every field checked (it arrives over the network)."""
    if not isinstance(obj, dict) or len(obj) > MAX_STREAMS:
        raise ValueError(f"{key}: must be an object of at most {MAX_STREAMS} streams")
    out: Position = {}
    for path, raw in obj.items():
        if not isinstance(path, str) or not 0 < len(path) <= MAX_PATH or "\x00" in path:
            raise ValueError(f"{key}: invalid stream path")
        where = f"{key}[{path!r}]"
        if not isinstance(raw, dict) or set(raw) != set(_FIELDS):
            raise ValueError(f"{where}: must have exactly {', '.join(_FIELDS)}")
        fp = raw["fp"]
        if not isinstance(fp, str) or len(fp) != 32 or any(c not in "0123456789abcdef" for c in fp):
            raise ValueError(f"{where}.fp: must be 32 lower-case hex digits")
        fp_len = _non_negative_int(raw["fp_len"], f"{where}.fp_len", FP_BYTES)
        offset = _non_negative_int(raw["offset"], f"{where}.offset")
        out[path] = FilePos(
            _non_negative_int(raw["dev"], f"{where}.dev"),
            _non_negative_int(raw["ino"], f"{where}.ino"),
            fp,
            fp_len,
            offset,
        )
    return out
