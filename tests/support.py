"""Helpers shared by the test modules."""

import shutil

import pytest


def require_binary(name: str) -> str:
    """Path of a binary the test needs; `make test` installs them all (scripts/deps.sh)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/deps.sh (make test does)")
    return path
