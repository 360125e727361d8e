"""Request bodies checked the way the API answers: 400 with `errorDetails` {field: [messages]}."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from leaseweb_api.bootfile import bootfile_problem
from leaseweb_api.models import CREDENTIAL_TYPES
from leaseweb_api.simulator.errors import ApiFault

TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", list: "array", dict: "object"}


def _non_blank(value: str) -> str | None:
    return None if value.strip() else "This value should not be blank."


def _url(value: str) -> str | None:
    parts = urlsplit(value)
    return (
        None
        if parts.scheme in ("http", "https", "tftp") and parts.netloc
        else "This value is not a valid URL."
    )


def _base64(value: str) -> str | None:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "This value is not valid base64."
    return None


def _partitions(value: list[Any]) -> str | None:
    for item in value:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("filesystem"), str)
            or not isinstance(item.get("size"), str)
        ):
            return "Every partition needs a filesystem and a size (strings)."
    return None


def _raid(value: dict[str, Any]) -> str | None:
    if value.get("type") not in (None, "HW", "SW", "NONE"):
        return "The RAID type must be HW, SW or NONE."
    if value.get("level") not in (None, 0, 1, 5, 10):
        return "The RAID level must be 0, 1, 5 or 10."
    return None


@dataclass(frozen=True)
class Field:
    kind: type
    required: bool = False
    check: Callable[[Any], str | None] | None = None


LEASE = {"bootfile": Field(str, True, bootfile_problem), "hostname": Field(str)}
REFERENCE = {"reference": Field(str, True)}
INSTALL = {
    "operatingSystemId": Field(str, True, _non_blank),
    "aiFrameworks": Field(list),
    "callbackUrl": Field(str, check=_url),
    "controlPanelId": Field(str),
    "device": Field(str),
    "hostname": Field(str),
    "partitions": Field(list, check=_partitions),
    "password": Field(str, check=_non_blank),
    "postInstallScript": Field(str, check=_base64),
    "powerCycle": Field(bool),
    "raid": Field(dict, check=_raid),
    "sshKeys": Field(str),
    "timezone": Field(str),
}


def _credential_type(value: str) -> str | None:
    return None if value in CREDENTIAL_TYPES else f"The value should be one of {', '.join(CREDENTIAL_TYPES)}."


# ipmiReset and hardwareScan take the same optional body.
MAINTENANCE_JOB = {"callbackUrl": Field(str, check=_url), "powerCycle": Field(bool)}
CREDENTIAL = {
    "type": Field(str, True, _credential_type),
    "username": Field(str, True, _non_blank),
    "password": Field(str, True, _non_blank),
}
CREDENTIAL_UPDATE = {"password": Field(str, True, _non_blank)}
RESCUE = {
    "rescueImageId": Field(str, True, _non_blank),
    "callbackUrl": Field(str, check=_url),
    "password": Field(str, check=_non_blank),
    "postInstallScript": Field(str, check=_base64),
    "powerCycle": Field(bool),
    "sshKeys": Field(str),
}


def _is(value: Any, kind: type) -> bool:
    # JSON booleans are not integers, whatever Python thinks.
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def credential_type(value: str) -> str:
    """A credential type from a path; 400 if LeaseWeb has no such type."""
    if message := _credential_type(value):
        raise ApiFault(400, details={"type": [message]})
    return value


def validate(body: Any, fields: dict[str, Field]) -> dict[str, Any]:
    """The body if it fits `fields`; otherwise ApiFault(400) naming every bad field."""
    if not isinstance(body, dict):
        raise ApiFault(400, details={"body": ["The request body must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    for name, spec in fields.items():
        value = body.get(name)
        if value is None:
            if spec.required:
                errors[name] = ["This value should not be blank."]
            continue
        if not _is(value, spec.kind):
            errors[name] = [f"This value should be of type {TYPE_NAMES[spec.kind]}."]
        elif spec.check is not None and (message := spec.check(value)):
            errors[name] = [message]
    for name in sorted(set(body) - set(fields)):
        errors[name] = ["This field was not expected."]
    if errors:
        raise ApiFault(400, details=errors)
    return body


def query_int(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        number = -1
    if number < 0:
        raise ApiFault(400, details={name: ["This value should be a non-negative integer."]})
    return number


def query_bool(query: dict[str, list[str]], name: str) -> bool | None:
    values = query.get(name)
    if not values:
        return None
    if values[-1] not in ("true", "false"):
        raise ApiFault(400, details={name: ["This value should be true or false."]})
    return values[-1] == "true"
