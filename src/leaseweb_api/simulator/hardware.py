"""The hardware report (`GET /servers/{id}/hardwareInfo`): what LeaseWeb's scanner found, derived from the
seed's `specs` and interfaces, so that the same server always reports the same hardware."""

from __future__ import annotations

from typing import Any

from leaseweb_api.simulator.records import Server, iso

PARSER_VERSION = "3.6"
_UNITS = {"MB": 2**20, "GB": 2**30, "TB": 2**40}
DEFAULT_DISKS = {"amount": 1, "size": 480, "unit": "GB", "type": "SSD"}


def _bytes(size: Any, unit: Any) -> str:
    try:
        return str(int(float(size) * _UNITS.get(str(unit).upper(), 1)))
    except (TypeError, ValueError):
        return "0"


def _vendor(chassis: str) -> str:
    return chassis.split()[0] if chassis else ""


def _cpus(server: Server) -> list[dict[str, Any]]:
    cpu = server.specs.get("cpu") or {}
    kind = str(cpu.get("type") or "")
    return [
        {"description": kind, "slot": f"Proc {n + 1}", "vendor": _vendor(kind), "serial_number": ""}
        for n in range(int(cpu.get("quantity") or 1))
    ]


def _memory(server: Server) -> list[dict[str, Any]]:
    ram = server.specs.get("ram") or {}
    return [
        {
            "id": "memory/bank:0",
            "description": "DIMM DDR4 Synchronous 3200 MHz",
            "size_bytes": _bytes(ram.get("size", 0), ram.get("unit", "GB")),
            "clock_hz": "3200000000",
            "serial_number": f"{server.serial_number}-M0",
        }
    ]


def _disks(server: Server) -> list[dict[str, Any]]:
    disks = []
    # A server has a disk: without `specs.hdd` in the seed, one 480 GB SSD.
    for group in server.specs.get("hdd") or [DEFAULT_DISKS]:
        for _ in range(int(group.get("amount") or 1)):
            disks.append(
                {
                    "id": f"disk:{len(disks)}",
                    "description": f"{group.get('type', 'SATA')} Disk",
                    "product": str(group.get("id") or group.get("type") or ""),
                    "size": _bytes(group.get("size", 0), group.get("unit", "GB")),
                    "serial_number": f"{server.serial_number}-D{len(disks)}",
                    "vendor": "",
                }
            )
    return disks


def report(server: Server, scanned_at: float) -> dict[str, Any]:
    """The report of a scan that ended at `scanned_at`."""
    chassis = str(server.specs.get("chassis") or "")
    management = server.interfaces.get("remoteManagement")
    nics = [(kind, nic) for kind, nic in server.interfaces.items() if kind != "remoteManagement"]
    return {
        "id": f"{server.id}-{int(scanned_at)}",
        "parserVersion": PARSER_VERSION,
        "scannedAt": iso(scanned_at),
        "serverId": server.id,
        "result": {
            "chassis": {
                "description": "Rack Mount Chassis",
                "product": chassis,
                "serial": server.serial_number,
                "vendor": _vendor(chassis),
            },
            "cpu": _cpus(server),
            "memory": _memory(server),
            "disks": _disks(server),
            "network": [
                {"logical_name": f"eth{n}", "mac_address": nic.mac or "", "product": "Ethernet Controller"}
                for n, (_, nic) in enumerate(nics)
            ],
            "ipmi": {
                "macaddress": (management.mac if management else None) or "",
                "ipaddress": (management.ip if management else None) or "",
                "defgateway": (management.gateway if management else None) or "",
                "subnetmask": (management.netmask if management else None) or "",
                "ipsource": "DHCP Address",
                "vendor": _vendor(chassis),
                "firmware": "1.0",
            },
        },
    }
