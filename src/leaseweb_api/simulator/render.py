"""The simulator's records in the API's JSON shapes (the spec's schemas; tests/leaseweb checks them)."""

from __future__ import annotations

from typing import Any

from leaseweb_api.simulator.records import Interface, Lease, Server, iso

NETWORK_TYPES = {"public": "PUBLIC", "internal": "INTERNAL", "remoteManagement": "REMOTE_MANAGEMENT"}


def _interface(nic: Interface) -> dict[str, Any]:
    ports = [{"name": nic.switch, "port": nic.switch_port}] if nic.switch and nic.switch_port else []
    return {
        "mac": nic.mac,
        "ip": nic.ip,
        "nullRouted": False if nic.ip else None,
        "gateway": nic.gateway,
        "ports": ports,
        "locationId": None,
    }


def server(record: Server) -> dict[str, Any]:
    """`GET /servers/{id}` (the list endpoint shows the same object)."""
    rack: dict[str, Any] = {"type": record.rack_type}
    if record.rack_id:
        rack["id"] = record.rack_id
    location = {
        key: value
        for key, value in (
            ("site", record.site),
            ("suite", record.suite),
            ("rack", record.rack),
            ("unit", record.unit),
        )
        if value is not None
    }
    return {
        "assetId": record.asset_id,
        "contract": {
            "id": record.contract_id,
            "customerId": "10000001",
            "salesOrgId": "2000",
            "deliveryStatus": "ACTIVE",
            "reference": record.reference,
            "status": "ACTIVE",
        },
        "featureAvailability": dict(record.features),
        "id": record.id,
        "isPrivateNetworkCapable": record.private_network_capable,
        "isPrivateNetworkEnabled": record.private_network_enabled,
        "isRedundantPrivateNetworkCapable": False,
        "location": location,
        "networkInterfaces": {kind: _interface(nic) for kind, nic in record.interfaces.items()},
        "powerPorts": [],
        "privateNetworks": [],
        "rack": rack,
        "serialNumber": record.serial_number,
        "specs": record.specs,
    }


def lease(record: Server, held: Lease) -> dict[str, Any]:
    """A v2 lease: the reservation on the public interface, with that interface's addresses."""
    public = record.public
    body: dict[str, Any] = {
        "bootfile": held.bootfile,
        "createdAt": iso(held.created),
        "updatedAt": iso(held.updated),
        "site": record.site or "",
    }
    if public is not None:
        body.update(
            {"ip": public.ip, "mac": public.mac, "gateway": public.gateway, "netmask": public.netmask}
        )
    if held.hostname:
        body["hostname"] = held.hostname
    if held.last_client_request:
        body["lastClientRequest"] = held.last_client_request
    return {key: value for key, value in body.items() if value is not None}


def v1_lease(record: Server, held: Lease) -> dict[str, Any]:
    """A v1 lease: per MAC, with DHCP options; option 67 twice (plain PXE, then iPXE chaining the URL)."""
    public = record.public
    assert public is not None  # a lease needs a public interface
    scope = ".".join([*(public.ip or "0.0.0.0").split(".")[:3], "0"])
    option = {"policyName": None, "type": "String", "vendorClass": ""}
    return {
        "ip": public.ip,
        "pop": record.site,
        "mac": public.mac,
        "scope": scope,
        "options": [
            {**option, "name": "Bootfile Name", "optionId": "67", "userClass": "", "value": "undionly.kpxe"},
            {
                **option,
                "name": "DNS Servers",
                "optionId": "6",
                "type": "IPv4Address",
                "userClass": "",
                "value": "8.8.8.8,8.8.4.4",
            },
            {
                **option,
                "name": "Bootfile Name",
                "optionId": "67",
                "userClass": "gPXE",
                "value": held.bootfile,
            },
        ],
    }


def interface_status(kind: str, nic: Interface) -> dict[str, Any]:
    """`GET /networkInterfaces[/{type}]`: the switch port's status, upper case as in the spec's examples."""
    return {
        "linkSpeed": nic.link_speed,
        "operStatus": nic.status,
        "status": nic.status,
        "switchInterface": nic.switch_port or "",
        "switchName": nic.switch or "",
        "type": NETWORK_TYPES[kind],
    }


def metadata(total: int, limit: int, offset: int) -> dict[str, int]:
    return {"limit": limit, "offset": offset, "totalCount": total}
