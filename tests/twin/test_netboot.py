"""The netboot artefacts: initramfs archives, the Debian kernel's modules, the installed-OS disk image."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
from pathlib import Path

import pytest

from netboot.cpio import CpioArchive
from netboot.debkernel import fetch_kernel
from netboot.diskimage import PARTITION_START, SiteConfig, personalise, site_overlay
from netboot.initramfs import INSTALLED_OS, LIVE, build_initramfs


def cpio_list(data: bytes) -> list[str]:
    proc = subprocess.run(["cpio", "-itv", "--quiet"], input=data, capture_output=True, check=True)
    return proc.stdout.decode().splitlines()


def cpio_member(data: bytes, name: str) -> str:
    proc = subprocess.run(
        ["cpio", "-i", "--to-stdout", "--quiet", name], input=data, capture_output=True, check=True
    )
    return proc.stdout.decode()


def test_cpio_writer_output_is_read_by_cpio():
    archive = CpioArchive()
    archive.tree("etc/cdn")
    archive.file("etc/cdn/site.env", b"A=1\n", 0o600)
    archive.directory("bin")
    archive.symlink("bin/sh", "busybox")
    archive.char_device("console", 5, 1)
    listing = cpio_list(archive.to_bytes())
    assert [line.split()[-1] for line in listing] == [
        "etc",
        "etc/cdn",
        "etc/cdn/site.env",
        "bin",
        "busybox",
        "console",
    ]
    assert listing[2].startswith("-rw-------")
    assert "bin/sh -> busybox" in listing[4]
    assert listing[5].startswith("crw-------") and "5,   1" in listing[5]
    assert cpio_member(archive.to_bytes(), "etc/cdn/site.env") == "A=1\n"


def test_cpio_refuses_duplicates():
    archive = CpioArchive()
    archive.directory("etc")
    with pytest.raises(ValueError, match="duplicate"):
        archive.directory("/etc")


def test_virtio_modules_load_after_their_dependencies(artefacts):
    kernel = fetch_kernel()
    order = [path.name.removesuffix(".ko") for path in kernel.load_order(["virtio_pci", "virtio_net"])]
    for before, after in [
        ("virtio", "virtio_pci"),
        ("virtio_ring", "virtio"),
        ("failover", "net_failover"),
        ("net_failover", "virtio_net"),
        ("virtio_pci_modern_dev", "virtio_pci"),
    ]:
        assert order.index(before) < order.index(after)
    assert len(order) == len(set(order))


def test_live_initrd_has_sshd_sftp_and_the_modules(artefacts):
    data = gzip.decompress(artefacts.live_initrd.read_bytes())
    names = {line.split()[-1] if "->" not in line else line.split()[-3] for line in cpio_list(data)}
    assert {
        "init",
        "bin/busybox",
        "bin/sh",
        "usr/sbin/dropbear",
        "usr/lib/sftp-server",
        "dev/console",
        "lib64/ld-linux-x86-64.so.2",
        "lib/cdn/lib.sh",
        "lib/cdn/udhcpc.sh",
        "etc/passwd",
    } <= names
    assert cpio_member(data, "init").startswith("#!/bin/sh\n")
    assert "cdn.callback" in cpio_member(data, "init")
    modules = cpio_member(data, "lib/cdn/modules").split()
    assert modules[-1].endswith("/virtio_blk.ko")
    assert all(module.lstrip("/") in names for module in modules)


def test_initramfs_is_cached_by_recipe(artefacts):
    kernel = fetch_kernel()
    assert build_initramfs(LIVE, kernel) == artefacts.live_initrd
    assert build_initramfs(INSTALLED_OS, kernel) == artefacts.os_initramfs
    assert artefacts.live_initrd != artefacts.os_initramfs


def test_disk_image_has_a_bootable_fat_partition(artefacts):
    image = artefacts.disk.path.read_bytes()
    assert image[510:512] == b"\x55\xaa"
    status, ptype, start, sectors = struct.unpack_from("<B3xB3xII", image, 446)
    assert (status, ptype, start) == (0x80, 0x0E, PARTITION_START)
    assert (start + sectors) * 512 == len(image)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    listing = subprocess.run(
        ["mdir", "-a", "-b", "-i", f"{artefacts.disk.path}@@{start * 512}", "::"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert {
        "::/ldlinux.sys",
        "::/ldlinux.c32",
        "::/vmlinuz",
        "::/initrd.img",
        "::/syslinux.cfg",
        "::/site.img",
    } <= set(listing.split())


def test_personalised_image_is_reproducible_and_carries_the_site(artefacts, tmp_path):
    site = SiteConfig(
        "srv-9", "edge9.example", ("ssh-ed25519 AAAA op",), "http://10.0.2.100/callback/srv-9", "t9"
    )
    first = personalise(artefacts.disk, site, tmp_path / "a.img")
    second = personalise(artefacts.disk, site, tmp_path / "b.img")
    other = personalise(
        artefacts.disk, SiteConfig("srv-8", "edge8.example", ("ssh-ed25519 AAAA op",)), tmp_path / "c.img"
    )
    assert first.sha256 == second.sha256
    assert len({first.sha256, other.sha256, artefacts.disk.sha256}) == 3
    overlay = gzip.decompress(site_overlay(site, artefacts.disk.sha256))
    marker = cpio_member(overlay, "etc/cdn-provisioned")
    assert marker.splitlines() == [
        "server_id=srv-9",
        "hostname=edge9.example",
        f"image_sha256={artefacts.disk.sha256}",
        "install_token=t9",
    ]
    assert "CDN_CALLBACK=http://10.0.2.100/callback/srv-9" in cpio_member(overlay, "etc/cdn/site.env")


def test_leaseweb_installer_overlay_has_the_post_install_script_and_no_marker(artefacts):
    """What the twin's stand-in for LeaseWeb's installer writes: only a post-install script makes a marker."""
    site = SiteConfig(
        "srv-7", "edge7", ("ssh-ed25519 AAAA op",), post_install=b"#!/bin/sh\ntrue\n", marker=False
    )
    overlay = gzip.decompress(site_overlay(site, artefacts.disk.sha256))
    assert cpio_member(overlay, "etc/cdn/post-install") == "#!/bin/sh\ntrue\n"
    modes = {line.split()[-1]: line.split()[0] for line in cpio_list(overlay)}
    assert modes["etc/cdn/post-install"] == "-rwx------"
    assert "etc/cdn-provisioned" not in modes


def test_netboot_build_cli_publishes_the_live_image(artefacts, tmp_path):
    proc = subprocess.run(
        ["netboot-build", "--docroot", str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert '"disk_image_sha256": "' + artefacts.disk.sha256 in proc.stdout
    assert (tmp_path / "images/live/vmlinuz").read_bytes() == Path(artefacts.vmlinuz).read_bytes()
    assert (tmp_path / "images/live/initrd.img").stat().st_size == artefacts.live_initrd.stat().st_size
