"""Helpers shared by the test modules."""

import shutil
from typing import Any

import pytest
import requests


def require_binary(name: str) -> str:
    """Path of a binary the test needs; `make test` installs them all (scripts/deps.sh)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/deps.sh (make test does)")
    return path


def simulator_admin(url: str, api_key: str, method: str, name: str, payload: Any = None) -> requests.Response:
    """A call to the LeaseWeb simulator's admin endpoint `/_simulator/NAME` (reset, faults, state, ...)."""
    response = requests.request(
        method, f"{url}/_simulator/{name}", json=payload, headers={"X-LSW-Auth": api_key}, timeout=10
    )
    response.raise_for_status()
    return response
