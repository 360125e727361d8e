"""The twin's power-hook parsing and QEMU command line (no VM started)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lab.hosts import boot_server_address
from lab.installer import InstallRequest
from lab.paths import LAB_INVENTORY
from lab.twin import (
    BOOT_SERVER_IP,
    BootRecord,
    Lease,
    PowerEvent,
    TwinError,
    TwinSettings,
    qemu_argv,
    ssh_port_for,
)

EVENT = {
    "event": "powerCycle",
    "serverId": "12345",
    "macAddress": "AA:BB:CC:00:11:22",
    "lease": {"bootfile": "http://10.0.2.100/servers/12345.ipxe", "hostname": "edge1"},
}


def test_power_event_is_parsed():
    event = PowerEvent.from_json(json.dumps(EVENT))
    assert event == PowerEvent(
        "powerCycle", "12345", "aa:bb:cc:00:11:22", Lease("http://10.0.2.100/servers/12345.ipxe", "edge1")
    )
    assert PowerEvent.from_json(json.dumps({**EVENT, "lease": None})).lease is None


INSTALL_EVENT = {
    **EVENT,
    "event": "install",
    "lease": None,
    "jobId": "3f2a0c1e-0000-4000-8000-000000000001",
    "install": {
        "operatingSystemId": "DEBIAN_12_64BIT",
        "hostname": "edge1",
        "sshKeys": "ssh-ed25519 AAAA one\n\nssh-ed25519 BBBB two\n",
        "postInstallScript": base64.b64encode(b"#!/bin/sh\ntrue\n").decode(),
    },
}


def test_an_install_event_is_parsed():
    event = PowerEvent.from_json(json.dumps(INSTALL_EVENT))
    assert event.install == InstallRequest(
        INSTALL_EVENT["jobId"],
        "DEBIAN_12_64BIT",
        "edge1",
        ("ssh-ed25519 AAAA one", "ssh-ed25519 BBBB two"),
        b"#!/bin/sh\ntrue\n",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"jobId": None}, "jobId"),
        ({"install": None}, "install object"),
        ({"install": {"hostname": 7}}, "strings"),
        ({"install": {"postInstallScript": "not base64!"}}, "not base64"),
    ],
)
def test_bad_install_events_are_refused(change, message):
    with pytest.raises(TwinError, match=message):
        PowerEvent.from_json(json.dumps({**INSTALL_EVENT, **change}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event": "reboot"}, "unknown event"),
        ({"serverId": "../etc"}, "bad serverId"),
        ({"macAddress": "aa-bb"}, "bad macAddress"),
        ({"lease": {"hostname": "x"}}, "bootfile"),
    ],
)
def test_bad_power_events_are_refused(change, message):
    with pytest.raises(TwinError, match=message):
        PowerEvent.from_json(json.dumps({**EVENT, **change}))


def test_non_json_is_refused():
    with pytest.raises(TwinError, match="not JSON"):
        PowerEvent.from_json("powerCycle 12345")


def _argv(device: str, bootfile: str = "") -> list[str]:
    settings = TwinSettings("12345", "aa:bb:cc:00:11:22", 2222)
    boot = BootRecord(3, device, bootfile, "/state/console/boot-0003.log")
    return qemu_argv(settings, Path("/state"), boot, "127.0.0.1:18069", "edge1")


def test_network_boot_isolates_the_guest_and_offers_the_bootfile():
    argv = _argv("network", "http://10.0.2.100/a,b.ipxe")
    netdev = argv[argv.index("-netdev") + 1].split(",")
    assert "restrict=on" in netdev
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in netdev
    assert any(
        item.startswith(f"guestfwd=tcp:{BOOT_SERVER_IP}:80-cmd:") and item.endswith("nc 127.0.0.1 18069")
        for item in netdev
    )
    assert "bootfile=http://10.0.2.100/a,,b.ipxe" in argv[argv.index("-netdev") + 1]
    assert argv[argv.index("-boot") + 1] == "order=nc"
    assert argv[argv.index("-device") + 1] == "virtio-net-pci,netdev=n0,mac=aa:bb:cc:00:11:22"
    assert {"-daemonize", "-no-reboot"} <= set(argv)
    assert argv[argv.index("-accel") + 1] == "tcg"


def test_disk_boot_has_no_bootfile():
    argv = _argv("disk")
    assert "bootfile=" not in argv[argv.index("-netdev") + 1]
    assert argv[argv.index("-boot") + 1] == "order=c"
    assert argv[argv.index("-serial") + 1] == "file:/state/console/boot-0003.log"


def test_lab_boot_server_is_boot1s_published_port():
    assert boot_server_address(LAB_INVENTORY) == "127.0.0.1:18069"


def test_ssh_port_per_server_wins_over_a_default():
    assert ssh_port_for("12345", ["12344=2201", "12345=2202", "2299"]) == 2202
    assert ssh_port_for("99999", ["12345=2202", "2299"]) == 2299
    assert ssh_port_for("99999", ["12345=2202"]) is None
    with pytest.raises(TwinError, match="bad --ssh-port"):
        ssh_port_for("1", ["x=y"])
