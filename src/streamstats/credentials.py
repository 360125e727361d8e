"""Who may write which agent's counters: each agent's bearer token is bound to its id.

The aggregator keeps only SHA-256 digests of the tokens, in a file of `AGENT_ID sha256:HEX` lines (a
`#` starts a comment). An agent may have several lines: during a rotation its old and new token are
both accepted. The file is read again when it changes, so adding an edge node or rotating a token needs
no restart. Shared tokens (`tokens`) are the version-1 scheme: any holder may write as any agent; keep
them only while the fleet moves to per-agent tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from streamstats.errors import ConfigError
from streamstats.logs import event

log = logging.getLogger("streamstats.credentials")
AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ANY_AGENT = "*"  # the identity of a shared token
_LINE = re.compile(r"^(?P<agent>\S+)\s+sha256:(?P<digest>[0-9a-f]{64})$")
RELOAD_EVERY = 1.0  # seconds between two checks of the file's modification time


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_credentials(text: str, source: str) -> dict[str, str]:
    """digest -> agent id; the error names the line."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match or not AGENT_ID.match(match["agent"]):
            raise ConfigError(f"{source}:{number}", "must be `AGENT_ID sha256:<64 lower-case hex digits>`")
        if out.get(match["digest"], match["agent"]) != match["agent"]:
            raise ConfigError(f"{source}:{number}", "this token is already bound to another agent")
        out[match["digest"]] = match["agent"]
    return out


@dataclass
class Credentials:
    shared: tuple[str, ...]
    path: str = ""
    _digests: dict[str, str] = field(default_factory=dict)
    _stamp: tuple[int, int] | None = None
    _checked: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.path:
            self._digests = parse_credentials(Path(self.path).read_text(), self.path)
            self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _reload(self, now: float) -> None:
        """Read the file again if it changed; a broken file keeps the previous credentials."""
        with self._lock:
            if now - self._checked < RELOAD_EVERY:
                return
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp or stamp is None:
                return
            try:
                digests = parse_credentials(Path(self.path).read_text(), self.path)
            except (OSError, ConfigError) as exc:
                event(log, logging.ERROR, "credentials_not_reloaded", path=self.path, error=str(exc))
                return
            self._digests, self._stamp = digests, stamp
            event(log, logging.INFO, "credentials_reloaded", path=self.path, tokens=len(digests))

    def identify(self, authorization: str, now: float) -> str | None:
        """The agent id a bearer token is bound to, ANY_AGENT for a shared token, None if unknown."""
        if not authorization.startswith("Bearer "):
            return None
        token = authorization.removeprefix("Bearer ").strip()
        if self.path:
            self._reload(now)
            agent = self._digests.get(digest(token))
            if agent is not None:
                return agent
        if any(hmac.compare_digest(token.encode(), t.encode()) for t in self.shared):
            return ANY_AGENT
        return None


def may_write(identity: str, agent: str) -> bool:
    return identity in (ANY_AGENT, agent)
