"""Following one log path across rotations, in chunks of complete lines.

A stream is a configured path plus the names its rotated files take (`{path}.1`, ...). Oldest rotated
file first and the live path last, they form the stream's chain; the reader only ever moves forward
along it:
- rename rotation: the live path shows another inode; the reader finishes its file (to the end, and
  only once nothing was written to it for `rotate_wait`), then opens the next file of the chain.
- copytruncate: the live file shrinks below the offset or its first bytes change; what lay between
  the offset and the truncation is in the copy (a rotated name with the same first bytes), which the
  reader finishes from the same offset before reading the live file again from its start.
A line longer than a chunk is skipped as `too_long`; an unterminated last line of a finished file as
`truncated`.
"""

from __future__ import annotations

import logging
import os
import stat as stat_module
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamstats.logs import event
from streamstats.positions import FP_BYTES, FilePos, prefix_hash, read_prefix

log = logging.getLogger("streamstats.tail")
# How far back from the end of a read its last newline is looked for first (a longer last line: the
# chunk is read whole and cut, a copy).
_PROBE = 64 * 1024
# A stream's start reads the chain again when a rotation moved the file it chose meanwhile.
START_ATTEMPTS = 10


@dataclass(frozen=True)
class Candidate:
    path: str
    dev: int
    ino: int
    size: int


@dataclass(frozen=True)
class Chunk:
    stream: str
    start: FilePos
    end: FilePos
    data: bytes  # complete lines, or empty when `skipped` names why bytes were consumed without lines
    skipped: str = ""


@dataclass
class _OpenFile:
    fd: int
    path: str
    dev: int
    ino: int
    fp: str
    fp_len: int
    offset: int
    live: bool
    mtime: float = 0.0  # when nothing was read yet: the modification time last looked at

    @property
    def pos(self) -> FilePos:
        return FilePos(self.dev, self.ino, self.fp, self.fp_len, self.offset)


def _hash_prefix(path: str, length: int) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = read_prefix(fd, length)
    finally:
        os.close(fd)
    return prefix_hash(data) if len(data) == length else None


def _last_line_end(fd: int, size: int, window: int = 1 << 16) -> int:
    """The offset just after the last newline (where a reader starting "at the end" begins)."""
    end = size
    while end > 0:
        start = max(0, end - window)
        data = os.pread(fd, end - start, start)
        cut = data.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


class Stream:
    def __init__(
        self,
        path: str,
        rotated: list[str],
        rotate_wait: float,
        on_event: Callable[[str, str], None] = lambda kind, path: None,
    ) -> None:
        self.path = path
        self.rotated = [template.format(path=path) for template in rotated]
        self.rotate_wait = rotate_wait
        self.on_event = on_event  # ("rotation" | "copytruncate" | "lost", path) for metrics
        self.file: _OpenFile | None = None
        self.serial = 0  # counts the files opened, so callers notice a new file
        # The end of the file finished last: the position while nothing is read from the next one yet.
        self.previous: FilePos | None = None

    # --- the chain -------------------------------------------------------------------------------------
    def chain(self) -> list[Candidate]:
        """Existing regular files of the stream, oldest first, the live path last, each inode once.

        The names are looked at newest first, the way a rotation moves files (`.1` to `.2`, then the
        live path to `.1`): a file moved while they are looked at is then seen at its old name or at
        its new one, never at neither (looked at oldest first, it could be missed at both, and the
        reader would skip it)."""
        out: list[Candidate] = []
        seen: set[tuple[int, int]] = set()
        for name in [self.path, *self.rotated]:
            try:
                st = os.stat(name)
            except OSError:
                continue
            if stat_module.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                out.append(Candidate(name, st.st_dev, st.st_ino, st.st_size))
        return out[::-1]

    def locate(self, pos: FilePos, chain: list[Candidate]) -> int | None:
        """The chain index of the file `pos` is in: the same inode with the same first bytes, or else
        a copy of it (copytruncate) with the same first bytes, long enough to hold the offset."""

        def matches(c: Candidate) -> bool:
            return c.size >= pos.offset and (pos.fp_len == 0 or _hash_prefix(c.path, pos.fp_len) == pos.fp)

        for i, c in enumerate(chain):
            if (c.dev, c.ino) == (pos.dev, pos.ino) and matches(c):
                return i
        if pos.fp_len == 0:
            return None
        for i in range(len(chain) - 1, -1, -1):
            if matches(chain[i]):
                return i
        return None

    def current_matches(self, pos: FilePos) -> bool:
        """Whether the open file is the file of `pos` (by its first bytes: a copy counts)."""
        f = self.file
        if f is None:
            return False
        if pos.fp_len == 0:
            return (f.dev, f.ino) == (pos.dev, pos.ino)
        return prefix_hash(read_prefix(f.fd, pos.fp_len)) == pos.fp

    # --- opening -----------------------------------------------------------------------------------------
    def _open(self, candidate: Candidate, offset: int) -> bool:
        """Open the candidate's file; False if its name no longer holds it (a rotation moved it since
        the chain was read: the caller reads the chain again)."""
        try:
            fd = os.open(candidate.path, os.O_RDONLY)
        except OSError:
            return False
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (candidate.dev, candidate.ino):
            os.close(fd)
            return False
        self.close()
        empty = prefix_hash(b"")  # until the file has bytes to fingerprint
        live = candidate.path == self.path
        self.file = _OpenFile(fd, candidate.path, st.st_dev, st.st_ino, empty, 0, offset, live, st.st_mtime)
        self._extend_fingerprint()
        self.serial += 1
        return True

    def start(self, positions: list[FilePos], at_end: bool) -> list[FilePos]:
        """Open the stream at the earliest of `positions` still found; returns those not found.

        Without positions the live file is opened at its start (or after its last line, `at_end`).
        """
        for _ in range(START_ATTEMPTS):
            chain = self.chain()
            found: list[tuple[int, int]] = []
            lost: list[FilePos] = []
            for pos in positions:
                index = self.locate(pos, chain)
                if index is None:
                    lost.append(pos)
                else:
                    found.append((index, pos.offset))
            if not found:
                break
            index, offset = min(found)
            start = next(p for p in positions if (self.locate(p, chain), p.offset) == (index, offset))
            if self._open(chain[index], offset):
                self.previous = start  # the position until something is read
                return lost
        else:
            raise OSError(f"{self.path}: its files kept moving while the stream was opened")
        live = chain[-1] if chain and chain[-1].path == self.path else None
        if lost:
            event(
                log, logging.ERROR, "checkpoint_lost", stream=self.path, detail="file not found: lines lost"
            )
            self.on_event("lost", self.path)
        if live is not None and self._open(live, 0) and at_end and not positions and self.file:
            self.file.offset = _last_line_end(self.file.fd, live.size)
        return lost

    def close(self) -> None:
        if self.file is not None:
            os.close(self.file.fd)
            self.file = None

    # --- fingerprints ------------------------------------------------------------------------------------
    def _prefix_intact(self) -> bool:
        f = self.file
        assert f is not None
        return f.fp_len == 0 or prefix_hash(read_prefix(f.fd, f.fp_len)) == f.fp

    def _extend_fingerprint(self) -> None:
        """Fingerprint up to FP_BYTES as the file grows (only ever over bytes already checked)."""
        f = self.file
        assert f is not None
        if f.fp_len >= FP_BYTES:
            return
        data = read_prefix(f.fd, FP_BYTES)
        if len(data) > f.fp_len and (f.fp_len == 0 or prefix_hash(data[: f.fp_len]) == f.fp):
            f.fp, f.fp_len = prefix_hash(data), len(data)

    # --- reading -----------------------------------------------------------------------------------------
    def position(self) -> FilePos | None:
        """Where reading stands. Before the first byte of a file, that is the end of the file before it
        (or nothing, for a new stream): an empty file has no fingerprint to be found again by, and its
        content may move to a copytruncate copy before it is read, which a restart then finds by
        walking the chain on from the file before."""
        f = self.file
        if f is None:
            return None
        if f.offset == 0 and f.fp_len == 0:
            return self.previous
        return f.pos

    def read(self, max_bytes: int, limit: int | None = None) -> Chunk | None:
        """The next complete lines (at most `max_bytes`, never past offset `limit`), or None for now."""
        if self.file is None:
            chain = self.chain()
            if not chain or chain[-1].path != self.path or not self._open(chain[-1], 0):
                return None
        f = self.file
        assert f is not None
        if f.offset == 0 and f.fp_len == 0 and self.previous is not None and self._skipped_a_copy():
            return None
        want = max_bytes if limit is None else min(max_bytes, limit - f.offset)
        data = self._read_lines(want) if want > 0 else b""
        if data:
            if f.live and not self._prefix_intact():
                return self._truncated()
            self._extend_fingerprint()
            cut = data.rfind(b"\n") + 1
            if cut:
                return self._advance(data[:cut], "")
            if len(data) >= max_bytes:
                return self._skip_long_line(max_bytes)
        return self._at_end(len(data))

    def _read_lines(self, want: int) -> bytes:
        """Up to `want` bytes from the offset, ending at the last newline in them when the file has
        them all: the end is looked for first, so that the chunk needs no copy to cut it there."""
        f = self.file
        assert f is not None
        if want > _PROBE:
            tail = os.pread(f.fd, _PROBE, f.offset + want - _PROBE)
            end = tail.rfind(b"\n")
            if len(tail) == _PROBE and end >= 0:
                return os.pread(f.fd, want - _PROBE + end + 1, f.offset)
        return os.pread(f.fd, want, f.offset)

    def _skipped_a_copy(self) -> bool:
        """Before the first byte of a file that followed another: if it was written and truncated in
        place meanwhile, its content is in a copy that now sits between the two in the chain; read
        that first."""
        f = self.file
        assert f is not None and self.previous is not None
        mtime = os.fstat(f.fd).st_mtime
        if mtime == f.mtime:
            return False
        f.mtime = mtime
        chain = self.chain()
        before = self.locate(self.previous, chain)
        here = self._index(chain)
        if before is None or here is None or here <= before + 1:
            return False
        if not self._read_copy(chain[before + 1], 0):
            f.mtime = 0.0  # the copy moved since the chain was read: look again at the next read
        return True

    def _index(self, chain: list[Candidate]) -> int | None:
        """Where the open file is in the chain."""
        f = self.file
        assert f is not None
        return next((i for i, c in enumerate(chain) if (c.dev, c.ino) == (f.dev, f.ino)), None)

    def _read_copy(self, copy: Candidate, offset: int) -> bool:
        event(
            log,
            logging.INFO,
            "rotation",
            stream=self.path,
            kind="copytruncate",
            copy=copy.path,
            offset=offset,
        )
        self.on_event("copytruncate", self.path)
        return self._open(copy, offset)

    def _advance(self, data: bytes, skipped: str, consumed: int | None = None) -> Chunk:
        f = self.file
        assert f is not None
        start = f.pos
        f.offset += len(data) if consumed is None else consumed
        return Chunk(self.path, start, f.pos, data, skipped)

    def _skip_long_line(self, max_bytes: int) -> Chunk | None:
        f = self.file
        assert f is not None
        scan = f.offset + max_bytes
        while True:
            data = os.pread(f.fd, max_bytes, scan)
            if not data:
                return self._at_end(scan - f.offset)
            cut = data.find(b"\n")
            if cut >= 0:
                return self._advance(b"", "too_long", scan + cut + 1 - f.offset)
            scan += len(data)

    def _at_end(self, partial: int) -> Chunk | None:
        f = self.file
        assert f is not None
        if f.live:
            if os.fstat(f.fd).st_size < f.offset or not self._prefix_intact():
                return self._truncated()
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                return None  # renamed away; the writer has not created the new file yet
            if (st.st_dev, st.st_ino) == (f.dev, f.ino):
                return None
            f.live = False
            event(log, logging.INFO, "rotation", stream=self.path, kind="rename", offset=f.offset)
            self.on_event("rotation", self.path)
        # A rotated file is finished once its writer has let go of it.
        if time.time() - os.fstat(f.fd).st_mtime < self.rotate_wait:
            return None
        if partial:
            return self._advance(b"", "truncated", partial)
        return self._next_file()

    def _next_file(self) -> Chunk | None:
        f = self.file
        assert f is not None
        chain = self.chain()
        index = self._index(chain)
        if index is None:
            following = chain[-1:] if chain and chain[-1].path == self.path else []
        else:
            following = chain[index + 1 :]
        if not following:
            return None
        # An empty file has no fingerprint: the last position with one stays the one to report.
        finished = f.pos if f.fp_len else self.previous
        if self._open(following[0], 0):
            self.previous = finished
        return None

    def _truncated(self) -> Chunk | None:
        """The live file was truncated in place: finish its old content from the copy, if there is one."""
        f = self.file
        assert f is not None
        chain = self.chain()
        copy = next(
            (
                c
                for c in reversed(chain)
                if (c.dev, c.ino) != (f.dev, f.ino)
                and c.size >= f.offset
                and _hash_prefix(c.path, f.fp_len) == f.fp
            ),
            None,
        )
        if copy is not None:
            self._read_copy(copy, f.offset)
            return None
        event(
            log,
            logging.ERROR,
            "truncated_without_copy",
            stream=self.path,
            offset=f.offset,
            detail="lines lost",
        )
        self.on_event("lost", self.path)
        live = chain[-1] if chain and chain[-1].path == self.path else None
        if live is None or not self._open(live, 0):
            self.close()
        return None

    def lag_bytes(self) -> int:
        """Bytes written to the stream and not read yet (the open file, and a newer live file)."""
        f = self.file
        if f is None:
            return 0
        lag = max(0, os.fstat(f.fd).st_size - f.offset)
        if not f.live:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) != (f.dev, f.ino):
                    lag += st.st_size
            except OSError:
                pass
        return lag
