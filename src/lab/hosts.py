"""The lab's container hosts, defined once in inventory/lab/hosts.yml (group `lab_containers`).

The same container recipe (image, network, systemd) serves the lab and the Molecule scenarios, whose
create/destroy playbooks call `lab container up|down`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.paths import cache_dir
from lab.podman import ContainerHost

LAB_NETWORK = "cdnlab"
CONTAINER_GROUP = "lab_containers"
BOOT_SERVER_GROUP = "ipxe_server"


def lab_container(
    name: str,
    image: str,
    network: str = LAB_NETWORK,
    *,
    hostname: str = "",
    publish: tuple[str, ...] = (),
    role: str = "lab",
) -> ContainerHost:
    """The one container recipe for lab and Molecule hosts.

    Downloaded .deb files are kept per host name across re-creations, so a scenario's second run does
    not download its packages again. (One cache shared by concurrent hosts does not work: apt's lock
    on the archive directory fails at once instead of waiting.)
    """
    apt_archives = cache_dir() / "apt-archives" / name
    (apt_archives / "partial").mkdir(parents=True, exist_ok=True)
    return ContainerHost(
        name=name,
        image=image,
        network=network,
        hostname=hostname,
        publish=publish,
        labels=(f"role={role}",),
        volumes=(f"{apt_archives}:/var/cache/apt/archives",),
    )


@dataclass(frozen=True)
class LabHostSpec:
    """One inventory host that the lab runs as a container."""

    inventory_name: str
    container: str
    publish: tuple[str, ...] = ()

    def container_host(self, image: str, network: str = LAB_NETWORK) -> ContainerHost:
        return lab_container(
            self.container, image, network, hostname=self.inventory_name, publish=self.publish
        )


def group_containers(inventory_file: Path, group: str) -> list[str]:
    """Container names of the lab hosts in an inventory group (such as `edge`), in inventory order."""
    data = yaml.safe_load(inventory_file.read_text()) or {}
    members = ((data.get("all", {}).get("children", {}) or {}).get(group) or {}).get("hosts") or {}
    containers = {spec.inventory_name: spec.container for spec in load_lab_hosts(inventory_file)}
    missing = [name for name in members if name not in containers]
    if missing or not members:
        raise ValueError(f"{inventory_file}: group {group!r} needs lab container hosts (not: {missing})")
    return [containers[name] for name in members]


def load_lab_hosts(inventory_file: Path) -> list[LabHostSpec]:
    """Read the container hosts out of the lab's YAML inventory."""
    data = yaml.safe_load(inventory_file.read_text()) or {}
    group = (data.get("all", {}).get("children", {}) or {}).get(CONTAINER_GROUP)
    if not group or not group.get("hosts"):
        raise ValueError(f"{inventory_file}: no hosts in group {CONTAINER_GROUP!r}")
    specs = []
    for name, hostvars in group["hosts"].items():
        hostvars = hostvars or {}
        specs.append(
            LabHostSpec(
                inventory_name=name,
                container=hostvars.get("ansible_host", name),
                publish=tuple(hostvars.get("lab_publish", ())),
            )
        )
    return specs


def boot_server_address(inventory_file: Path) -> str | None:
    """HOST:PORT on this machine of the lab's boot web server: its first `lab_publish` mapping."""
    data = yaml.safe_load(inventory_file.read_text()) or {}
    children = data.get("all", {}).get("children", {}) or {}
    names = list((children.get(BOOT_SERVER_GROUP) or {}).get("hosts") or {})
    for spec in load_lab_hosts(inventory_file):
        if spec.inventory_name in names and spec.publish:
            host, port, _ = spec.publish[0].rsplit(":", 2)
            return f"{host}:{port}"
    return None
