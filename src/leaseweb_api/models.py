"""Records of the LeaseWeb Dedicated Server API, read defensively from its JSON.

Field names are snake_case; timestamps stay the strings the API sent. Where LeaseWeb's spec and its live API
disagree the readers accept both: interface IPs with or without a CIDR suffix, `currentTask` wrapped in
`{task: ...}` or not, power and interface statuses in either case.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

INTERFACE_TYPES = ("public", "internal", "remoteManagement")
JOB_TERMINAL_STATUSES = frozenset({"FINISHED", "FAILED", "CANCELED", "EXPIRED"})
JOB_FAILED_STATUSES = frozenset({"FAILED", "CANCELED", "EXPIRED"})


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _count(value: Any) -> int:
    """A count the API sends as a string of digits; 0 when it is anything else."""
    return int(value) if str(value).isdigit() else 0


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


class Record:
    """Mixin: reading a record from the API's camelCase JSON, and giving it back as plain JSON-ready data."""

    @classmethod
    def texts(cls, data: Any) -> dict[str, str | None]:
        """The record's `str | None` fields, each from the API key of the same name in camelCase."""
        data = _dict(data)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        return {f.name: _str(data.get(_camel(f.name))) for f in fields if f.type == "str | None"}

    @classmethod
    def from_api(cls, data: Any) -> Any:
        """For records made of text fields only."""
        return cls(**cls.texts(data))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class SwitchPort(Record):
    name: str | None
    port: str | None


@dataclass(frozen=True)
class NetworkInterface(Record):
    """A server's public, internal or remoteManagement interface, as the server resource describes it."""

    type: str
    mac: str | None
    ip: str | None
    prefix_length: int | None
    gateway: str | None
    null_routed: bool | None
    location_id: str | None
    ports: tuple[SwitchPort, ...]

    @classmethod
    def of_kind(cls, kind: str, data: Any) -> NetworkInterface:
        data = _dict(data)
        texts = cls.texts(data)
        ip, _, prefix = (texts.pop("ip") or "").partition("/")  # the live API sent "1.2.3.4/26"
        return cls(
            **texts,
            type=kind,
            ip=ip or None,
            prefix_length=int(prefix) if prefix.isdigit() else None,
            null_routed=data.get("nullRouted"),
            ports=tuple(SwitchPort.from_api(port) for port in _list(data.get("ports"))),
        )


@dataclass(frozen=True)
class Location(Record):
    site: str | None
    suite: str | None
    rack: str | None
    unit: str | None


@dataclass(frozen=True)
class Server(Record):
    """A dedicated server: identity, contract reference, location, interfaces and what it supports."""

    id: str
    reference: str | None
    asset_id: str | None
    serial_number: str | None
    contract_id: str | None
    delivery_status: str | None
    location: Location
    rack_id: str | None
    rack_type: str | None
    network_interfaces: dict[str, NetworkInterface]
    feature_availability: dict[str, bool]
    specs: dict[str, Any]
    private_networks: list[dict[str, Any]]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Server:
        contract = _dict(data.get("contract"))
        rack = _dict(data.get("rack"))
        interfaces = _dict(data.get("networkInterfaces"))
        return cls(
            id=str(data["id"]),
            reference=_str(contract.get("reference")),
            asset_id=_str(data.get("assetId")),
            serial_number=_str(data.get("serialNumber")),
            contract_id=_str(contract.get("id")),
            delivery_status=_str(contract.get("deliveryStatus")),
            location=Location.from_api(data.get("location")),
            rack_id=_str(rack.get("id")),
            rack_type=_str(rack.get("type")),
            network_interfaces={
                kind: NetworkInterface.of_kind(kind, interfaces[kind])
                for kind in INTERFACE_TYPES
                if kind in interfaces
            },
            feature_availability={k: bool(v) for k, v in _dict(data.get("featureAvailability")).items()},
            specs=_dict(data.get("specs")),
            private_networks=[_dict(item) for item in _list(data.get("privateNetworks"))],
        )

    def to_dict(self) -> dict[str, Any]:
        """The record plus the addresses most callers look for first."""
        extra = {
            "public_mac": self.public_mac,
            "public_ip": self.public_ip,
            "macs": self.macs,
            "ips": self.ips,
        }
        return {**super().to_dict(), **extra}

    def interface(self, kind: str) -> NetworkInterface | None:
        return self.network_interfaces.get(kind)

    @property
    def public_mac(self) -> str | None:
        public = self.interface("public")
        return public.mac if public else None

    @property
    def public_ip(self) -> str | None:
        public = self.interface("public")
        return public.ip if public else None

    @property
    def macs(self) -> list[str]:
        return [nic.mac for nic in self.network_interfaces.values() if nic.mac]

    @property
    def ips(self) -> list[str]:
        return [nic.ip for nic in self.network_interfaces.values() if nic.ip]

    def supports(self, feature: str) -> bool:
        return self.feature_availability.get(feature, False)


@dataclass(frozen=True)
class InterfaceStatus(Record):
    """An interface's switch port and its administrative/operational status (`/networkInterfaces`)."""

    type: str | None
    status: str | None
    oper_status: str | None
    link_speed: str | None
    switch_name: str | None
    switch_interface: str | None

    @property
    def is_open(self) -> bool:
        return (self.status or "").upper() == "OPEN"


@dataclass(frozen=True)
class Lease(Record):
    """A v2 DHCP reservation (public interface): option 67 is `bootfile`."""

    bootfile: str | None
    hostname: str | None
    ip: str | None
    mac: str | None
    gateway: str | None
    netmask: str | None
    site: str | None
    created_at: str | None
    updated_at: str | None
    last_client_request: dict[str, Any] | None

    @classmethod
    def from_api(cls, data: Any) -> Lease:
        last = _dict(data).get("lastClientRequest")
        return cls(**cls.texts(data), last_client_request=last if isinstance(last, dict) else None)


@dataclass(frozen=True)
class DhcpOption(Record):
    option_id: str | None
    name: str | None
    value: str | None
    type: str | None
    user_class: str | None
    vendor_class: str | None


@dataclass(frozen=True)
class V1Lease(Record):
    """A v1 lease (`/v1/bareMetals/{id}/leases`): one MAC with its DHCP options."""

    mac: str | None
    ip: str | None
    pop: str | None
    scope: str | None
    options: tuple[DhcpOption, ...]

    @classmethod
    def from_api(cls, data: Any) -> V1Lease:
        options = tuple(DhcpOption.from_api(item) for item in _list(_dict(data).get("options")))
        return cls(**cls.texts(data), options=options)

    @property
    def bootfile(self) -> str | None:
        """Option 67 for iPXE (user class gPXE/iPXE) if set, else the plain PXE one."""
        bootfiles = [opt for opt in self.options if opt.option_id == "67"]
        for opt in bootfiles:
            if (opt.user_class or "").lower() in ("gpxe", "ipxe"):
                return opt.value
        return bootfiles[0].value if bootfiles else None


@dataclass(frozen=True)
class PowerInfo(Record):
    """`/powerInfo`: the PDU's and the IPMI's view; the server is on only if neither says off."""

    ipmi: str | None
    pdu: str | None

    @classmethod
    def from_api(cls, data: Any) -> PowerInfo:
        data = _dict(data)
        return cls(
            ipmi=_str(_dict(data.get("ipmi")).get("status")), pdu=_str(_dict(data.get("pdu")).get("status"))
        )

    @property
    def is_on(self) -> bool:
        return all((status or "").lower() != "off" for status in (self.ipmi, self.pdu)) and bool(
            self.ipmi or self.pdu
        )

    @property
    def status(self) -> str:
        return "on" if self.is_on else "off"


@dataclass(frozen=True)
class Task(Record):
    uuid: str | None
    type: str | None
    description: str | None
    status: str | None
    flow: str | None
    on_error: str | None
    error_message: str | None
    created_at: str | None
    updated_at: str | None
    status_timestamps: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Any) -> Task:
        return cls(**cls.texts(data), status_timestamps=dict(_dict(_dict(data).get("statusTimestamps"))))


@dataclass(frozen=True)
class Job(Record):
    """An install, rescueMode, hardwareScan or ipmiReset job and its tasks."""

    uuid: str
    server_id: str | None
    type: str | None
    status: str | None
    is_running: bool
    flow: str | None
    created_at: str | None
    updated_at: str | None
    progress: dict[str, int]
    current_task: Task | None
    tasks: tuple[Task, ...]
    payload: dict[str, Any]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Job:
        current = data.get("currentTask")
        if isinstance(current, dict) and isinstance(current.get("task"), dict):
            current = current["task"]  # the schema wraps it, the examples and the live API do not
        return cls(
            uuid=str(data["uuid"]),
            server_id=_str(data.get("serverId") or data.get("bareMetalId")),
            type=_str(data.get("type")),
            status=_str(data.get("status")),
            is_running=bool(data.get("isRunning")),
            flow=_str(data.get("flow")),
            created_at=_str(data.get("createdAt")),
            updated_at=_str(data.get("updatedAt")),
            progress={k: v for k, v in _dict(data.get("progress")).items() if isinstance(v, int)},
            current_task=Task.from_api(current) if isinstance(current, dict) else None,
            tasks=tuple(Task.from_api(task) for task in _list(data.get("tasks"))),
            payload=_dict(data.get("payload")),
        )

    @property
    def is_finished(self) -> bool:
        return (self.status or "").upper() == "FINISHED"

    @property
    def has_failed(self) -> bool:
        return (self.status or "").upper() in JOB_FAILED_STATUSES

    @property
    def is_terminal(self) -> bool:
        return (self.status or "").upper() in JOB_TERMINAL_STATUSES or not self.is_running

    def failed_task(self) -> Task | None:
        """The task that stopped the job: the first FAILED one, else one CANCELED or EXPIRED."""
        for wanted in ("FAILED", "CANCELED", "EXPIRED"):
            for task in self.tasks:
                if (task.status or "").upper() == wanted:
                    return task
        return self.current_task


@dataclass(frozen=True)
class CatalogEntry(Record):
    """An operating system or a rescue image: an id to install or boot, and a name."""

    id: str
    name: str | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CatalogEntry:
        return cls(id=str(data["id"]), name=_str(data.get("name")))


# The spec's credentialType.
CREDENTIAL_TYPES = (
    "OPERATING_SYSTEM",
    "RESCUE_MODE",
    "REMOTE_MANAGEMENT",
    "CONTROL_PANEL",
    "SWITCH",
    "PDU",
    "FIREWALL",
    "LOAD_BALANCER",
    "VNC",
    "TEMPORARY_OPERATING_SYSTEM",
    "VPN_USER",
    "COMBINATION_LOCK",
    "DATABASE",
)


@dataclass(frozen=True)
class Credential(Record):
    """A credential LeaseWeb keeps for a server; `password` is None when the API listed it without one.

    The password never shows in `repr` (a traceback or a log line of the record does not print it).
    """

    type: str
    username: str
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Credential:
        return cls(
            type=str(data["type"]), username=str(data["username"]), password=_str(data.get("password"))
        )


@dataclass(frozen=True)
class HardwareReport(Record):
    """The result of the server's last hardware scan, as LeaseWeb's scanner reported it."""

    id: str | None
    server_id: str | None
    scanned_at: str | None
    parser_version: str | None
    result: dict[str, Any]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> HardwareReport:
        return cls(
            id=_str(data.get("id")),
            server_id=_str(data.get("serverId")),
            scanned_at=_str(data.get("scannedAt")),
            parser_version=_str(data.get("parserVersion")),
            result=_dict(data.get("result")),
        )

    def summary(self) -> dict[str, Any]:
        """What identifies the hardware, to compare two scans: chassis serial, CPUs, memory, disks, MACs."""
        result = self.result
        return {
            "chassis_serial": _dict(result.get("chassis")).get("serial"),
            "cpus": sorted(str(_dict(cpu).get("description")) for cpu in _list(result.get("cpu"))),
            "memory_bytes": sum(
                _count(_dict(bank).get("size_bytes")) for bank in _list(result.get("memory"))
            ),
            "disks": sorted(str(_dict(disk).get("serial_number")) for disk in _list(result.get("disks"))),
            "macs": sorted(
                str(_dict(nic).get("mac_address")).lower() for nic in _list(result.get("network"))
            ),
        }
