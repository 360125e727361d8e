"""Verify the common baseline on the converged host (testinfra, podman:// backend)."""

import os
import subprocess

import pytest

HOST = "podman://mol-common"
testinfra_hosts = [HOST]


def test_chrony_sources(host):
    assert host.package("chrony").is_installed
    sources = host.file("/etc/chrony/sources.d/common.sources")
    assert sources.mode == 0o644
    assert "server 0.debian.pool.ntp.org iburst" in sources.content_string
    assert host.service("chrony").is_enabled


def test_timezone_and_locale(host):
    assert host.file("/etc/localtime").linked_to.endswith("Etc/UTC")
    assert "LANG=en_US.UTF-8" in host.file("/etc/default/locale").content_string
    assert "en_US.utf8" in host.run("locale -a").stdout


def test_unattended_upgrades_off(host):
    assert not host.package("unattended-upgrades").is_installed
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "0";' in periodic
    assert 'APT::Periodic::Update-Package-Lists "0";' in periodic


def test_admin_user(host):
    ops = host.user("ops")
    assert "sudo" in ops.groups
    assert ops.password == "!"
    keys = host.file("/home/ops/.ssh/authorized_keys")
    assert keys.user == "ops"
    assert keys.mode == 0o600
    assert "molecule-common" in keys.content_string
    assert host.file("/etc/sudoers.d/10-common-admins").mode == 0o440
    assert host.run("sudo -l -U ops").stdout.count("NOPASSWD: ALL") == 1


def test_sshd_effective_config(host):
    assert host.service("ssh").is_running
    assert host.socket("tcp://0.0.0.0:22").is_listening
    effective = host.check_output("sshd -T")
    for line in (
        "permitrootlogin no",
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "maxauthtries 3",
        "x11forwarding no",
        "allowgroups sudo",
    ):
        assert line in effective.splitlines()


@pytest.fixture()
def private_key_in_host(host):
    """Copy the test administrator's private key into the host, for real SSH logins over loopback."""
    key = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ops_ed25519")
    subprocess.run(["podman", "cp", key, "mol-common:/root/ops_ed25519"], check=True)
    host.run("chmod 600 /root/ops_ed25519")
    yield "/root/ops_ed25519"
    host.run("rm -f /root/ops_ed25519")


def _ssh(host, user, key):
    return host.run(
        f"ssh -i {key} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        f"{user}@127.0.0.1 sudo -n true"
    )


def test_ssh_key_login_and_sudo(host, private_key_in_host):
    assert _ssh(host, "ops", private_key_in_host).rc == 0


def test_ssh_refuses_root(host, private_key_in_host):
    assert _ssh(host, "root", private_key_in_host).rc == 255
