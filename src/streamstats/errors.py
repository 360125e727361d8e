"""The configuration error type: every message names the offending key."""

from __future__ import annotations


class ConfigError(ValueError):
    """Invalid configuration; `key` is the dotted path of the offending key (e.g. statistics[3].bucket)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
