"""A twin really network-boots its own script into the live image, gets the OS installed over SSH, and
boots that OS from its disk once the lease is gone: QEMU (TCG), iPXE, nginx, dropbear, pyinfra."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.twin import Twin
from tests.support import require_binary
from tests.twin.conftest import TIMINGS, TWIN
from tests.twin.support import new_port, ssh, wait_for_text

BOOT_TIMEOUT = 180  # a failed boot shows up as a console log in the assertion, never a hang


@dataclass(frozen=True)
class TwinRun:
    state_dir: Path
    ssh_port: int
    boot_server: object
    server_id: str = TWIN["id"]
    mac: str = TWIN["mac"]

    def power(self, event: str, lease: dict[str, str] | None) -> dict[str, object]:
        """Feed `lab twin power-event` one event, as the LeaseWeb simulator's power hook does."""
        payload = {"event": event, "serverId": self.server_id, "macAddress": self.mac, "lease": lease}
        proc = subprocess.run(
            [
                "lab",
                "twin",
                "power-event",
                "--state-dir",
                str(self.state_dir),
                "--boot-server",
                self.boot_server.address,
                "--ssh-port",
                str(self.ssh_port),
            ],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    def stop(self) -> None:
        Twin(self.state_dir, self.server_id).stop()

    def console(self) -> Path:
        boot = Twin(self.state_dir, self.server_id).boot()
        assert boot is not None
        return Path(boot.console)


@pytest.fixture(scope="module")
def twin(boot_server, tmp_path_factory):
    require_binary("qemu-system-x86_64")
    run = TwinRun(tmp_path_factory.mktemp("twins"), new_port(), boot_server)
    yield run
    run.stop()


@pytest.fixture(scope="module")
def live(twin):
    lease = {"bootfile": f"http://10.0.2.100/servers/{TWIN['id']}.ipxe", "hostname": TWIN["hostname"]}
    start = time.monotonic()
    result = twin.power("powerCycle", lease)
    wait_for_text(twin.console(), r"cdn-infra: stage=live ready", BOOT_TIMEOUT)
    TIMINGS["netboot_to_live_s"] = round(time.monotonic() - start, 1)
    return result


@pytest.fixture(scope="module")
def installed(twin, live, operator_key):
    start = time.monotonic()
    result = install(twin, operator_key)
    TIMINGS["install_s"] = round(time.monotonic() - start, 1)
    return result


@pytest.fixture(scope="module")
def disk_boot(twin, installed):
    start = time.monotonic()
    result = twin.power("powerCycle", None)
    wait_for_text(twin.console(), r"cdn-infra: installed OS ready", BOOT_TIMEOUT)
    TIMINGS["disk_boot_s"] = round(time.monotonic() - start, 1)
    print(f"\ntwin timings: {json.dumps(TIMINGS)}")
    return result


def install(twin: TwinRun, key: Path) -> dict[str, object]:
    proc = subprocess.run(
        [
            "cdn-install-os",
            "--host",
            "127.0.0.1",
            "--port",
            str(twin.ssh_port),
            "--key",
            str(key),
            "--server-id",
            TWIN["id"],
            "--hostname",
            TWIN["hostname"],
            "--authorized-keys",
            str(key.with_suffix(".pub")),
            "--callback-url",
            f"http://10.0.2.100/callback/{TWIN['id']}",
            "--token",
            TWIN["token"],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_power_cycle_with_a_lease_starts_a_network_boot(live, twin):
    assert live["action"] == "started"
    assert live["device"] == "network"
    assert live["bootfile"] == f"http://10.0.2.100/servers/{TWIN['id']}.ipxe"
    assert Twin(twin.state_dir, TWIN["id"]).pid() is not None


def test_vm_fetched_its_own_script_kernel_and_initrd(live, boot_server):
    log = boot_server.access_log.read_text()
    for path in (f"/servers/{TWIN['id']}.ipxe", "/images/live/vmlinuz", "/images/live/initrd.img"):
        assert re.search(rf'uri="{re.escape(path)}" status=200 .*agent="iPXE/', log), path
    assert f'uri="/servers/{TWIN["id"]}.keys" status=200' in log


def test_ipxe_ran_the_script_for_this_mac(live, twin):
    console = twin.console().read_text(errors="replace")
    assert f"cdn-infra: server {TWIN['id']} profile live on {TWIN['mac'].lower()}" in console
    assert f"cdn-infra: live image starting: server={TWIN['id']} mode=live" in console
    assert "not " + TWIN["mac"].lower() not in console


def test_live_image_called_back(live, boot_server):
    wait_for_text(
        boot_server.callback_log,
        rf"server_id={TWIN['id']} stage=live token={TWIN['token']} mac={TWIN['mac'].lower()} ",
        10,
    )


def test_ssh_into_the_live_image_with_the_operator_key(live, twin, operator_key):
    proc = ssh(twin.ssh_port, operator_key, "cat /etc/cdn-live; hostname; test -b /dev/vda && echo disk")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["live", TWIN["hostname"], "disk"]


def test_ssh_into_the_live_image_with_the_key_from_the_kernel_command_line(live, twin, cmdline_key):
    proc = ssh(twin.ssh_port, cmdline_key, "grep -c . /root/.ssh/authorized_keys")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"


def test_live_image_refuses_a_key_it_was_not_given(live, twin, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    assert ssh(twin.ssh_port, stranger, "true").returncode == 255


def test_install_writes_and_verifies_the_image(installed):
    assert installed["changed"] is True
    assert installed["device"] == "/dev/vda"


def test_install_again_changes_nothing(installed, twin, operator_key):
    again = install(twin, operator_key)
    assert again["changed"] is False
    assert again["sha256"] == installed["sha256"]


def test_power_cycle_without_lease_boots_the_installed_os(disk_boot, twin, operator_key, installed):
    assert disk_boot["device"] == "disk"
    assert disk_boot["action"] == "restarted"
    proc = ssh(twin.ssh_port, operator_key, "cat /etc/cdn-provisioned; test -e /etc/cdn-live || echo no-live")
    assert proc.returncode == 0, proc.stderr
    marker = dict(line.split("=", 1) for line in proc.stdout.split() if "=" in line)
    assert marker["server_id"] == TWIN["id"]
    assert marker["hostname"] == TWIN["hostname"]
    assert marker["install_token"] == TWIN["token"]
    assert "no-live" in proc.stdout


def test_installed_os_has_only_the_installers_keys(disk_boot, twin, cmdline_key):
    assert ssh(twin.ssh_port, cmdline_key, "true").returncode == 255


def test_installed_os_called_back_and_booted_without_the_network(disk_boot, twin, boot_server):
    wait_for_text(
        boot_server.callback_log, rf"server_id={TWIN['id']} stage=installed token={TWIN['token']} ", 10
    )
    console = twin.console().read_text(errors="replace")
    assert "SYSLINUX" in console
    assert "iPXE" not in console.split("Booting from Hard Disk")[-1]


def test_power_off_stops_the_vm(disk_boot, twin):
    result = twin.power("powerOff", None)
    assert result == {"event": "powerOff", "serverId": TWIN["id"], "action": "stopped", "running": False}
    assert Twin(twin.state_dir, TWIN["id"]).pid() is None
    status = subprocess.run(
        ["lab", "twin", "status", "--state-dir", str(twin.state_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status.startswith(f"{TWIN['id']}\toff\tmac={TWIN['mac'].lower()}\tssh=127.0.0.1:{twin.ssh_port}")


def test_a_script_never_boots_another_servers_nic(boot_server, tmp_path):
    """A lease pointing at another server's script (an operator's typo) must not boot that profile."""
    stranger = TwinRun(tmp_path / "twins", new_port(), boot_server, "twin-102", "52:54:00:C1:01:02")
    kernels_before = boot_server.access_log.read_text().count('uri="/images/live/vmlinuz"')
    lease = {"bootfile": f"http://10.0.2.100/servers/{TWIN['id']}.ipxe", "hostname": "edge102"}
    try:
        assert stranger.power("powerOn", lease)["device"] == "network"
        console = stranger.console()
        wait_for_text(console, r"this script is for 52:54:00:c1:01:01, not 52:54:00:c1:01:02", BOOT_TIMEOUT)
        wait_for_text(console, r"Booting from Hard Disk", 60)
    finally:
        stranger.stop()
    assert boot_server.access_log.read_text().count('uri="/images/live/vmlinuz"') == kernels_before
