"""The API's routes: `/bareMetals/v2/...` from the spec, `/v1/bareMetals/{id}/leases` from the v1 notes."""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from leaseweb_api.simulator import render, validation
from leaseweb_api.simulator.errors import ApiFault, Reply
from leaseweb_api.simulator.state import POWER_ACTIONS, SimState

V2 = "/bareMetals/v2"
SERVER = V2 + "/servers/{server_id}"
V1_LEASES = "/v1/bareMetals/{server_id}/leases"
# The spec's pattern for a MAC (colons or dashes, or Cisco's dotted form), matched against the whole value.
MAC_PATTERN = re.compile(
    r"(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}|(?:[0-9A-Fa-f]{2}-){5}[0-9A-Fa-f]{2}"
    r"|[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"
)
INTERFACE_KINDS = ("public", "internal", "remoteManagement")


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    fail_jobs: bool = False

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise ApiFault(400, details={"body": ["The request body is not valid JSON."]}) from exc
        except RecursionError as exc:  # a body nested deeper than the parser goes
            raise ApiFault(400, details={"body": ["The request body is nested too deeply."]}) from exc

    def form_or_json(self) -> Any:
        """v1 clients sent form bodies; later ones JSON."""
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return {key: values[-1] for key, values in parse_qs(self.body.decode("utf-8", "replace")).items()}
        return self.json()

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


Handler = Callable[..., Reply]


def _page(state: SimState, req: ApiRequest, key: str, items: list[dict[str, Any]]) -> Reply:
    limit = validation.query_int(req.query, "limit", state.behaviour.page_limit)
    offset = validation.query_int(req.query, "offset", 0)
    return Reply.json(
        200, {"_metadata": render.metadata(len(items), limit, offset), key: items[offset : offset + limit]}
    )


def _filters(req: ApiRequest) -> dict[str, Any]:
    ip, mac = req.arg("ip"), req.arg("macAddress")
    errors: dict[str, list[str]] = {}
    if ip is not None:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            errors["ip"] = ["This value is not a valid IPv4 address."]
    if mac is not None and not MAC_PATTERN.fullmatch(mac):
        errors["macAddress"] = ["This value is not a valid MAC address."]
    if errors:
        raise ApiFault(400, details=errors)
    return {
        "reference": req.arg("reference"),
        "ip": ip,
        "mac": mac,
        "site": req.arg("site"),
        "rack_id": req.arg("privateRackId"),
        "private_network_capable": validation.query_bool(req.query, "privateNetworkCapable"),
        "private_network_enabled": validation.query_bool(req.query, "privateNetworkEnabled"),
    }


def list_servers(state: SimState, req: ApiRequest) -> Reply:
    return _page(state, req, "servers", state.list_servers(**_filters(req)))


def get_server(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    return Reply.json(200, state.server(server_id))


def update_reference(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    state.server(server_id)
    body = validation.validate(req.json(), validation.REFERENCE)
    state.update_reference(server_id, body["reference"])
    return Reply.empty()


def list_leases(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    return _page(state, req, "leases", state.leases(server_id))


def create_lease(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    state.server(server_id)
    body = validation.validate(req.json(), validation.LEASE)
    state.create_lease(server_id, body["bootfile"], body.get("hostname"))
    return Reply.empty()


def delete_lease(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    state.delete_lease(server_id)
    return Reply.empty()


def power_info(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    return Reply.json(200, state.power_info(server_id))


def _power(action: str) -> Handler:
    def handler(state: SimState, req: ApiRequest, server_id: str) -> Reply:
        state.power(server_id, action)
        return Reply.empty()

    return handler


def _kind(kind: str) -> str:
    if kind not in INTERFACE_KINDS:
        raise ApiFault(
            400, details={"networkTypeURL": [f"The value should be one of {', '.join(INTERFACE_KINDS)}."]}
        )
    return kind


def list_interfaces(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    return _page(state, req, "networkInterfaces", state.interfaces(server_id))


def get_interface(state: SimState, req: ApiRequest, server_id: str, kind: str) -> Reply:
    return Reply.json(200, state.interface(server_id, _kind(kind)))


def _interfaces(status: str) -> Handler:
    def handler(state: SimState, req: ApiRequest, server_id: str, kind: str | None = None) -> Reply:
        state.set_interfaces(server_id, _kind(kind) if kind else None, status)
        return Reply.empty()

    return handler


def install(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    state.server(server_id)
    body = validation.validate(req.json(), validation.INSTALL)
    if not state.has_operating_system(body["operatingSystemId"]):
        raise ApiFault(
            400,
            details={
                "operatingSystemId": [f"The operating system {body['operatingSystemId']!r} is not available."]
            },
        )
    # Secrets never show up in a job's payload.
    payload = {key: value for key, value in body.items() if key not in ("password", "postInstallScript")}
    payload.setdefault("powerCycle", True)
    root = ("OPERATING_SYSTEM", body.get("password") or secrets.token_urlsafe(12))
    # The installer (the simulator's hook, if any) gets what it needs to install, secrets included.
    wanted = ("operatingSystemId", "hostname", "sshKeys", "postInstallScript", "partitions", "raid", "device")
    install = {key: body[key] for key in wanted if key in body}
    return Reply.json(202, state.start_job(server_id, "install", payload, req.fail_jobs, root, install))


def rescue_mode(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    state.server(server_id)
    body = validation.validate(req.json(), validation.RESCUE)
    if not state.has_rescue_image(body["rescueImageId"]):
        raise ApiFault(
            400, details={"rescueImageId": [f"The rescue image {body['rescueImageId']!r} is not available."]}
        )
    payload = {key: value for key, value in body.items() if key not in ("password", "postInstallScript")}
    payload.setdefault("powerCycle", True)
    root = ("RESCUE_MODE", body.get("password") or secrets.token_urlsafe(12))
    return Reply.json(202, state.start_job(server_id, "rescueMode", payload, req.fail_jobs, root))


def _maintenance_job(job_type: str) -> Handler:
    """ipmiReset and hardwareScan: an optional body with callbackUrl and powerCycle (default true)."""

    def handler(state: SimState, req: ApiRequest, server_id: str) -> Reply:
        state.server(server_id)
        body = validation.validate(req.json() if req.body else {}, validation.MAINTENANCE_JOB)
        payload = {"powerCycle": True, **body}
        return Reply.json(202, state.start_job(server_id, job_type, payload, req.fail_jobs))

    return handler


def retry_job(state: SimState, req: ApiRequest, server_id: str, job_id: str) -> Reply:
    return Reply.json(200, state.retry_job(server_id, job_id))


def hardware_info(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    return Reply.json(200, state.hardware_info(server_id))


def list_credentials(state: SimState, req: ApiRequest, server_id: str, kind: str | None = None) -> Reply:
    found = state.credentials(server_id, validation.credential_type(kind) if kind else None)
    return _page(state, req, "credentials", found)


def create_credential(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    state.server(server_id)
    body = validation.validate(req.json(), validation.CREDENTIAL)
    return Reply.json(
        200, state.create_credential(server_id, body["type"], body["username"], body["password"])
    )


def get_credential(state: SimState, req: ApiRequest, server_id: str, kind: str, username: str) -> Reply:
    return Reply.json(200, state.credential(server_id, validation.credential_type(kind), username))


def update_credential(state: SimState, req: ApiRequest, server_id: str, kind: str, username: str) -> Reply:
    state.server(server_id)
    body = validation.validate(req.json(), validation.CREDENTIAL_UPDATE)
    kind = validation.credential_type(kind)
    return Reply.json(200, state.update_credential(server_id, kind, username, body["password"]))


def delete_credential(state: SimState, req: ApiRequest, server_id: str, kind: str, username: str) -> Reply:
    state.delete_credential(server_id, validation.credential_type(kind), username)
    return Reply.empty()


def list_jobs(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    jobs = state.jobs(
        server_id, req.arg("type"), req.arg("status"), validation.query_bool(req.query, "isRunning")
    )
    return _page(state, req, "jobs", jobs)


def get_job(state: SimState, req: ApiRequest, server_id: str, job_id: str) -> Reply:
    return Reply.json(200, state.job(server_id, job_id))


def _stop_job(how: str) -> Handler:
    def handler(state: SimState, req: ApiRequest, server_id: str) -> Reply:
        return Reply.json(200, state.stop_active_job(server_id, how))

    return handler


def operating_systems(state: SimState, req: ApiRequest) -> Reply:
    return _page(state, req, "operatingSystems", state.operating_systems())


def rescue_images(state: SimState, req: ApiRequest) -> Reply:
    return _page(state, req, "rescueImages", state.rescue_images())


def v1_list_leases(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    return _page(state, req, "leases", state.v1_leases(server_id))


def v1_create_lease(state: SimState, req: ApiRequest, server_id: str) -> Reply:
    state.server(server_id)
    body = validation.validate(req.form_or_json(), {"bootFileName": validation.LEASE["bootfile"]})
    state.create_lease(server_id, body["bootFileName"], None)
    return Reply.empty()


def v1_get_lease(state: SimState, req: ApiRequest, server_id: str, mac: str) -> Reply:
    return Reply.json(200, state.v1_lease(server_id, mac))


def v1_delete_lease(state: SimState, req: ApiRequest, server_id: str, mac: str) -> Reply:
    state.v1_delete_lease(server_id, mac)
    return Reply.empty()


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", V2 + "/servers", list_servers),
    ("GET", SERVER, get_server),
    ("PUT", SERVER, update_reference),
    ("GET", SERVER + "/leases", list_leases),
    ("POST", SERVER + "/leases", create_lease),
    ("DELETE", SERVER + "/leases", delete_lease),
    ("GET", SERVER + "/powerInfo", power_info),
    *(("POST", f"{SERVER}/{action}", _power(action)) for action in POWER_ACTIONS),
    ("GET", SERVER + "/networkInterfaces", list_interfaces),
    ("POST", SERVER + "/networkInterfaces/open", _interfaces("OPEN")),
    ("POST", SERVER + "/networkInterfaces/close", _interfaces("CLOSED")),
    ("GET", SERVER + "/networkInterfaces/{kind}", get_interface),
    ("POST", SERVER + "/networkInterfaces/{kind}/open", _interfaces("OPEN")),
    ("POST", SERVER + "/networkInterfaces/{kind}/close", _interfaces("CLOSED")),
    ("POST", SERVER + "/install", install),
    ("POST", SERVER + "/rescueMode", rescue_mode),
    ("GET", SERVER + "/jobs", list_jobs),
    ("GET", SERVER + "/jobs/{job_id}", get_job),
    ("POST", SERVER + "/jobs/{job_id}/retry", retry_job),
    ("POST", SERVER + "/ipmiReset", _maintenance_job("ipmiReset")),
    ("POST", SERVER + "/hardwareScan", _maintenance_job("hardwareScan")),
    ("GET", SERVER + "/hardwareInfo", hardware_info),
    ("GET", SERVER + "/credentials", list_credentials),
    ("POST", SERVER + "/credentials", create_credential),
    ("GET", SERVER + "/credentials/{kind}", list_credentials),
    ("GET", SERVER + "/credentials/{kind}/{username}", get_credential),
    ("PUT", SERVER + "/credentials/{kind}/{username}", update_credential),
    ("DELETE", SERVER + "/credentials/{kind}/{username}", delete_credential),
    ("POST", SERVER + "/cancelActiveJob", _stop_job("CANCELED")),
    ("POST", SERVER + "/expireActiveJob", _stop_job("EXPIRED")),
    ("GET", V2 + "/operatingSystems", operating_systems),
    ("GET", V2 + "/rescueImages", rescue_images),
    ("GET", V1_LEASES, v1_list_leases),
    ("POST", V1_LEASES, v1_create_lease),
    ("GET", V1_LEASES + "/{mac}", v1_get_lease),
    ("DELETE", V1_LEASES + "/{mac}", v1_delete_lease),
]
ROUTES = [(method, _compile(template), handler) for method, template, handler in _ROUTES]


def dispatch(state: SimState, req: ApiRequest) -> Reply:
    """Serve one API request; ApiFault propagates to the caller, which renders it."""
    allowed = []
    for method, pattern, handler in ROUTES:
        match = pattern.match(req.path)
        if match is None:
            continue
        if method != req.method:
            allowed.append(method)
            continue
        return handler(state, req, **{key: unquote(value) for key, value in match.groupdict().items()})
    if allowed:
        raise ApiFault(405, headers={"Allow": ", ".join(sorted(set(allowed)))})
    raise ApiFault(404)
