"""Where the lab finds the repository's files and keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path

# src/lab/paths.py -> repository root (the lab only runs from a checkout, never from a wheel).
REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO_ROOT / "scripts" / "podman" / "containers.conf"
LAB_INVENTORY = REPO_ROOT / "inventory" / "lab" / "hosts.yml"


def cache_dir() -> Path:
    """Slow artefacts (the base image's root file system) survive `git clean` here."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "cdn-infra"
    path.mkdir(parents=True, exist_ok=True)
    return path


# Run-time state of the lab (generated keys, logs); git-ignored.
LAB_STATE = REPO_ROOT / ".lab"
