"""Every boot profile, rendered by the ipxe_server role's `server` entry point and served by nginx."""

from __future__ import annotations

import re
import shlex
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.twin.conftest import PROFILE_SERVERS

# What Debian's iPXE build (2019) runs (shared/reference/lab-notes.md): no params/param, poweroff, ntp.
DEBIAN_IPXE_COMMANDS = {
    "echo",
    "iseq",
    "isset",
    "goto",
    "kernel",
    "initrd",
    "imgargs",
    "boot",
    "chain",
    "exit",
    "menu",
    "item",
    "choose",
    "shell",
}
BY_PROFILE = {server["profile"]: server for server in PROFILE_SERVERS}


def script(boot_server, server) -> str:
    return (boot_server.docroot / "servers" / f"{server['id']}.ipxe").read_text()


def statements(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()[1:] if line.strip() and not line.startswith("#")]


def kernel_args(text: str) -> dict[str, str]:
    line = next(s for s in statements(text) if s.startswith("kernel "))
    words = shlex.split(line.split(" || ")[0])[2:]
    return dict(word.split("=", 1) if "=" in word else (word, "") for word in words)


def fetch(boot_server, path: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://{boot_server.address}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


@pytest.mark.parametrize("profile", sorted(BY_PROFILE))
def test_script_is_ipxe_bound_to_the_servers_mac(boot_server, profile):
    server = BY_PROFILE[profile]
    text = script(boot_server, server)
    assert text.startswith("#!ipxe\n")
    assert f"iseq ${{net0/mac}} {server['mac'].lower()} || goto wrong_server" in statements(text)
    assert "Ansible managed" in text


@pytest.mark.parametrize("profile", sorted(BY_PROFILE))
def test_script_uses_only_commands_of_debians_ipxe(boot_server, profile):
    for statement in statements(script(boot_server, BY_PROFILE[profile])):
        if not statement.startswith(":"):
            assert statement.split()[0] in DEBIAN_IPXE_COMMANDS, statement


@pytest.mark.parametrize("profile", sorted(BY_PROFILE))
def test_every_jump_has_its_label(boot_server, profile):
    text = script(boot_server, BY_PROFILE[profile])
    labels = set(re.findall(r"^:(\S+)$", text, re.MULTILINE))
    targets = set(re.findall(r"goto (\w+)", text)) | set(re.findall(r"^item (\w+) ", text, re.MULTILINE))
    assert targets <= labels


@pytest.mark.parametrize("profile", ["live", "rescue"])
def test_live_kernel_line_carries_callback_and_key_source(boot_server, profile):
    server = BY_PROFILE[profile]
    args = kernel_args(script(boot_server, server))
    assert args["cdn.server"] == server["id"]
    assert args["cdn.mode"] == profile
    assert args["cdn.callback"] == f"http://10.0.2.100/callback/{server['id']}"
    assert args["cdn.token"] == server["token"]
    assert args["cdn.keys"] == f"http://10.0.2.100/servers/{server['id']}.keys"
    assert args["initrd"] == "initrd.img"  # the EFI build needs it; the initrd URL's name must match
    assert f"initrd http://10.0.2.100/images/live/{args['initrd']} || goto failed" in script(
        boot_server, server
    )


@pytest.mark.parametrize("profile", ["live", "rescue"])
def test_key_source_serves_the_operators_keys(boot_server, profile):
    server = BY_PROFILE[profile]
    status, body = fetch(boot_server, f"/servers/{server['id']}.keys")
    assert status == 200
    assert body.decode().splitlines() == server["ssh_keys"]


def test_rescue_menu_defaults_to_rescue_after_a_timeout(boot_server):
    text = script(boot_server, BY_PROFILE["rescue"])
    assert "choose --timeout 5000 --default rescue target || goto rescue" in text
    assert {"rescue", "local", "shell"} <= set(re.findall(r"^item (\w+) ", text, re.MULTILINE))


def test_preseed_script_and_file_agree(boot_server):
    server = BY_PROFILE["debian-preseed"]
    text = script(boot_server, server)
    args = kernel_args(text)
    preseed_path = f"/servers/{server['id']}.preseed"
    assert args["url"] == f"http://10.0.2.100{preseed_path}"
    assert (args["hostname"], args["domain"]) == ("deb1", "cdn.example")
    assert args["auto"] == "true"
    assert args["priority"] == "critical"
    installer = "http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64"
    assert f"kernel {installer}/linux " in text
    assert f"initrd {installer}/initrd.gz || goto failed" in text
    status, body = fetch(boot_server, preseed_path)
    assert status == 200
    preseed = body.decode()
    assert preseed == (boot_server.docroot / preseed_path.lstrip("/")).read_text()
    assert "d-i netcfg/get_hostname string deb1" in preseed
    assert "d-i mirror/http/hostname string deb.debian.org" in preseed
    assert "d-i mirror/http/directory string /debian" in preseed
    for key in server["ssh_keys"]:
        assert f"echo '{key}' >> /target/home/ops/.ssh/authorized_keys" in preseed
    callback = f"http://10.0.2.100/callback/{server['id']}"
    assert f"wget -q -O /dev/null '{callback}/installer?token=tok-preseed'" in preseed
    assert f"wget -q -O /dev/null '{callback}/installed?token=tok-preseed'" in preseed
    assert "d-i debian-installer/exit/poweroff boolean true" in preseed


def test_preseed_lines_are_debconf_answers(boot_server):
    preseed = (boot_server.docroot / "servers" / "render-preseed.preseed").read_text()
    logical = re.sub(r"\\\n", " ", preseed)
    for line in logical.splitlines():
        if line.strip() and not line.startswith("#"):
            owner, question, kind = line.split()[:3]
            assert owner in {"d-i", "tasksel", "popularity-contest"}, line
            assert "/" in question, line
            assert kind in {"string", "boolean", "select", "multiselect", "password", "note"}, line


def test_only_the_preseed_profile_gets_a_preseed_file(boot_server):
    rendered = {path.name for path in (boot_server.docroot / "servers").iterdir()}
    assert "render-preseed.preseed" in rendered
    assert "render-live.preseed" not in rendered
    assert "render-rescue.preseed" not in rendered


def test_boot_server_serves_scripts_and_answers_callbacks(boot_server):
    server = BY_PROFILE["live"]
    status, body = fetch(boot_server, f"/servers/{server['id']}.ipxe")
    assert (status, body.decode()) == (200, script(boot_server, server))
    assert fetch(boot_server, "/nothing-here")[0] == 404
    assert (
        fetch(boot_server, "/callback/render-live/probe?token=unit&mac=52:54:00:0a:00:01", "POST")[0] == 204
    )
    lines = Path(boot_server.callback_log).read_text().splitlines()
    assert any(
        " server_id=render-live stage=probe token=unit mac=52:54:00:0a:00:01 " in line for line in lines
    )
    assert fetch(boot_server, "/callback/../etc/passwd", "POST")[0] in (400, 404)
