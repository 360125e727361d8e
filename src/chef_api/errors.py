"""Typed errors: signing problems, transport failures and the Chef server's own answers."""

from __future__ import annotations

from collections.abc import Sequence

# What a reader should check first, by status: the server's message alone rarely says it.
_HINTS = {
    401: "check client_name, the client key and this machine's clock: the server allows 15 minutes of skew",
    403: "the client is authenticated but not allowed to do this (ask for an admin client or an ACL change)",
    406: "the server rejected X-Ops-Server-API-Version; try server_api_version 0 or 1",
}

# goiardi verifies the signature against the decoded path, so a name that had to be percent-encoded gets a 401
# whatever the key: the name, not the key, is the first suspect.
_ENCODED_PATH_401_HINT = (
    "the path has percent-encoded characters, which a server may decode before verifying the signature: "
    "check that every name in it is valid (letters, digits, '_', '-', '.') before suspecting the key or clock"
)


class ChefError(Exception):
    """Base class of everything chef_api raises."""


class ChefSigningError(ChefError, ValueError):
    """A request cannot be signed: unknown protocol version, unusable key, canonical string too long."""


class ChefConnectionError(ChefError):
    """The server could not be reached, or did not answer in time, after the retries."""


class ChefAPIError(ChefError):
    """The server answered with an error status; `errors` holds its messages, `code` its error code."""

    def __init__(
        self,
        status: int,
        method: str,
        path: str,
        errors: Sequence[str] = (),
        *,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.errors = list(errors)
        self.code = code
        self.request_id = request_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        detail = "; ".join(self.errors) or "no error message in the response"
        text = f"{self.method} {self.path}: HTTP {self.status}: {detail}"
        hint = _ENCODED_PATH_401_HINT if self.status == 401 and "%" in self.path else _HINTS.get(self.status)
        return f"{text} ({hint})" if hint else text


class ChefAuthenticationError(ChefAPIError):
    """401: bad key, unknown client, clock skew or a signature the server computed differently."""


class ChefPermissionError(ChefAPIError):
    """403: the client is known but its ACLs forbid the request."""


class ChefNotFoundError(ChefAPIError):
    """404: the object does not exist."""


class ChefConflictError(ChefAPIError):
    """409: the object already exists."""


_BY_STATUS: dict[int, type[ChefAPIError]] = {
    401: ChefAuthenticationError,
    403: ChefPermissionError,
    404: ChefNotFoundError,
    409: ChefConflictError,
}


def api_error(
    status: int,
    method: str,
    path: str,
    errors: Sequence[str],
    *,
    code: str | None = None,
    request_id: str | None = None,
) -> ChefAPIError:
    """The most specific error class for a status."""
    cls = _BY_STATUS.get(status, ChefAPIError)
    return cls(status, method, path, errors, code=code, request_id=request_id)
