"""Fault injection: rules that make matching requests slow, fail, or answer in an odd shape.

A rule is written `key=value,key=value` (on the command line, `--fault`, and in the `X-Simulator-Fault`
request header) or as a JSON object (`POST /_simulator/faults`):

  status=503          answer with this HTTP status instead of serving the request
  retry_after=2       add `Retry-After: 2`
  body=documented     error body: documented, symbol, details-list, details-nested, empty-object, empty, html
  delay=1.5           wait this long first (a slow response; alone, the request is then served normally)
  apply=true          serve the request (change the state) and then answer with `status`: a lost answer
  job=failed          jobs started by matching requests fail in their middle task
  method=POST         match only this method
  path=/bareMetals/v2/servers/*/powerCycle   match only paths like this (fnmatch; default: every API path)
  times=2             fire this many times, then the rule is dropped (default: every time)
  probability=0.25    fire at random with this probability (seeded with --random-seed)

A header rule applies to that one request; command-line and admin rules apply to every request they match.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, replace
from typing import Any

from leaseweb_api.simulator.errors import BODY_STYLES

_TRUE = ("1", "true", "yes", "on")


class FaultSpecError(ValueError):
    """A fault rule that cannot be parsed."""


@dataclass
class FaultRule:
    status: int | None = None
    retry_after: str | None = None
    body: str = "documented"
    delay: float = 0.0
    apply: bool = False
    job: str | None = None
    method: str | None = None
    path: str = "/*"
    times: int | None = None
    probability: float = 1.0

    def __post_init__(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise FaultSpecError(f"status {self.status} is not an error status")
        if self.body not in BODY_STYLES:
            raise FaultSpecError(f"body {self.body!r}: one of {', '.join(BODY_STYLES)}")
        if self.job not in (None, "failed"):
            raise FaultSpecError("job: only 'failed'")
        if self.method:
            self.method = self.method.upper()
        if self.status is None and not self.delay and self.job is None:
            raise FaultSpecError("a fault needs status, delay or job")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(path, self.path)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS: dict[str, Any] = {
    "status": int,
    "retry_after": str,
    "body": str,
    "delay": float,
    "apply": lambda v: str(v).lower() in _TRUE,
    "job": str,
    "method": str,
    "path": str,
    "times": int,
    "probability": float,
}


def rule_from_mapping(data: dict[str, Any]) -> FaultRule:
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise FaultSpecError(f"unknown fault key(s): {', '.join(sorted(unknown))}")
    try:
        return FaultRule(**{key: _FIELDS[key](value) for key, value in data.items() if value is not None})
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(str(exc)) from exc


def parse_rule(spec: str) -> FaultRule:
    pairs = {}
    for part in filter(None, (item.strip() for item in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise FaultSpecError(f"{part!r}: expected key=value")
        pairs[key.strip()] = value.strip()
    return rule_from_mapping(pairs)


class FaultInjector:
    """The rules in force; picks the one that fires for a request (thread-safe)."""

    def __init__(self, rules: list[FaultRule] | None = None, rng: random.Random | None = None):
        self._initial = list(rules or [])
        self._rules = [replace(rule) for rule in self._initial]
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        """Back to the command line's rules."""
        with self._lock:
            self._rules = [replace(rule) for rule in self._initial]

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def pick(self, method: str, path: str, header: str | None) -> FaultRule | None:
        if header:
            return parse_rule(header)
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path) or self._rng.random() >= rule.probability:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return rule
        return None
