"""The lab's controller-side services: detached daemons, the bare-metal servers, the simulator's hook."""

from __future__ import annotations

import stat
import sys

import pytest
import yaml

from lab.baremetal import SEED, LabServer, load_lab_servers, power_hook, wait_for_sshd
from lab.daemons import Daemon, DaemonError, port_open
from lab.paths import LAB_INVENTORY
from lab.services import ServicePorts, ensure_api_key
from lab.twin import free_port


def http_daemon(tmp_path, port: int) -> Daemon:
    """A real service for the daemon tests: Python's HTTP server on loopback."""
    argv = (sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1")
    return Daemon("http", argv, port, tmp_path / "state")


def test_the_lab_inventory_names_its_twin_by_a_seeded_server_id():
    servers = load_lab_servers(LAB_INVENTORY)
    seeded = {server["id"] for server in yaml.safe_load(SEED.read_text())["servers"]}
    assert servers == [LabServer("twin1", "90000001", 18022)]
    assert {server.server_id for server in servers} <= seeded


def test_an_unseeded_server_id_is_a_clear_error(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    baremetal:\n      hosts:\n"
        "        stray:\n          leaseweb_server_id: '123'\n          ansible_port: 2222\n"
    )
    with pytest.raises(ValueError, match=r"stray needs a leaseweb_server_id from leaseweb-seed\.yml"):
        load_lab_servers(inventory)


def test_the_lab_services_ports_come_from_the_inventory():
    assert ServicePorts.from_inventory(LAB_INVENTORY) == ServicePorts(
        leaseweb=18070, goiardi=18071, redmine=18072
    )


def test_the_power_hook_gives_each_server_its_ssh_port(tmp_path):
    hook = power_hook([LabServer("a", "1", 2201), LabServer("b", "2", 2202)], tmp_path, "127.0.0.1:80")
    assert hook[:5] == [sys.executable, "-m", "lab.cli", "twin", "power-event"]
    assert hook[hook.index("--state-dir") + 1] == str(tmp_path)
    assert hook[hook.index("--boot-server") + 1] == "127.0.0.1:80"
    assert [hook[i + 1] for i, arg in enumerate(hook) if arg == "--ssh-port"] == ["1=2201", "2=2202"]


def test_the_api_key_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / "leaseweb" / "api-key"
    key = ensure_api_key(path)
    assert len(key) == 48
    assert ensure_api_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_daemon_starts_once_and_stops(tmp_path):
    daemon = http_daemon(tmp_path, free_port())
    try:
        assert daemon.start() is True
        assert port_open(daemon.port)
        assert daemon.start() is False
        assert daemon.status() == f"running pid={daemon.pid()} 127.0.0.1:{daemon.port}"
    finally:
        assert daemon.stop() is True
    assert daemon.stop() is False
    assert not port_open(daemon.port)
    assert daemon.status() == "stopped"
    assert not daemon.pidfile.exists()


def test_a_daemon_that_exits_reports_its_log(tmp_path):
    argv = (sys.executable, "-c", "import sys; print('no config here'); sys.exit(3)")
    daemon = Daemon("broken", argv, free_port(), tmp_path)
    with pytest.raises(DaemonError, match=r"(?s)broken exited with 3:.*no config here"):
        daemon.start()
    assert daemon.pid() is None


def test_a_taken_port_is_refused_before_starting(tmp_path):
    other = http_daemon(tmp_path / "other", free_port())
    other.start()
    try:
        with pytest.raises(DaemonError, match="is taken by another process"):
            http_daemon(tmp_path, other.port).start()
    finally:
        other.stop()


def test_waiting_for_sshd_gives_up_on_a_port_without_ssh(tmp_path):
    daemon = http_daemon(tmp_path, free_port())
    daemon.start()
    try:
        assert wait_for_sshd(daemon.port, timeout=1.5) is False
    finally:
        daemon.stop()
