"""Fixtures of the twin tests: the netboot artefacts (cached), an operator key, a boot web server."""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import pytest

from netboot.build import Artefacts, build_all, publish_live
from tests.support import require_binary
from tests.twin.support import BootServer, new_port, render_boot_files

# The servers the render tests look at, one per profile (their keys are never used to log in).
PROFILE_SERVERS = [
    {
        "id": "render-live",
        "mac": "52:54:00:0A:00:01",
        "hostname": "live1.cdn.example",
        "profile": "live",
        "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderLive ops@example"],
        "token": "tok-live",
    },
    {
        "id": "render-rescue",
        "mac": "52:54:00:0A:00:02",
        "hostname": "rescue1.cdn.example",
        "profile": "rescue",
        "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderRescue ops@example"],
        "token": "tok-rescue",
    },
    {
        "id": "render-preseed",
        "mac": "52:54:00:0A:00:03",
        "hostname": "deb1.cdn.example",
        "profile": "debian-preseed",
        "token": "tok-preseed",
        "ssh_keys": [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderA ops@example",
            "ssh-rsa AAAAB3NzaRenderB ci@example",
        ],
    },
]
TWIN = {
    "id": "twin-101",
    "mac": "52:54:00:C1:01:01",
    "hostname": "edge101.lab.example",
    "profile": "live",
    "token": "run-101",
}
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def artefacts() -> Artefacts:
    for binary in ("apt-get", "dpkg-deb", "mformat", "syslinux", "dropbear", "busybox"):
        require_binary(binary)
    start = time.monotonic()
    built = build_all()
    TIMINGS["build_or_cache_s"] = round(time.monotonic() - start, 2)
    return built


def _keypair(directory: Path, comment: str) -> Path:
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)], check=True)
    return key


@pytest.fixture(scope="session")
def operator_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator's key: the live image gets it from the key source URL, the OS from the installer."""
    return _keypair(tmp_path_factory.mktemp("operator"), "twin-operator")


@pytest.fixture(scope="session")
def cmdline_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second key, given to the live image on the kernel command line (cdn.authorized_keys)."""
    return _keypair(tmp_path_factory.mktemp("cmdline"), "twin-cmdline")


@pytest.fixture(scope="session")
def boot_server(
    tmp_path_factory: pytest.TempPathFactory, artefacts: Artefacts, operator_key: Path, cmdline_key: Path
):
    """nginx on 127.0.0.1 with the role's site, the live image, and every test server's boot files."""
    require_binary("nginx")
    require_binary("ansible-playbook")
    prefix = tmp_path_factory.mktemp("bootserver")
    server = BootServer(prefix, new_port())
    (server.docroot / "servers").mkdir(parents=True)  # the role's main entry point lays this out
    inline = base64.b64encode(cmdline_key.with_suffix(".pub").read_bytes()).decode()
    twin = {
        **TWIN,
        "ssh_keys": [operator_key.with_suffix(".pub").read_text().strip()],
        "kernel_args": f"cdn.authorized_keys={inline}",
    }
    render_boot_files(server, [*PROFILE_SERVERS, twin], prefix)
    publish_live(artefacts, server.docroot)
    server.start()
    yield server
    server.stop()
