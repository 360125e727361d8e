"""LeaseWeb Dedicated Server API v2 (and v1 leases): servers, DHCP leases, power, jobs, catalogs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import requests

from leaseweb_api.models import (
    CatalogEntry,
    Credential,
    HardwareReport,
    InterfaceStatus,
    Job,
    Lease,
    PowerInfo,
    Server,
    V1Lease,
)
from leaseweb_api.retry import RetryPolicy
from leaseweb_api.transport import DEFAULT_TIMEOUT, Timeout, Transport

V2 = "/bareMetals/v2"
V1 = "/v1/bareMetals"

# Optional body fields of the job calls: Python keyword -> the API's name.
INSTALL_OPTIONS = {
    "hostname": "hostname",
    "ssh_keys": "sshKeys",
    "password": "password",
    "post_install_script": "postInstallScript",
    "callback_url": "callbackUrl",
    "power_cycle": "powerCycle",
    "partitions": "partitions",
    "raid": "raid",
    "device": "device",
    "timezone": "timezone",
    "control_panel_id": "controlPanelId",
}
RESCUE_OPTIONS = {
    "ssh_keys": "sshKeys",
    "password": "password",
    "post_install_script": "postInstallScript",
    "callback_url": "callbackUrl",
    "power_cycle": "powerCycle",
}
# ipmiReset and hardwareScan.
MAINTENANCE_OPTIONS = {"power_cycle": "powerCycle", "callback_url": "callbackUrl"}
SERVER_FILTERS = {
    "reference": "reference",
    "ip": "ip",
    "mac_address": "macAddress",
    "site": "site",
    "private_rack_id": "privateRackId",
}


def _body(
    options: Mapping[str, Any], names: Mapping[str, str], required: Mapping[str, Any]
) -> dict[str, Any]:
    unknown = set(options) - set(names)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    return {**required, **{names[key]: value for key, value in options.items() if value is not None}}


def _newest_first(jobs: list[Job]) -> list[Job]:
    return sorted(jobs, key=lambda job: job.created_at or "", reverse=True)


class LeasewebClient:
    """The API as typed calls. Key from `api_key` or LSW_API_KEY; base URL from `base_url` or LSW_BASE_URL."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        page_size: int = 50,
        session: requests.Session | None = None,
    ):
        self.transport = Transport(api_key, base_url, timeout=timeout, retry=retry, session=session)
        self.page_size = page_size

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> LeasewebClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _server_path(server_id: str, *parts: str) -> str:
        return "/".join([f"{V2}/servers/{quote(str(server_id), safe='')}", *parts])

    def _items(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        return self.transport.paginate(path, key, params, page_size=self.page_size)

    # Servers

    def iter_servers(self, **filters: str | None) -> Iterator[Server]:
        """Servers matching the API's own filters: reference, ip, mac_address, site, private_rack_id."""
        params = _body({k: v for k, v in filters.items() if v is not None}, SERVER_FILTERS, {})
        for item in self._items(f"{V2}/servers", "servers", params):
            yield Server.from_api(item)

    def list_servers(self, **filters: str | None) -> list[Server]:
        return list(self.iter_servers(**filters))

    def get_server(self, server_id: str) -> Server:
        return Server.from_api(self.transport.get_json(self._server_path(server_id)))

    def update_reference(self, server_id: str, reference: str) -> None:
        self.transport.request("PUT", self._server_path(server_id), json={"reference": reference})

    def list_network_interfaces(self, server_id: str) -> list[InterfaceStatus]:
        path = self._server_path(server_id, "networkInterfaces")
        return [InterfaceStatus.from_api(item) for item in self._items(path, "networkInterfaces")]

    def open_network_interfaces(self, server_id: str, kind: str | None = None) -> None:
        """Open the switch port of one interface (public, internal, remoteManagement), or of all of them."""
        self._set_network_interfaces(server_id, kind, "open")

    def close_network_interfaces(self, server_id: str, kind: str | None = None) -> None:
        self._set_network_interfaces(server_id, kind, "close")

    def _set_network_interfaces(self, server_id: str, kind: str | None, action: str) -> None:
        parts = ["networkInterfaces", *([quote(kind, safe="")] if kind else []), action]
        # Opening an open port (or closing a closed one) changes nothing: a lost answer is simply sent again.
        self.transport.request("POST", self._server_path(server_id, *parts), reconcile=lambda: False)

    # DHCP leases, v2: one reservation per server, on its public interface

    def list_leases(self, server_id: str) -> list[Lease]:
        return [
            Lease.from_api(item) for item in self._items(self._server_path(server_id, "leases"), "leases")
        ]

    def get_lease(self, server_id: str) -> Lease | None:
        leases = self.list_leases(server_id)
        return leases[0] if leases else None

    def create_lease(self, server_id: str, bootfile: str, hostname: str | None = None) -> None:
        """POST a reservation (the API does not reboot the server; see `power_cycle`)."""
        body = {"bootfile": bootfile, **({"hostname": hostname} if hostname else {})}
        self.transport.request(
            "POST",
            self._server_path(server_id, "leases"),
            json=body,
            reconcile=lambda: any(lease.bootfile == bootfile for lease in self.list_leases(server_id)),
        )

    def delete_lease(self, server_id: str) -> None:
        self.transport.request("DELETE", self._server_path(server_id, "leases"))

    # DHCP leases, v1 (deprecated API, per MAC address)

    def _v1_leases_path(self, server_id: str, mac: str | None = None) -> str:
        path = f"{V1}/{quote(str(server_id), safe='')}/leases"
        return f"{path}/{quote(mac, safe='')}" if mac else path

    def list_v1_leases(self, server_id: str) -> list[V1Lease]:
        return [V1Lease.from_api(item) for item in self._items(self._v1_leases_path(server_id), "leases")]

    def get_v1_lease(self, server_id: str, mac: str) -> V1Lease:
        return V1Lease.from_api(self.transport.get_json(self._v1_leases_path(server_id, mac)))

    def create_v1_lease(self, server_id: str, bootfile: str) -> None:
        """v1 takes a form body with `bootFileName` (v2 renamed it `bootfile`)."""
        self.transport.request(
            "POST",
            self._v1_leases_path(server_id),
            data={"bootFileName": bootfile},
            reconcile=lambda: any(lease.bootfile == bootfile for lease in self.list_v1_leases(server_id)),
        )

    def delete_v1_lease(self, server_id: str, mac: str) -> None:
        self.transport.request("DELETE", self._v1_leases_path(server_id, mac))

    # Power

    def power_info(self, server_id: str) -> PowerInfo:
        return PowerInfo.from_api(self.transport.get_json(self._server_path(server_id, "powerInfo")))

    def power_on(self, server_id: str) -> None:
        # A repeated powerOn is harmless, so a lost answer is settled by looking at the power state.
        self.transport.request(
            "POST",
            self._server_path(server_id, "powerOn"),
            reconcile=lambda: self.power_info(server_id).is_on,
        )

    def power_off(self, server_id: str) -> None:
        self.transport.request(
            "POST",
            self._server_path(server_id, "powerOff"),
            reconcile=lambda: not self.power_info(server_id).is_on,
        )

    def power_cycle(self, server_id: str) -> None:
        """No state shows that a cycle happened: a lost answer (502/504/timeout) is raised, never re-sent."""
        self.transport.request("POST", self._server_path(server_id, "powerCycle"))

    # Jobs

    def list_jobs(
        self,
        server_id: str,
        *,
        type: str | None = None,
        status: str | None = None,
        is_running: bool | None = None,
    ) -> list[Job]:
        params: dict[str, str] = {}
        if type:
            params["type"] = type
        if status:
            params["status"] = status
        if is_running is not None:
            params["isRunning"] = "true" if is_running else "false"
        path = self._server_path(server_id, "jobs")
        return _newest_first([Job.from_api(item) for item in self._items(path, "jobs", params)])

    def get_job(self, server_id: str, job_id: str) -> Job:
        return Job.from_api(
            self.transport.get_json(self._server_path(server_id, "jobs", quote(job_id, safe="")))
        )

    def latest_job(self, server_id: str, job_type: str) -> Job | None:
        jobs = self.list_jobs(server_id, type=job_type)
        return jobs[0] if jobs else None

    def _start_job(self, server_id: str, action: str, job_type: str, body: dict[str, Any]) -> Job:
        def running() -> Job | None:
            jobs = self.list_jobs(server_id, type=job_type, is_running=True)
            return jobs[0] if jobs else None

        response = self.transport.request(
            "POST", self._server_path(server_id, action), json=body, reconcile=lambda: running() is not None
        )
        if response is None:
            job = running()
            assert job is not None  # reconcile just saw it
            return job
        return Job.from_api(response.json())

    def install(self, server_id: str, operating_system_id: str, **options: Any) -> Job:
        """Start an install job (202). Options: see INSTALL_OPTIONS."""
        body = _body(options, INSTALL_OPTIONS, {"operatingSystemId": operating_system_id})
        return self._start_job(server_id, "install", "install", body)

    def rescue_mode(self, server_id: str, rescue_image_id: str = "GRML", **options: Any) -> Job:
        """Start a rescue mode job (202). Options: see RESCUE_OPTIONS."""
        body = _body(options, RESCUE_OPTIONS, {"rescueImageId": rescue_image_id})
        return self._start_job(server_id, "rescueMode", "rescueMode", body)

    def ipmi_reset(
        self, server_id: str, *, power_cycle: bool | None = None, callback_url: str | None = None
    ) -> Job:
        """Reset the server's IPMI interface to LeaseWeb's settings (a job; it power-cycles by default)."""
        body = _body({"power_cycle": power_cycle, "callback_url": callback_url}, MAINTENANCE_OPTIONS, {})
        return self._start_job(server_id, "ipmiReset", "ipmiReset", body)

    def hardware_scan(
        self, server_id: str, *, power_cycle: bool | None = None, callback_url: str | None = None
    ) -> Job:
        """Scan the server's hardware (a job that boots a scanner); the report: `hardware_info`."""
        body = _body({"power_cycle": power_cycle, "callback_url": callback_url}, MAINTENANCE_OPTIONS, {})
        return self._start_job(server_id, "hardwareScan", "hardwareScan", body)

    def hardware_info(self, server_id: str) -> HardwareReport:
        return HardwareReport.from_api(self.transport.get_json(self._server_path(server_id, "hardwareInfo")))

    def retry_job(self, server_id: str, job_id: str) -> Job:
        """Run a failed, canceled or expired job again. A lost answer is raised (`may_have_applied`)."""
        path = self._server_path(server_id, "jobs", quote(job_id, safe=""), "retry")
        return Job.from_api(self.transport.call_json("POST", path))

    def cancel_active_job(self, server_id: str) -> Job:
        """Cancel the running job (its onfail flow runs, often a reboot)."""
        return Job.from_api(self.transport.call_json("POST", self._server_path(server_id, "cancelActiveJob")))

    def expire_active_job(self, server_id: str) -> Job:
        """Mark the running job expired without touching the server."""
        return Job.from_api(self.transport.call_json("POST", self._server_path(server_id, "expireActiveJob")))

    # Credentials

    def list_credentials(self, server_id: str, credential_type: str | None = None) -> list[Credential]:
        """The credentials LeaseWeb keeps (type and username; lists carry no passwords)."""
        parts = ["credentials", *([quote(credential_type, safe="")] if credential_type else [])]
        path = self._server_path(server_id, *parts)
        return [Credential.from_api(item) for item in self._items(path, "credentials")]

    def _credential_path(self, server_id: str, credential_type: str, username: str) -> str:
        return self._server_path(
            server_id, "credentials", quote(credential_type, safe=""), quote(username, safe="")
        )

    def get_credential(self, server_id: str, credential_type: str, username: str) -> Credential:
        """One credential with its password."""
        path = self._credential_path(server_id, credential_type, username)
        return Credential.from_api(self.transport.get_json(path))

    def create_credential(
        self, server_id: str, credential_type: str, username: str, password: str
    ) -> Credential:
        body = {"type": credential_type, "username": username, "password": password}

        def exists() -> bool:
            return any(c.username == username for c in self.list_credentials(server_id, credential_type))

        response = self.transport.request(
            "POST", self._server_path(server_id, "credentials"), json=body, reconcile=exists
        )
        return (
            Credential.from_api(response.json())
            if response is not None
            else Credential(credential_type, username)
        )

    def update_credential(
        self, server_id: str, credential_type: str, username: str, password: str
    ) -> Credential:
        path = self._credential_path(server_id, credential_type, username)
        return Credential.from_api(self.transport.call_json("PUT", path, json={"password": password}))

    def delete_credential(self, server_id: str, credential_type: str, username: str) -> None:
        self.transport.request("DELETE", self._credential_path(server_id, credential_type, username))

    # Catalogs

    def list_operating_systems(self, control_panel_id: str | None = None) -> list[CatalogEntry]:
        params = {"controlPanelId": control_panel_id} if control_panel_id else None
        return [
            CatalogEntry.from_api(item)
            for item in self._items(f"{V2}/operatingSystems", "operatingSystems", params)
        ]

    def list_rescue_images(self) -> list[CatalogEntry]:
        return [CatalogEntry.from_api(item) for item in self._items(f"{V2}/rescueImages", "rescueImages")]
