"""The simulator's state and the API's semantics on it: servers, leases, power, interfaces, jobs.

One lock guards everything (requests are few and quick); every change is written to the state file, if any, so
a restarted simulator carries on where it stopped. Undocumented behaviour is a knob (`Behaviour`), with the
choice LeaseWeb's notes suggest as the default.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leaseweb_api.simulator import hardware, render
from leaseweb_api.simulator.errors import ApiFault
from leaseweb_api.simulator.jobs import Job
from leaseweb_api.simulator.records import (
    DEFAULT_OPERATING_SYSTEMS,
    DEFAULT_RESCUE_IMAGES,
    Lease,
    Server,
    catalog,
    load_servers,
)

POWER_ACTIONS = ("powerCycle", "powerOn", "powerOff")


@dataclass(frozen=True)
class Behaviour:
    """Knobs for what the spec leaves open."""

    power_delay: float = 0.0  # seconds a power cycle shows the server off in powerInfo
    job_step: float = 5.0  # seconds per job task
    lease_ttl: float | None = None  # the unconfirmed "24 h expiry"; off by default
    on_existing_lease: str = "replace"  # POST /leases over an existing one: replace or conflict (409)
    on_active_job: str = "conflict"  # a job while one runs: conflict (409) or replace (expire the old one)
    page_limit: int = 10  # `limit` when the request gives none


@dataclass(frozen=True)
class PowerEvent:
    """A successful power call, or an install job that power-cycles the server, as the hook receives it."""

    event: str
    server_id: str
    mac_address: str | None
    lease: dict[str, str | None] | None
    # An "install" event: the job's id and what the installer needs (hostname, sshKeys, postInstallScript...).
    job_id: str | None = None
    install: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "event": self.event,
            "serverId": self.server_id,
            "macAddress": self.mac_address,
            "lease": self.lease,
        }
        if self.install is not None:
            data.update(jobId=self.job_id, install=self.install)
        return data


class SimState:
    def __init__(
        self,
        seed: dict[str, Any],
        behaviour: Behaviour,
        *,
        state_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        on_power: Callable[[PowerEvent], None] | None = None,
    ):
        self.behaviour = behaviour
        self._seed = seed
        self._state_path = state_path
        self._clock = clock
        self._on_power = on_power
        self._lock = threading.RLock()
        initial = seed
        if state_path is not None and state_path.exists():
            initial = json.loads(state_path.read_text())
        self._load(initial)

    def _load(self, data: dict[str, Any]) -> None:
        now = self._clock()
        servers = load_servers(data, now)
        self._servers = {server.id: server for server in servers}
        self._jobs = {server.id: [Job.from_seed(job) for job in server.jobs] for server in servers}
        self._operating_systems = catalog(data, "operatingSystems", DEFAULT_OPERATING_SYSTEMS)
        self._rescue_images = catalog(data, "rescueImages", DEFAULT_RESCUE_IMAGES)
        self._save()

    def reset(self) -> None:
        """Back to the seed (the state file is rewritten from it)."""
        with self._lock:
            self._load(self._seed)

    def snapshot(self) -> dict[str, Any]:
        """Everything, in the seed/state file format."""
        with self._lock:
            servers = []
            for server in self._servers.values():
                server.jobs = [job.to_seed() for job in self._jobs[server.id]]
                servers.append(server.to_seed())
            return {
                "servers": servers,
                "operatingSystems": self._operating_systems,
                "rescueImages": self._rescue_images,
            }

    def _save(self) -> None:
        if self._state_path is None:
            return
        tmp = self._state_path.with_name(self._state_path.name + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=2))
        os.replace(tmp, self._state_path)

    @contextlib.contextmanager
    def _change(self) -> Iterator[float]:
        with self._lock:
            yield self._clock()
            self._save()

    def _server(self, server_id: str) -> Server:
        server = self._servers.get(server_id)
        if server is None:
            raise ApiFault(404)
        now = self._clock()
        server.power.settle(now)
        ttl = self.behaviour.lease_ttl
        if server.lease is not None and ttl is not None and now - server.lease.created >= ttl:
            server.lease = None
        return server

    # Servers

    def list_servers(self, **filters: str | None) -> list[dict[str, Any]]:
        with self._lock:
            return [render.server(s) for s in self._servers.values() if s.matches(**filters)]

    def server(self, server_id: str) -> dict[str, Any]:
        with self._lock:
            return render.server(self._server(server_id))

    def update_reference(self, server_id: str, reference: str) -> None:
        with self._change():
            self._server(server_id).reference = reference

    # Leases

    def leases(self, server_id: str) -> list[dict[str, Any]]:
        with self._lock:
            server = self._server(server_id)
            return [render.lease(server, server.lease)] if server.lease else []

    def create_lease(self, server_id: str, bootfile: str, hostname: str | None) -> None:
        with self._change() as now:
            server = self._server(server_id)
            if server.public is None or not server.public.mac:
                raise ApiFault(400, "This server has no public network interface to reserve a lease on.")
            if server.lease is not None and self.behaviour.on_existing_lease == "conflict":
                raise ApiFault(409, "A DHCP reservation already exists for this server.")
            server.lease = Lease(bootfile=bootfile, hostname=hostname, created=now, updated=now)

    def delete_lease(self, server_id: str) -> None:
        # Deleting when there is none is accepted (an assumption: the spec documents no 404 here).
        with self._change():
            self._server(server_id).lease = None

    def v1_leases(self, server_id: str) -> list[dict[str, Any]]:
        with self._lock:
            server = self._server(server_id)
            return [render.v1_lease(server, server.lease)] if server.lease else []

    def _v1_lease_for(self, server: Server, mac: str) -> Lease:
        public = server.public
        if server.lease is None or public is None or (public.mac or "").lower() != mac.lower():
            raise ApiFault(404)
        return server.lease

    def v1_lease(self, server_id: str, mac: str) -> dict[str, Any]:
        with self._lock:
            server = self._server(server_id)
            return render.v1_lease(server, self._v1_lease_for(server, mac))

    def v1_delete_lease(self, server_id: str, mac: str) -> None:
        with self._change():
            server = self._server(server_id)
            self._v1_lease_for(server, mac)
            server.lease = None

    # Power

    def power_info(self, server_id: str) -> dict[str, Any]:
        with self._lock:
            server = self._server(server_id)
            # The PDU feeds the server whatever IPMI says; only IPMI shows a shutdown.
            return {"ipmi": {"status": server.power.status}, "pdu": {"status": "on"}}

    def power(self, server_id: str, action: str) -> None:
        with self._change() as now:
            server = self._server(server_id)
            if not server.features.get("powerCycle", False):
                raise ApiFault(
                    400, "Power management is not available for this server (featureAvailability.powerCycle)."
                )
            power = server.power
            was_on = power.status == "on" and power.target != "off"
            target = "off" if action == "powerOff" else "on"
            if action == "powerCycle":
                # IPMI sees the server down for power_delay seconds, then up again.
                power.status = "off"
                power.target, power.settles_at = target, now + self.behaviour.power_delay
            else:
                # A BMC reports the chassis power state as soon as it switched it: a read right after
                # powerOn/powerOff shows the new state (a second `off` must not send powerOff again).
                power.status, power.target, power.settles_at = target, None, None
            power.settle(now)
            boots = action == "powerCycle" or (action == "powerOn" and not was_on)
            if boots and server.lease is not None:
                # The server's PXE ROM asks for its reservation on the way up.
                server.lease.last_client_request = {
                    "relayAgent": None,
                    "type": "DHCP_REQUEST",
                    "userAgent": "iPXE",
                }
                server.lease.updated = now
            event = PowerEvent(
                event=action,
                server_id=server.id,
                mac_address=server.public.mac if server.public else None,
                lease={"bootfile": server.lease.bootfile, "hostname": server.lease.hostname}
                if server.lease
                else None,
            )
        if self._on_power is not None:
            self._on_power(event)

    # Network interfaces

    def interfaces(self, server_id: str) -> list[dict[str, Any]]:
        with self._lock:
            server = self._server(server_id)
            return [render.interface_status(kind, nic) for kind, nic in server.interfaces.items()]

    def interface(self, server_id: str, kind: str) -> dict[str, Any]:
        with self._lock:
            nic = self._server(server_id).interfaces.get(kind)
            if nic is None:
                raise ApiFault(404)
            return render.interface_status(kind, nic)

    def set_interfaces(self, server_id: str, kind: str | None, status: str) -> None:
        with self._change():
            server = self._server(server_id)
            if kind is not None and kind not in server.interfaces:
                raise ApiFault(404)
            for name, nic in server.interfaces.items():
                if kind is None or name == kind:
                    nic.status = status

    # Jobs

    def _active(self, server_id: str, now: float) -> Job | None:
        return next((job for job in self._jobs[server_id] if job.is_running(now)), None)

    def start_job(
        self,
        server_id: str,
        job_type: str,
        payload: dict[str, Any],
        fail: bool,
        root_credential: tuple[str, str] | None = None,
        install: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a job; `root_credential` (type, password): the root password the job sets.

        `install`: what the installer needs (secrets included). With a hook, an install job that
        power-cycles the server is handed to it and ends when the hook reports (`automation_done`)."""
        with self._change() as now:
            server = self._server(server_id)
            if not server.features.get("automation", False):
                raise ApiFault(
                    400, "Automation is not available for this server (featureAvailability.automation)."
                )
            active = self._active(server_id, now)
            if active is not None:
                if self.behaviour.on_active_job == "conflict":
                    raise ApiFault(409, f"Job {active.uuid} ({active.type}) is still running on this server.")
                active.stop("EXPIRED", now)
            public = server.public
            network = (
                {
                    "public": {
                        "ip": public.ip,
                        "mac": public.mac,
                        "gateway": public.gateway,
                        "netmask": public.netmask,
                    }
                }
                if public
                else {}
            )
            payload = {**payload, "site": server.site, "initiatedBy": "CUSTOMER", "network": network}
            job = Job.start(
                job_type,
                server.id,
                public.mac if public else None,
                now,
                self.behaviour.job_step,
                payload,
                fail,
            )
            self._jobs[server_id].insert(0, job)
            if root_credential is not None:
                self._set_root_credential(server, *root_credential)
            # Without its power cycle an install waits for the server to network-boot: the clock's job.
            automate = self._on_power is not None and install is not None and not fail
            if automate and payload.get("powerCycle", True):
                job.automation = install
                # The installer's power cycle leaves the server on, as a powerCycle call does.
                server.power.status, server.power.target, server.power.settles_at = "on", None, None
            rendered = job.render(now)
        self._automate(server_id, job)
        return rendered

    def _automate(self, server_id: str, job: Job) -> None:
        """Hand an automated job to the hook (outside the lock: the hook may call back at once)."""
        if job.automation is None or self._on_power is None:
            return
        server = self._servers[server_id]
        # The installer boots from LeaseWeb's own network, not from the customer's lease.
        mac = server.public.mac if server.public else None
        self._on_power(PowerEvent("install", server_id, mac, None, job.uuid, job.automation))

    def automation_done(self, server_id: str, job_id: str, ok: bool) -> None:
        """The hook finished an automated job (see `start_job`)."""
        with self._change() as now:
            for job in self._jobs.get(server_id, []):
                if job.uuid == job_id:
                    job.automation_done(ok, now)

    def jobs(
        self, server_id: str, job_type: str | None, status: str | None, is_running: bool | None
    ) -> list[dict[str, Any]]:
        """Newest first (an assumption: the spec does not say)."""
        with self._lock:
            self._server(server_id)
            now = self._clock()
            return [
                job.render(now)
                for job in self._jobs[server_id]
                if (job_type is None or job.type == job_type)
                and (status is None or job.status(now) == status.upper())
                and (is_running is None or job.is_running(now) == is_running)
            ]

    def job(self, server_id: str, job_id: str) -> dict[str, Any]:
        with self._lock:
            self._server(server_id)
            for job in self._jobs[server_id]:
                if job.uuid == job_id:
                    return job.render(self._clock())
            raise ApiFault(404)

    def stop_active_job(self, server_id: str, how: str) -> dict[str, Any]:
        with self._change() as now:
            self._server(server_id)
            job = self._active(server_id, now)
            if job is None:
                raise ApiFault(404, "There is no active job for this server.")
            job.stop(how, now)
            return job.render(now)

    def retry_job(self, server_id: str, job_id: str) -> dict[str, Any]:
        with self._change() as now:
            self._server(server_id)
            job = next((job for job in self._jobs[server_id] if job.uuid == job_id), None)
            if job is None:
                raise ApiFault(404)
            if job.status(now) not in ("FAILED", "CANCELED", "EXPIRED"):
                raise ApiFault(
                    400,
                    f"Job {job_id} is {job.status(now)}: only a failed, canceled or expired job is retried",
                )
            active = self._active(server_id, now)
            if active is not None:
                raise ApiFault(409, f"Job {active.uuid} ({active.type}) is still running on this server.")
            job.retry(now)
            rendered = job.render(now)
        self._automate(server_id, job)
        return rendered

    # Hardware

    def hardware_info(self, server_id: str) -> dict[str, Any]:
        """The report of the last finished hardware scan (or the one LeaseWeb made at delivery)."""
        with self._lock:
            server = self._server(server_id)
            now = self._clock()
            scans = [job.finished_at(now) for job in self._jobs[server_id] if job.type == "hardwareScan"]
            return hardware.report(
                server, max([t for t in scans if t is not None], default=server.hardware_scanned_at)
            )

    # Credentials

    def _credential(self, server: Server, kind: str, username: str) -> dict[str, str]:
        found = next((c for c in server.credentials if (c["type"], c["username"]) == (kind, username)), None)
        if found is None:
            raise ApiFault(404)
        return found

    def credentials(self, server_id: str, kind: str | None = None) -> list[dict[str, str]]:
        """Without the passwords, as the list endpoints serve them."""
        with self._lock:
            server = self._server(server_id)
            return [
                {"type": c["type"], "username": c["username"]}
                for c in server.credentials
                if kind is None or c["type"] == kind
            ]

    def credential(self, server_id: str, kind: str, username: str) -> dict[str, str]:
        with self._lock:
            return dict(self._credential(self._server(server_id), kind, username))

    def create_credential(self, server_id: str, kind: str, username: str, password: str) -> dict[str, str]:
        with self._change():
            server = self._server(server_id)
            if any((c["type"], c["username"]) == (kind, username) for c in server.credentials):
                raise ApiFault(409, f"A {kind} credential for {username!r} exists already.")
            credential = {"type": kind, "username": username, "password": password}
            server.credentials.append(credential)
            return dict(credential)

    def update_credential(self, server_id: str, kind: str, username: str, password: str) -> dict[str, str]:
        with self._change():
            credential = self._credential(self._server(server_id), kind, username)
            credential["password"] = password
            return dict(credential)

    def delete_credential(self, server_id: str, kind: str, username: str) -> None:
        with self._change():
            server = self._server(server_id)
            server.credentials.remove(self._credential(server, kind, username))

    def _set_root_credential(self, server: Server, kind: str, password: str) -> None:
        """An install or rescue job leaves the root password it set as a credential (LeaseWeb does)."""
        server.credentials[:] = [
            c for c in server.credentials if (c["type"], c["username"]) != (kind, "root")
        ]
        server.credentials.append({"type": kind, "username": "root", "password": password})

    # Catalogs

    def operating_systems(self) -> list[dict[str, str]]:
        return list(self._operating_systems)

    def rescue_images(self) -> list[dict[str, str]]:
        return list(self._rescue_images)

    def has_operating_system(self, ident: str) -> bool:
        return any(item["id"] == ident for item in self._operating_systems)

    def has_rescue_image(self, ident: str) -> bool:
        return any(item["id"] == ident for item in self._rescue_images)
