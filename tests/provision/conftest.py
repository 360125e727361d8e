"""Fixtures of the provisioning tests: a private boot server, LeaseWeb simulator, goiardi and twin, and the
evidence (serial consoles, stage times) printed at the end of the run so that CI logs show it."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chef_api import ChefClient, ChefSettings
from lab.baremetal import LabServer, power_hook
from lab.services import goiardi, simulator
from lab.twin import free_port
from netboot.build import build_all, publish_live
from tests.provision.harness import HOST, SERVER_ID, ProvisionLab, seed
from tests.support import require_binary
from tests.twin.support import BootServer, render_boot_files

PLACEHOLDER = {
    "id": "placeholder",
    "mac": "52:54:00:cd:91:ff",
    "hostname": "placeholder",
    "profile": "live",
    "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholder nobody@example"],
    "token": "unused",
}
# Sections printed in the terminal summary: (title, lines).
EVIDENCE: list[tuple[str, list[str]]] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, lines in EVIDENCE:
        terminalreporter.section(title, sep="-")
        for line in lines:
            terminalreporter.line(line)


@pytest.fixture(scope="session")
def operator_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = tmp_path_factory.mktemp("operator") / "id_ed25519"
    command = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "provision-test", "-f", str(key)]
    subprocess.run(command, check=True)
    return key


@pytest.fixture(scope="session")
def boot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BootServer]:
    """nginx with the ipxe_server role's site and the live image: what the role's main entry point sets up."""
    for binary in ("nginx", "ansible-playbook", "mformat", "syslinux", "dropbear", "busybox"):
        require_binary(binary)
    prefix = tmp_path_factory.mktemp("bootserver")
    server = BootServer(prefix, free_port())
    (server.docroot / "servers").mkdir(parents=True)
    # The role's defaults, which the site template needs, load with one server's files: a throwaway one.
    render_boot_files(server, [PLACEHOLDER], prefix)
    for path in (server.docroot / "servers").iterdir():
        path.unlink()
    publish_live(build_all(), server.docroot)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, boot_server: BootServer, operator_key: Path):
    """The simulator (its power hook drives the twin) and goiardi, started as `lab up` starts them."""
    require_binary("qemu-system-x86_64")
    work = tmp_path_factory.mktemp("provision")
    ssh_port = free_port()
    hook = power_hook([LabServer(HOST, SERVER_ID, ssh_port)], work / "twins", boot_server.address)
    api_key = secrets.token_hex(16)
    leaseweb = simulator(work / "leaseweb", free_port(), api_key, hook, seed(work / "seed.yml"))
    # LeaseWeb's install job ends when the twin's installed OS is up; its 6 tasks need not take 30 s more.
    leaseweb = dataclasses.replace(leaseweb, argv=(*leaseweb.argv, "--job-step-seconds", "1"))
    chef = goiardi(work / "goiardi", free_port())
    provision_lab = ProvisionLab(work, boot_server, leaseweb, chef, api_key, ssh_port, operator_key)
    try:
        chef.start()
        leaseweb.start()
        yield provision_lab
    finally:
        provision_lab.twin.stop()
        leaseweb.stop()
        chef.stop()


@pytest.fixture(scope="session")
def chef(lab: ProvisionLab) -> Iterator[ChefClient]:
    settings = ChefSettings(lab.chef_url, "admin", client_key=str(lab.chef.state_dir / "admin.pem"))
    with ChefClient.from_settings(settings) as client:
        yield client
