"""Chef request signing, protocol versions 1.0, 1.1 and 1.3 (mixlib-authentication's algorithm).

1.3 is a standard RSASSA-PKCS1-v1_5 SHA-256 signature over a canonical string. 1.0 and 1.1 are OpenSSL's
`RSA_private_encrypt` of the canonical string itself (PKCS#1 type-1 padding, no digest), which
`cryptography` has no API for, so it is done here with the key's CRT numbers.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chef_api.errors import ChefSigningError

# The digest each protocol version uses for the body, the path (1.0/1.1) and the userid (1.1).
ALGORITHMS: Mapping[str, str] = {"1.0": "sha1", "1.1": "sha1", "1.3": "sha256"}
DEFAULT_SIGN_VERSION = "1.3"
# Ruby's Base64.encode64 wraps at 60 characters; each line is one X-Ops-Authorization-N header.
_AUTH_LINE = 60
# PKCS#1 v1.5: 0x00 0x01 PS 0x00 M with at least 8 bytes of 0xff padding.
_PKCS1_OVERHEAD = 11


def check_version(version: str) -> str:
    if version not in ALGORITHMS:
        raise ChefSigningError(
            f"unsupported signing protocol version {version!r}; use one of {', '.join(ALGORITHMS)}"
        )
    return version


def digest_b64(data: bytes, algorithm: str) -> str:
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")


def canonical_path(path: str) -> str:
    """Path without query, runs of '/' collapsed, no trailing '/' (except the root)."""
    path = re.sub(r"/+", "/", path.split("?", 1)[0]) or "/"
    return path.rstrip("/") or "/"


def canonical_time(when: datetime) -> str:
    """ISO 8601 in UTC to the second, as Ruby's `Time#utc.iso8601`."""
    if when.tzinfo is None:
        raise ChefSigningError("the signing time must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a request that go into its signature."""

    method: str
    path: str
    body: bytes
    user_id: str
    timestamp: str
    version: str = DEFAULT_SIGN_VERSION
    # Signed only by 1.3; the request must carry the same value in X-Ops-Server-API-Version.
    server_api_version: str = "0"

    @property
    def algorithm(self) -> str:
        return ALGORITHMS[check_version(self.version)]

    @property
    def content_hash(self) -> str:
        return digest_b64(self.body, self.algorithm)

    def canonical(self) -> bytes:
        """The string the signature covers, byte for byte as mixlib and chef_authn build it."""
        algorithm = self.algorithm
        method = self.method.upper()
        path = canonical_path(self.path)
        if self.version == "1.3":
            lines = [
                f"Method:{method}",
                f"Path:{path}",
                f"X-Ops-Content-Hash:{self.content_hash}",
                f"X-Ops-Sign:version={self.version}",
                f"X-Ops-Timestamp:{self.timestamp}",
                f"X-Ops-UserId:{self.user_id}",
                f"X-Ops-Server-API-Version:{self.server_api_version}",
            ]
        else:
            user_id = digest_b64(self.user_id.encode(), algorithm) if self.version == "1.1" else self.user_id
            lines = [
                f"Method:{method}",
                f"Hashed Path:{digest_b64(path.encode(), algorithm)}",
                f"X-Ops-Content-Hash:{self.content_hash}",
                f"X-Ops-Timestamp:{self.timestamp}",
                f"X-Ops-UserId:{user_id}",
            ]
        return "\n".join(lines).encode("utf-8")

    def sign_description(self) -> str:
        # The trailing ';' is what mixlib sends; its verifier rejects 1.3 without algorithm=.
        return f"algorithm={self.algorithm};version={self.version};"


def load_private_key(pem: bytes | str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8, unencrypted). The error never echoes the key."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # The exception text of cryptography does not include the key material.
        raise ChefSigningError(
            f"the client key is not a usable unencrypted PEM private key ({exc})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ChefSigningError("the client key must be an RSA key (Chef signs only with RSA)")
    return key


def load_public_key(pem: bytes | str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1), or the public half of a private key."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        return load_private_key(data).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ChefSigningError(f"not a usable PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ChefSigningError("the public key must be an RSA key")
    return key


def _modulus_bytes(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> int:
    return (key.key_size + 7) // 8


def private_encrypt(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    """OpenSSL `RSA_private_encrypt(..., RSA_PKCS1_PADDING)`: type-1 padding, then m^d mod n.

    Blinded (m * r^e) so the modular exponentiation's timing says nothing about d; the result is the
    same deterministic signature.
    """
    size = _modulus_bytes(key)
    if len(message) > size - _PKCS1_OVERHEAD:
        raise ChefSigningError(
            f"the canonical request is {len(message)} bytes, over the {size - _PKCS1_OVERHEAD} bytes a "
            f"{key.key_size}-bit key can sign with protocol 1.0 (a long client name?); use 1.1 or 1.3"
        )
    padded = b"\x00\x01" + b"\xff" * (size - len(message) - 3) + b"\x00" + message
    numbers = key.private_numbers()
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    blind = secrets.randbelow(n - 2) + 2
    blinded = int.from_bytes(padded, "big") * pow(blind, e, n) % n
    # CRT: two half-size exponentiations instead of one full one.
    s_p = pow(blinded, numbers.dmp1, numbers.p)
    s_q = pow(blinded, numbers.dmq1, numbers.q)
    signed = s_q + numbers.q * (numbers.iqmp * (s_p - s_q) % numbers.p)
    return (signed * pow(blind, -1, n) % n).to_bytes(size, "big")


def public_decrypt(key: rsa.RSAPublicKey, signature: bytes) -> bytes | None:
    """OpenSSL `RSA_public_decrypt` with PKCS#1 padding: the signed message, or None if malformed."""
    size = _modulus_bytes(key)
    numbers = key.public_numbers()
    value = int.from_bytes(signature, "big")
    if len(signature) != size or value >= numbers.n:
        return None
    block = pow(value, numbers.e, numbers.n).to_bytes(size, "big")
    separator = block.find(b"\x00", 2)
    if not block.startswith(b"\x00\x01") or separator < 10 or set(block[2:separator]) != {0xFF}:
        return None
    return block[separator + 1 :]


def raw_signature(key: rsa.RSAPrivateKey, request: SignedRequest) -> bytes:
    canonical = request.canonical()
    if request.version == "1.3":
        return key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
    return private_encrypt(key, canonical)


def authorization_headers(signature: bytes) -> dict[str, str]:
    encoded = base64.b64encode(signature).decode("ascii")
    chunks = [encoded[i : i + _AUTH_LINE] for i in range(0, len(encoded), _AUTH_LINE)]
    return {f"X-Ops-Authorization-{n}": chunk for n, chunk in enumerate(chunks, start=1)}


def sign(key: rsa.RSAPrivateKey, request: SignedRequest) -> dict[str, str]:
    """The authentication headers for a request (X-Ops-Server-API-Version included for 1.3)."""
    headers = {
        "X-Ops-Sign": request.sign_description(),
        "X-Ops-Userid": request.user_id,
        "X-Ops-Timestamp": request.timestamp,
        "X-Ops-Content-Hash": request.content_hash,
    }
    headers.update(authorization_headers(raw_signature(key, request)))
    if request.version == "1.3":
        # goiardi canonicalises a missing header as "", erchef as 0: always send what was signed.
        headers["X-Ops-Server-API-Version"] = request.server_api_version
    return headers


@dataclass(frozen=True)
class Signer:
    """Signs requests as one client with one key and protocol version."""

    user_id: str
    key: rsa.RSAPrivateKey
    version: str = DEFAULT_SIGN_VERSION
    server_api_version: str = "1"

    def __post_init__(self) -> None:
        check_version(self.version)
        # X-Ops-Userid is an HTTP header: a non-ASCII name would fail deep in http.client with a codec error.
        if not self.user_id.isascii() or not self.user_id.isprintable():
            raise ChefSigningError(
                f"client name {self.user_id!r} is not printable ASCII: Chef client and user names may "
                "contain only letters A-Z and a-z, digits, '_', '-' and '.'"
            )

    def headers(
        self, method: str, path: str, body: bytes = b"", when: datetime | None = None
    ) -> dict[str, str]:
        request = SignedRequest(
            method=method,
            path=path,
            body=body,
            user_id=self.user_id,
            timestamp=canonical_time(when or datetime.now(UTC)),
            version=self.version,
            server_api_version=self.server_api_version,
        )
        return sign(self.key, request)

    def __repr__(self) -> str:
        # Never let a traceback or a log line print the key object's numbers.
        return f"Signer(user_id={self.user_id!r}, version={self.version!r})"
