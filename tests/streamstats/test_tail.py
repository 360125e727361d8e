"""Following a log through rename and copytruncate rotations, and finding a position again."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from streamstats.positions import FilePos
from streamstats.tail import Chunk, Stream


def _lines(prefix: str, count: int) -> bytes:
    return b"".join(f"{prefix} line {i:05d} {'x' * 40}\n".encode() for i in range(count))


def _drain(stream: Stream, max_bytes: int = 1 << 16) -> tuple[bytes, list[Chunk]]:
    """Everything readable now: read() answers None when it waits or has just opened the next file,
    so a few answers in a row without a new file mean the end."""
    data, chunks, idle = b"", [], 0
    while idle < 3:
        serial = stream.serial
        chunk = stream.read(max_bytes)
        if chunk is None:
            idle = 0 if stream.serial != serial else idle + 1
            continue
        idle = 0
        chunks.append(chunk)
        data += chunk.data
    return data, chunks


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.write_bytes(_lines("a", 100))
    return path


def _stream(log: Path) -> Stream:
    stream = Stream(str(log), ["{path}.1", "{path}.2"], rotate_wait=0.0)
    stream.start([], at_end=False)
    return stream


def test_reads_complete_lines_only(log: Path):
    stream = _stream(log)
    with open(log, "ab") as handle:
        handle.write(b"half a li")
    data, _ = _drain(stream)
    assert data == _lines("a", 100)
    with open(log, "ab") as handle:
        handle.write(b"ne\n")
    assert _drain(stream)[0] == b"half a line\n"


def test_rename_rotation_finishes_the_old_file_first(log: Path):
    stream = _stream(log)
    first = stream.read(1000)
    assert first is not None
    with open(log, "ab") as handle:
        handle.write(_lines("b", 50))
    os.rename(log, f"{log}.1")
    log.write_bytes(_lines("c", 20))
    data, _ = _drain(stream)
    assert first.data + data == _lines("a", 100) + _lines("b", 50) + _lines("c", 20)


def test_copytruncate_reads_the_rest_from_the_copy(log: Path):
    stream = _stream(log)
    first = stream.read(1000)
    assert first is not None
    with open(log, "ab") as handle:
        handle.write(_lines("b", 50))
    shutil.copyfile(log, f"{log}.1")
    os.truncate(log, 0)
    with open(log, "ab") as handle:  # the writer goes on at the new end, 0
        handle.write(_lines("c", 300))  # longer than what was read: only the fingerprint tells
    data, _ = _drain(stream)
    assert first.data + data == _lines("a", 100) + _lines("b", 50) + _lines("c", 300)


def test_a_position_is_found_again_after_rotations(log: Path):
    stream = _stream(log)
    chunk = stream.read(2000)
    assert chunk is not None
    position = chunk.end
    stream.close()
    shutil.copyfile(log, f"{log}.1")  # copytruncate while the agent was down...
    os.truncate(log, 0)
    log.write_bytes(_lines("c", 10))
    os.rename(f"{log}.1", f"{log}.2")  # ...then a rename rotation
    os.rename(log, f"{log}.1")
    log.write_bytes(_lines("d", 5))
    resumed = Stream(str(log), ["{path}.1", "{path}.2"], rotate_wait=0.0)
    assert resumed.start([position], at_end=False) == []
    data, _ = _drain(resumed)
    assert chunk.data + data == _lines("a", 100) + _lines("c", 10) + _lines("d", 5)


def test_a_lost_position_is_reported_and_the_live_file_read(log: Path):
    stream = _stream(log)
    chunk = stream.read(2000)
    assert chunk is not None
    stream.close()
    os.remove(log)
    log.write_bytes(_lines("new", 3))
    events: list[str] = []
    resumed = Stream(str(log), ["{path}.1"], rotate_wait=0.0, on_event=lambda kind, path: events.append(kind))
    assert resumed.start([chunk.end], at_end=False) == [chunk.end]
    assert events == ["lost"]
    assert _drain(resumed)[0] == _lines("new", 3)


def test_a_line_longer_than_a_chunk_is_skipped_whole(log: Path):
    log.write_bytes(_lines("a", 2) + b"y" * 5000 + b"\n" + _lines("b", 2))
    stream = _stream(log)
    data, chunks = _drain(stream, max_bytes=1024)
    assert data == _lines("a", 2) + _lines("b", 2)
    assert [c.skipped for c in chunks if c.skipped] == ["too_long"]


def test_an_unterminated_last_line_of_a_rotated_file_is_truncated(log: Path):
    log.write_bytes(_lines("a", 2) + b"cut off")
    stream = _stream(log)
    os.rename(log, f"{log}.1")
    log.write_bytes(_lines("b", 1))
    data, chunks = _drain(stream)
    assert data == _lines("a", 2) + _lines("b", 1)
    assert [(c.skipped, c.end.offset - c.start.offset) for c in chunks if c.skipped] == [("truncated", 7)]


def test_start_at_end_skips_what_is_there(log: Path):
    with open(log, "ab") as handle:
        handle.write(b"partial")
    stream = Stream(str(log), [], rotate_wait=0.0)
    stream.start([], at_end=True)
    assert stream.position().offset == len(_lines("a", 100))


def test_fingerprint_grows_with_the_file_and_stays_a_prefix(log: Path):
    log.write_bytes(b"short\n")
    stream = _stream(log)
    first = stream.read(100)
    assert first is not None and first.end.fp_len == 6
    with open(log, "ab") as handle:
        handle.write(_lines("a", 50))
    chunk = stream.read(1 << 16)
    assert chunk is not None and chunk.end.fp_len == 1024
    assert stream.current_matches(first.end)


def test_a_position_taken_at_a_new_empty_file_survives_its_copytruncate(log: Path):
    """The position at a new, still empty file is the end of the file before it: the next file's
    content may end up in a copy before anything is read from it."""
    stream = _stream(log)
    _drain(stream)
    os.rename(log, f"{log}.1")
    log.touch()
    assert _drain(stream)[0] == b""
    position = stream.position()
    stream.close()
    log.write_bytes(_lines("b", 30))  # while the agent is down: written, then copytruncated
    os.rename(f"{log}.1", f"{log}.2")
    shutil.copyfile(log, f"{log}.1")
    os.truncate(log, 0)
    log.write_bytes(_lines("c", 3))
    resumed = Stream(str(log), ["{path}.1", "{path}.2"], rotate_wait=0.0)
    assert resumed.start([position], at_end=False) == []
    assert _drain(resumed)[0] == _lines("b", 30) + _lines("c", 3)


def test_a_new_file_copytruncated_before_its_first_read_is_read_from_the_copy(log: Path):
    stream = _stream(log)
    _drain(stream)
    os.rename(log, f"{log}.1")
    log.touch()
    assert _drain(stream)[0] == b""  # now at the new, empty file
    log.write_bytes(_lines("b", 30))  # between two polls: written, then copytruncated
    os.rename(f"{log}.1", f"{log}.2")
    shutil.copyfile(log, f"{log}.1")
    os.truncate(log, 0)
    log.write_bytes(_lines("c", 3))
    assert _drain(stream)[0] == _lines("b", 30) + _lines("c", 3)


class _Logrotate:
    """A writer with O_APPEND that logrotate rotates by rename or copytruncate, keeping every file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lines = 0

    def write(self, count: int) -> None:
        os.write(self.fd, b"".join(f"line {self.lines + i:07d}\n".encode() for i in range(count)))
        self.lines += count

    def rotate(self, rename: bool) -> None:
        rotated = self.log.parent.glob(self.log.name + ".*")
        for name in sorted(rotated, key=lambda p: int(p.suffix[1:]), reverse=True):
            name.rename(f"{self.log}.{int(name.suffix[1:]) + 1}")
        if rename:
            self.log.rename(f"{self.log}.1")
            os.close(self.fd)
            self.fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        else:
            shutil.copyfile(self.log, f"{self.log}.1")
            os.truncate(self.log, 0)


@pytest.mark.parametrize("seed", range(16))
def test_random_rotations_and_restarts_read_every_line_once(tmp_path: Path, seed: int):
    """Writes, both rotations, reads of random sizes, commits, and crashes that restart from the last
    commit or an older one: what was committed plus what is read at the end is every line, once."""
    rng = random.Random(seed)
    log = tmp_path / "access.log"
    writer = _Logrotate(log)
    writer.write(1)
    rotated = [f"{{path}}.{n}" for n in range(1, 400)]
    stream = Stream(str(log), rotated, rotate_wait=0.0)
    stream.start([], at_end=False)
    commits = [(stream.position(), 0)]
    counted: list[bytes] = []
    pending: list[bytes] = []
    for _ in range(600):
        action = rng.random()
        if action < 0.4:
            writer.write(rng.randint(1, 30))
        elif action < 0.5:
            writer.rotate(rename=rng.random() < 0.5)
        elif action < 0.85:
            chunk = stream.read(rng.choice([64, 200, 4096]))
            pending += [chunk.data] if chunk else []
        elif action < 0.95:
            counted += pending
            pending = []
            commits.append((stream.position(), len(counted)))
        else:
            stream.close()
            pending = []
            position, kept = rng.choice(commits[-4:]) if rng.random() < 0.3 else commits[-1]
            counted = counted[:kept]
            commits = [c for c in commits if c[1] <= kept]
            stream = Stream(str(log), rotated, rotate_wait=0.0)
            assert stream.start([position] if position else [], at_end=False) == []
    counted += [*pending, _drain(stream, 4096)[0]]
    numbers = [int(line.split()[1]) for line in b"".join(counted).decode().splitlines()]
    assert numbers == list(range(writer.lines))


def _rotate_during(monkeypatch, call: str, log: Path, at: int, rotate) -> None:
    """Run `rotate` just before the `at`-th call of os.`call` on one of the log's names: a rotation
    at that exact point of the reader's work, with real files."""
    real = getattr(os, call)
    calls = 0

    def hooked(path, *args, **kwargs):
        nonlocal calls
        if str(path).startswith(str(log)):
            calls += 1
            if calls == at:
                monkeypatch.setattr(os, call, real)
                rotate()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, call, hooked)


@pytest.mark.parametrize("at", range(1, 6))
def test_a_rotation_while_the_chain_is_read_hides_no_file(tmp_path: Path, monkeypatch, at: int):
    """Whenever a rename rotation falls between the chain's looks at the names, every file that
    exists before and after it is in the chain, oldest first (looked at oldest first, `.1` moved
    to `.2` after `.2` was looked at and before `.1` was: missed, and its lines skipped)."""
    log = tmp_path / "access.log"
    writer = _Logrotate(log)
    for _ in range(2):
        writer.write(5)
        writer.rotate(rename=True)
    writer.write(5)
    inodes = [os.stat(p).st_ino for p in (f"{log}.2", f"{log}.1", log)]  # oldest first
    stream = Stream(str(log), [f"{{path}}.{n}" for n in range(1, 5)], rotate_wait=0.0)
    _rotate_during(monkeypatch, "stat", log, at, lambda: writer.rotate(rename=True))
    seen = [c.ino for c in stream.chain()]
    assert len(seen) == len(set(seen))
    assert [ino for ino in seen if ino in inodes] == inodes


def test_a_file_moved_between_the_chain_and_its_opening_is_not_skipped(tmp_path: Path, monkeypatch):
    """The reader finishes a rotated file and opens the live one; a rotation renames that file just
    before: the name now holds the new, empty file. The reader notices the other inode and reads the
    chain again, so the renamed file's lines are read, then the new file's."""
    log = tmp_path / "access.log"
    writer = _Logrotate(log)
    writer.write(5)
    writer.rotate(rename=True)
    writer.write(7)
    stream = Stream(str(log), ["{path}.1", "{path}.2"], rotate_wait=0.0)
    stream.start([], at_end=False)
    stream.close()
    stream = Stream(str(log), ["{path}.1", "{path}.2"], rotate_wait=0.0)
    first = stream.chain()[0]
    assert stream.start([FilePos(first.dev, first.ino, "0" * 32, 0, 0)], at_end=False) == []

    def rotate_then_write() -> None:
        writer.rotate(rename=True)
        writer.write(3)

    # the first open of a log name from here on is the reader moving on to the live file
    _rotate_during(monkeypatch, "open", log, 1, rotate_then_write)
    data, _ = _drain(stream)
    numbers = [int(line.split()[1]) for line in data.decode().splitlines()]
    assert numbers == list(range(15))
