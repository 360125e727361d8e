"""Chef API clients (the identities that sign requests): look up, create with a new key, update, delete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chef_api.client import ChefClient, path_segment

# The flags a client record carries. erchef ignores `admin` since 12.1 and may not return it, so a flag is
# compared only when the server reports it.
CLIENT_FLAGS = ("admin", "validator")


@dataclass(frozen=True)
class CreatedClient:
    """A new client; the private key is the only copy the server ever hands out."""

    name: str
    uri: str | None
    public_key: str | None
    private_key: str | None = field(default=None, repr=False)


def created_client_keys(response: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(private, public) key from either response shape.

    API >= 1 on Chef Infra Server: `{"uri", "chef_key": {"private_key", "public_key", ...}}`;
    API 0, and goiardi at any API version: top-level `private_key` and `public_key`.
    """
    nested = response.get("chef_key")
    source = nested if isinstance(nested, Mapping) else response
    return source.get("private_key"), source.get("public_key")


def get_client(client: ChefClient, name: str) -> dict[str, Any] | None:
    return client.get_or_none(f"clients/{path_segment(name)}")


def flag_changes(current: Mapping[str, Any], wanted: Mapping[str, bool]) -> dict[str, bool]:
    """The flags that differ from what the server reports (unreported flags are left alone)."""
    return {name: value for name, value in wanted.items() if name in current and bool(current[name]) != value}


def create_client(
    client: ChefClient, name: str, *, admin: bool = False, validator: bool = False
) -> CreatedClient:
    body = {"name": name, "clientname": name, "admin": admin, "validator": validator, "create_key": True}
    response = client.post("clients", body) or {}
    private_key, public_key = created_client_keys(response)
    return CreatedClient(name=name, uri=response.get("uri"), public_key=public_key, private_key=private_key)


def update_client(client: ChefClient, name: str, flags: Mapping[str, bool]) -> dict[str, Any]:
    return client.put(f"clients/{path_segment(name)}", {"name": name, **flags})


def delete_client(client: ChefClient, name: str) -> None:
    client.delete(f"clients/{path_segment(name)}")


def save_private_key(path: str | Path, pem: str) -> None:
    """Write a key readable by its owner only, atomically (a reader never sees half a key)."""
    target = Path(path).expanduser()
    # mkstemp creates the file with mode 0600 before anything is written to it.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(pem if pem.endswith("\n") else pem + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
