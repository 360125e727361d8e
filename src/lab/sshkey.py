"""The lab operator's SSH key pair, generated on first use and kept out of git (.lab/ssh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab.paths import LAB_STATE


def ensure_ssh_key(directory: Path = LAB_STATE / "ssh") -> Path:
    """Return the private key path, creating an ed25519 pair if there is none."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = directory / "id_ed25519"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cdn-lab-operator", "-f", str(key)],
            check=True,
        )
    return key
