"""`lab`: bring the local lab up and down.

lab image                      build (or reuse) the Debian base image
lab up | down | status         the lab's container hosts from inventory/lab/hosts.yml
lab container up|down NAME...  single containers from the same recipe (Molecule's create/destroy)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lab.hosts import LAB_NETWORK, lab_container, load_lab_hosts
from lab.image import ensure_base_image
from lab.paths import LAB_INVENTORY
from lab.podman import (
    ContainerHost,
    PodmanError,
    container_rm,
    container_state,
    container_up,
    ensure_network,
    remove_network,
    wait_for_systemd,
)
from lab.sshkey import ensure_ssh_key

log = logging.getLogger("lab")


def _start(hosts: list[ContainerHost]) -> None:
    if hosts:
        ensure_network(hosts[0].network)
    for host in hosts:
        print(f"{host.name}: {'started' if container_up(host) else 'running'}")
    for host in hosts:
        state = wait_for_systemd(host.name)
        if state not in ("running", "degraded"):
            raise PodmanError(f"{host.name}: systemd did not finish booting ({state or 'no answer'})")


def _stop(names: list[str]) -> None:
    for name in names:
        print(f"{name}: {'removed' if container_rm(name) else 'absent'}")


def cmd_image(_: argparse.Namespace) -> None:
    tag, built = ensure_base_image()
    print(f"{tag}: {'built' if built else 'cached'}")


def cmd_up(args: argparse.Namespace) -> None:
    print(f"operator key: {ensure_ssh_key()}")
    image, _ = ensure_base_image()
    _start([spec.container_host(image) for spec in load_lab_hosts(args.inventory)])


def cmd_down(args: argparse.Namespace) -> None:
    _stop([spec.container for spec in load_lab_hosts(args.inventory)])
    if remove_network(LAB_NETWORK):
        print(f"network {LAB_NETWORK}: removed")


def cmd_status(args: argparse.Namespace) -> None:
    for spec in load_lab_hosts(args.inventory):
        print(f"{spec.inventory_name}\t{spec.container}\t{container_state(spec.container) or 'absent'}")


def cmd_container(args: argparse.Namespace) -> None:
    if args.action == "down":
        _stop(args.names)
        return
    image, _ = ensure_base_image()
    _start([lab_container(name, image, args.network, role="molecule") for name in args.names])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", type=Path, default=LAB_INVENTORY, help="the lab's hosts.yml")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("image", help="build or reuse the base image").set_defaults(func=cmd_image)
    sub.add_parser("up", help="start the lab's container hosts").set_defaults(func=cmd_up)
    sub.add_parser("down", help="remove the lab's container hosts").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show the lab's container hosts").set_defaults(func=cmd_status)
    container = sub.add_parser("container", help="single containers from the lab's recipe")
    container.add_argument("action", choices=("up", "down"))
    container.add_argument("names", nargs="+")
    container.add_argument("--network", default=LAB_NETWORK)
    container.set_defaults(func=cmd_container)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (PodmanError, ValueError, OSError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
