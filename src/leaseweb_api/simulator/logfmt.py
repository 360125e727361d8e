"""Structured log lines: `ts=... event=... key=value`, values quoted when they need it."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("leaseweb_simulator")


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if text == "" or any(ch.isspace() or ch in '"=' for ch in text):
        return json.dumps(text)
    return text


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    parts = [f"ts={datetime.now(UTC).isoformat(timespec='milliseconds')}", f"event={name}"]
    parts += [f"{key}={_value(value)}" for key, value in fields.items() if value is not None]
    log.log(level, " ".join(parts))


def setup(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
