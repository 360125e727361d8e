"""Server-side verification of signed Chef requests, as chef_authn and mixlib do it.

Used by the tests to check signatures made elsewhere (mixlib-authentication), and by any lab stand-in that
has to accept or reject Chef-signed requests the way a real server would.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chef_api.signing import ALGORITHMS, SignedRequest, public_decrypt

# erchef's auth_skew, goiardi's time-slew and mixlib's default: 15 minutes.
DEFAULT_MAX_SKEW = 900.0


@dataclass(frozen=True)
class Verification:
    """The verdict on one request, with each check separately (as mixlib reports them)."""

    user_id: str
    version: str
    signature_ok: bool
    content_hash_ok: bool
    timestamp_ok: bool
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.signature_ok and self.content_hash_ok and self.timestamp_ok


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value.strip() for name, value in headers.items()}


def parse_sign_description(value: str) -> dict[str, str]:
    """`algorithm=sha256;version=1.3;` -> {'algorithm': 'sha256', 'version': '1.3'}."""
    parts = {}
    for item in value.split(";"):
        name, sep, val = item.partition("=")
        if sep:
            parts[name.strip()] = val.strip()
    return parts


def _authorization(headers: dict[str, str]) -> bytes | None:
    numbered = {}
    for name, value in headers.items():
        prefix, _, number = name.rpartition("-")
        if prefix == "x-ops-authorization" and number.isdigit():
            numbered[int(number)] = value
    if sorted(numbered) != list(range(1, len(numbered) + 1)) or not numbered:
        return None
    try:
        return base64.b64decode("".join(numbered[n] for n in sorted(numbered)), validate=True)
    except (binascii.Error, ValueError):
        return None


def _timestamp_ok(value: str, now: datetime, max_skew: float) -> bool:
    try:
        when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return abs((now - when).total_seconds()) < max_skew


def _signature_ok(key: rsa.RSAPublicKey, request: SignedRequest, signature: bytes) -> bool:
    canonical = request.canonical()
    if request.version == "1.3":
        try:
            key.verify(signature, canonical, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True
    decrypted = public_decrypt(key, signature)
    return decrypted is not None and hmac.compare_digest(decrypted, canonical)


def verify_request(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    public_key: rsa.RSAPublicKey,
    *,
    now: datetime | None = None,
    max_skew: float = DEFAULT_MAX_SKEW,
) -> Verification:
    """Check a request's signature, content hash and timestamp against the client's public key."""
    wanted = _lower(headers)
    user_id = wanted.get("x-ops-userid", "")
    description = parse_sign_description(wanted.get("x-ops-sign", ""))
    version = description.get("version", "")

    def rejected(reason: str) -> Verification:
        return Verification(user_id, version, False, False, False, reason)

    missing = [
        h for h in ("x-ops-sign", "x-ops-userid", "x-ops-timestamp", "x-ops-content-hash") if h not in wanted
    ]
    if missing:
        return rejected(f"missing header(s): {', '.join(missing)}")
    if version not in ALGORITHMS:
        return rejected(f"unsupported signing version {version!r}")
    # chef_authn's rule: a missing algorithm means the version's own; a different one is refused.
    if description.get("algorithm", ALGORITHMS[version]) != ALGORITHMS[version]:
        return rejected(f"algorithm {description['algorithm']!r} does not go with version {version}")
    signature = _authorization(wanted)
    if signature is None:
        return rejected("X-Ops-Authorization-N headers missing, out of sequence or not base64")
    request = SignedRequest(
        method=method,
        path=path,
        body=body,
        user_id=user_id,
        timestamp=wanted["x-ops-timestamp"],
        version=version,
        server_api_version=wanted.get("x-ops-server-api-version", "0"),
    )
    checks = {
        "signature": _signature_ok(public_key, request, signature),
        "content hash": hmac.compare_digest(request.content_hash, wanted["x-ops-content-hash"]),
        "timestamp": _timestamp_ok(request.timestamp, now or datetime.now(UTC), max_skew),
    }
    failed = [name for name, ok in checks.items() if not ok]
    return Verification(
        user_id,
        version,
        checks["signature"],
        checks["content hash"],
        checks["timestamp"],
        f"{', '.join(failed)} did not verify" if failed else "",
    )
