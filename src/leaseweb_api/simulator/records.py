"""What the simulator keeps per server, and the seed/state file format it is read from and written to.

The seed file (YAML or JSON) and the state file (JSON, written after every change) share one format: a
`servers` list whose entries carry the values a lab needs (id, reference, MACs, IPs, site, rack) plus, in the
state file, the run-time parts (power, lease, interface status, jobs). Optional top-level `operatingSystems`
and `rescueImages` replace the built-in catalogs. docs/leaseweb.md describes every key.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

INTERFACE_TYPES = ("public", "internal", "remoteManagement")
FEATURES = ("automation", "powerCycle", "ipmiReboot", "privateNetwork", "remoteManagement")

DEFAULT_OPERATING_SYSTEMS = (
    ("DEBIAN_12_64BIT", "Debian 12 (amd64)"),
    ("DEBIAN_11_64BIT", "Debian 11 (amd64)"),
    ("UBUNTU_24_04_64BIT", "Ubuntu 24.04 LTS (Noble Numbat) (amd64)"),
    ("UBUNTU_22_04_64BIT", "Ubuntu 22.04 LTS (Jammy Jellyfish) (amd64)"),
    ("ALMALINUX_9_64BIT", "AlmaLinux 9 (x86_64)"),
    ("ROCKY_LINUX_9_64BIT", "Rocky Linux 9 (x86_64)"),
    ("FREEBSD_14_64BIT", "FreeBSD 14.1 (amd64)"),
)
DEFAULT_RESCUE_IMAGES = (
    ("GRML", "GRML Linux Rescue Image (amd64)"),
    ("CENTOS_7", "CentOS 7 Linux Rescue Image (amd64)"),
    ("FREEBSD", "FreeBSD Rescue Image (amd64)"),
)


class SeedError(ValueError):
    """The seed or state file does not describe servers the simulator can serve."""


def iso(timestamp: float) -> str:
    """RFC 3339 with a `T`, as the spec's date-time format requires (the spec's examples use a space)."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _ipv4(value: Any, where: str) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError as exc:
        raise SeedError(f"{where}: {value!r} is not an IPv4 address") from exc


@dataclass
class Interface:
    mac: str | None
    ip: str | None
    gateway: str | None
    netmask: str
    switch: str | None
    switch_port: str | None
    link_speed: str
    status: str = "OPEN"

    @classmethod
    def from_seed(cls, data: dict[str, Any], where: str) -> Interface:
        return cls(
            mac=_opt_str(data, "mac"),
            ip=_ipv4(data.get("ip"), f"{where}.ip"),
            gateway=_ipv4(data.get("gateway"), f"{where}.gateway"),
            netmask=str(data.get("netmask", "255.255.255.0")),
            switch=_opt_str(data, "switch"),
            switch_port=_opt_str(data, "switchPort"),
            link_speed=str(data.get("linkSpeed", "10Gbps")),
            status=str(data.get("status", "OPEN")).upper(),
        )

    def to_seed(self) -> dict[str, Any]:
        return {
            "mac": self.mac,
            "ip": self.ip,
            "gateway": self.gateway,
            "netmask": self.netmask,
            "switch": self.switch,
            "switchPort": self.switch_port,
            "linkSpeed": self.link_speed,
            "status": self.status,
        }


@dataclass
class Lease:
    bootfile: str
    hostname: str | None
    created: float
    updated: float
    last_client_request: dict[str, Any] | None = None

    @classmethod
    def from_seed(cls, data: dict[str, Any], now: float) -> Lease:
        if not data.get("bootfile"):
            raise SeedError("a lease needs a bootfile")
        return cls(
            bootfile=str(data["bootfile"]),
            hostname=_opt_str(data, "hostname"),
            created=float(data.get("created", now)),
            updated=float(data.get("updated", now)),
            last_client_request=data.get("lastClientRequest"),
        )

    def to_seed(self) -> dict[str, Any]:
        return {
            "bootfile": self.bootfile,
            "hostname": self.hostname,
            "created": self.created,
            "updated": self.updated,
            "lastClientRequest": self.last_client_request,
        }


@dataclass
class Power:
    """Power as IPMI sees it: a settled status, and a transition that completes at `settles_at`."""

    status: str
    target: str | None = None
    settles_at: float | None = None

    def settle(self, now: float) -> None:
        if self.target is not None and self.settles_at is not None and now >= self.settles_at:
            self.status, self.target, self.settles_at = self.target, None, None

    def to_seed(self) -> dict[str, Any]:
        return {"status": self.status, "target": self.target, "settlesAt": self.settles_at}

    @classmethod
    def from_seed(cls, value: Any) -> Power:
        if isinstance(value, dict):
            return cls(str(value.get("status", "on")).lower(), value.get("target"), value.get("settlesAt"))
        return cls(str(value if value is not None else "on").lower())


@dataclass
class Server:
    id: str
    reference: str | None
    asset_id: str
    serial_number: str
    contract_id: str
    site: str | None
    suite: str | None
    rack: str | None
    unit: str | None
    rack_id: str | None
    rack_type: str
    interfaces: dict[str, Interface]
    features: dict[str, bool]
    specs: dict[str, Any]
    power: Power
    lease: Lease | None = None
    jobs: list[dict[str, Any]] = field(default_factory=list)
    # {"type", "username", "password"}: what GET /credentials serves (without the passwords in lists).
    credentials: list[dict[str, str]] = field(default_factory=list)
    hardware_scanned_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_seed(cls, data: dict[str, Any], now: float) -> Server:
        if "id" not in data:
            raise SeedError(f"server without an id: {data!r}")
        server_id = str(data["id"])
        interfaces = data.get("interfaces") or {}
        unknown = set(interfaces) - set(INTERFACE_TYPES)
        if unknown:
            raise SeedError(f"server {server_id}: unknown interface type(s) {sorted(unknown)}")
        features = {name: True for name in FEATURES}
        features.update({str(k): bool(v) for k, v in (data.get("features") or {}).items()})
        return cls(
            id=server_id,
            reference=_opt_str(data, "reference"),
            asset_id=str(data.get("assetId", server_id)),
            serial_number=str(data.get("serialNumber", f"SIM{server_id}")),
            contract_id=str(data.get("contractId", f"1{server_id}")),
            site=_opt_str(data, "site"),
            suite=_opt_str(data, "suite"),
            rack=_opt_str(data, "rack"),
            unit=_opt_str(data, "unit"),
            rack_id=_opt_str(data, "rackId"),
            rack_type=str(data.get("rackType", "SHARED")),
            interfaces={
                kind: Interface.from_seed(value or {}, f"server {server_id} {kind}")
                for kind, value in interfaces.items()
            },
            features=features,
            specs=dict(data.get("specs") or {}),
            power=Power.from_seed(data.get("power")),
            lease=Lease.from_seed(data["lease"], now) if data.get("lease") else None,
            jobs=list(data.get("jobs") or []),
            credentials=[_credential(item, server_id) for item in data.get("credentials") or []],
            hardware_scanned_at=float(data.get("hardwareScannedAt", now)),
            extra=dict(data.get("extra") or {}),
        )

    def to_seed(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "assetId": self.asset_id,
            "serialNumber": self.serial_number,
            "contractId": self.contract_id,
            "site": self.site,
            "suite": self.suite,
            "rack": self.rack,
            "unit": self.unit,
            "rackId": self.rack_id,
            "rackType": self.rack_type,
            "interfaces": {kind: nic.to_seed() for kind, nic in self.interfaces.items()},
            "features": dict(self.features),
            "specs": self.specs,
            "power": self.power.to_seed(),
            "lease": self.lease.to_seed() if self.lease else None,
            "jobs": self.jobs,
            "credentials": self.credentials,
            "hardwareScannedAt": self.hardware_scanned_at,
            "extra": self.extra,
        }

    @property
    def public(self) -> Interface | None:
        return self.interfaces.get("public")

    @property
    def private_network_capable(self) -> bool:
        return self.features.get("privateNetwork", False)

    @property
    def private_network_enabled(self) -> bool:
        """Private networks are not simulated, so no server is in one."""
        return False

    def matches(
        self,
        *,
        reference: str | None = None,
        ip: str | None = None,
        mac: str | None = None,
        site: str | None = None,
        rack_id: str | None = None,
        private_network_capable: bool | None = None,
        private_network_enabled: bool | None = None,
    ) -> bool:
        """The list endpoint's filters; IP and MAC match any interface, MAC in any of the API's spellings."""
        nics = self.interfaces.values()
        return (
            (reference is None or self.reference == reference)
            and (ip is None or any(nic.ip == ip for nic in nics))
            and (mac is None or any(mac_digits(nic.mac or "") == mac_digits(mac) for nic in nics))
            and (site is None or self.site == site)
            and (rack_id is None or self.rack_id == rack_id)
            and (private_network_capable in (None, self.private_network_capable))
            and (private_network_enabled in (None, self.private_network_enabled))
        )


def _credential(item: Any, server_id: str) -> dict[str, str]:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("type", "username")):
        raise SeedError(f"server {server_id}: a credential needs a type and a username: {item!r}")
    return {"type": item["type"], "username": item["username"], "password": str(item.get("password", ""))}


def mac_digits(mac: str) -> str:
    """A MAC address as 12 lower-case hex digits: AA:BB:.., aa-bb-.. and aabb.ccdd.eeff are the same."""
    return "".join(char for char in mac.lower() if char in "0123456789abcdef")


def catalog(data: dict[str, Any], key: str, default: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    entries = data.get(key)
    if entries is None:
        return [{"id": ident, "name": name} for ident, name in default]
    return [{"id": str(item["id"]), "name": str(item.get("name", item["id"]))} for item in entries]


def load_servers(data: dict[str, Any], now: float) -> list[Server]:
    servers = [Server.from_seed(item, now) for item in data.get("servers") or []]
    ids = [server.id for server in servers]
    duplicates = sorted({ident for ident in ids if ids.count(ident) > 1})
    if duplicates:
        raise SeedError(f"duplicate server id(s): {duplicates}")
    return servers
