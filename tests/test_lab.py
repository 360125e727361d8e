"""The lab's host definitions and its container recipe, against real podman."""

import subprocess
import uuid

import pytest

from lab.hosts import load_lab_hosts
from lab.image import ensure_base_image
from lab.paths import LAB_INVENTORY
from lab.podman import (
    ContainerHost,
    container_rm,
    container_state,
    container_up,
    ensure_network,
    podman,
    remove_network,
    wait_for_systemd,
)
from tests.support import require_binary


def test_lab_inventory_defines_the_container_hosts():
    specs = {spec.inventory_name: spec for spec in load_lab_hosts(LAB_INVENTORY)}
    assert {"db1", "edge1", "edge2"} <= set(specs)
    assert specs["edge1"].container == "cdnlab-edge1"


def test_missing_group_is_a_clear_error(tmp_path):
    bad = tmp_path / "hosts.yml"
    bad.write_text("all:\n  children:\n    web:\n      hosts:\n        a:\n")
    with pytest.raises(ValueError, match="lab_containers"):
        load_lab_hosts(bad)


def test_run_args_make_a_systemd_host_on_the_network():
    args = ContainerHost("h1", "img:tag", "net1", publish=("127.0.0.1:8080:80",)).run_args()
    assert args[-2:] == ["img:tag", "/sbin/init"]
    assert args[args.index("--systemd") : args.index("--systemd") + 2] == ["--systemd", "always"]
    assert "127.0.0.1:8080:80" in args
    assert args[args.index("--network") + 1] == "net1"


@pytest.fixture(scope="module")
def two_hosts():
    require_binary("podman")
    image, _ = ensure_base_image()
    network = f"cdnlab-test-{uuid.uuid4().hex[:6]}"
    hosts = [ContainerHost(f"{network}-{n}", image, network) for n in ("a", "b")]
    ensure_network(network)
    try:
        for host in hosts:
            assert container_up(host)
        yield hosts
    finally:
        for host in hosts:
            container_rm(host.name)
        remove_network(network)


def test_hosts_boot_systemd_and_resolve_each_other(two_hosts):
    a, b = two_hosts
    assert wait_for_systemd(a.name) in ("running", "degraded")
    assert b.name in podman(["exec", a.name, "getent", "hosts", b.name])


def test_container_up_is_idempotent(two_hosts):
    assert container_up(two_hosts[0]) is False
    assert container_state(two_hosts[0].name) == "running"


def test_base_image_is_cached():
    tag, built = ensure_base_image()
    assert built is False
    assert tag.startswith("localhost/cdnlab-debian:bookworm-")


def test_lab_cli_status_lists_every_host():
    out = subprocess.run(["lab", "status"], capture_output=True, text=True, check=True).stdout
    assert {line.split("\t")[0] for line in out.splitlines()} >= {"db1", "edge1", "edge2"}


def test_network_in_use_is_kept(two_hosts):
    assert remove_network(two_hosts[0].network) is False
    assert container_state(two_hosts[0].name) == "running"
