"""Chef API clients (the identities that sign requests): look up, create with a new key, update, delete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chef_api.client import ChefClient, check_name, path_segment
from chef_api.errors import ChefError

# The flags a client record carries. erchef ignores `admin` since 12.1 and may not return it, so a flag is
# compared only when the server reports it.
CLIENT_FLAGS = ("admin", "validator")


class KeyNotSavedError(ChefError):
    """A client was created but its private key (the only copy) could not be written.

    `client_deleted` says whether the client was deleted again, so that a re-run creates it anew.
    """

    def __init__(self, message: str, *, client_deleted: bool, private_key: str | None) -> None:
        super().__init__(message)
        self.client_deleted = client_deleted
        self.private_key = private_key

    def __repr__(self) -> str:
        return f"KeyNotSavedError({str(self)!r}, client_deleted={self.client_deleted})"


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


def client_path(name: str) -> str:
    return f"clients/{path_segment(check_name('client name', name))}"


def get_client(client: ChefClient, name: str) -> dict[str, Any] | None:
    return client.get_or_none(client_path(name))


def flag_changes(current: Mapping[str, Any], wanted: Mapping[str, bool]) -> dict[str, bool]:
    """The flags that differ from what the server reports (unreported flags are left alone)."""
    return {name: value for name, value in wanted.items() if name in current and bool(current[name]) != value}


def create_client(
    client: ChefClient, name: str, *, admin: bool = False, validator: bool = False
) -> CreatedClient:
    body = {
        "name": check_name("client name", name),
        "clientname": name,
        "admin": admin,
        "validator": validator,
        "create_key": True,
    }
    response = client.post("clients", body) or {}
    private_key, public_key = created_client_keys(response)
    return CreatedClient(name=name, uri=response.get("uri"), public_key=public_key, private_key=private_key)


def update_client(client: ChefClient, name: str, flags: Mapping[str, bool]) -> dict[str, Any]:
    return client.put(client_path(name), {"name": name, **flags})


def delete_client(client: ChefClient, name: str) -> None:
    client.delete(client_path(name))


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


def check_key_destination(path: str | Path) -> None:
    """Raise ValueError unless a key file can be written at path: tried with a probe file in its directory,
    which is the only check that holds for root, ACLs and read-only mounts alike."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"private_key_path {str(target)!r} is a directory, not a file name")
    try:
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.probe.")
    except OSError as exc:
        raise ValueError(
            f"private_key_path {str(target)!r} cannot be written ({exc.strerror}): create its directory "
            f"{str(target.parent)!r} or choose another path"
        ) from None
    os.close(fd)
    os.unlink(probe)


def create_client_saving_key(
    client: ChefClient, name: str, key_path: str | Path, *, admin: bool = False, validator: bool = False
) -> CreatedClient:
    """Create a client and write its private key; if the write fails, delete the client again (its key
    would be lost: a client nobody can sign as) and raise KeyNotSavedError saying what state is left."""
    created = create_client(client, name, admin=admin, validator=validator)
    if created.private_key is None:
        return created
    try:
        save_private_key(key_path, created.private_key)
    except OSError as exc:
        failure = f"client {name!r} was created but its private key could not be written to {str(key_path)!r}"
        failure += f" ({exc})"
        try:
            delete_client(client, name)
        except ChefError as cleanup:
            raise KeyNotSavedError(
                f"{failure}, and deleting the client again failed ({cleanup}): the client exists without a "
                "usable key; delete it (state: absent) and run again",
                client_deleted=False,
                private_key=created.private_key,
            ) from None
        raise KeyNotSavedError(
            f"{failure}; the client was deleted again, so a re-run with a writable path creates it anew",
            client_deleted=True,
            private_key=None,
        ) from None
    return created
