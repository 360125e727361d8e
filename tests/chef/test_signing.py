"""The signer against the official vectors, and its edge cases; the verifier's verdicts."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chef_api import ChefSigningError, SignedRequest, Signer, load_private_key, load_public_key, sign
from chef_api.signing import (
    authorization_headers,
    canonical_path,
    canonical_time,
    private_encrypt,
    public_decrypt,
)
from chef_api.verify import parse_sign_description, verify_request
from tests.chef import vectors
from tests.chef.conftest import pem, public_pem

VERSIONS = ("1.0", "1.1", "1.3")
SPEC_KEY = load_private_key(vectors.PRIVATE_KEY)
SPEC_PUBLIC = load_public_key(vectors.PUBLIC_KEY)
SPEC_TIME = datetime(2009, 1, 1, 12, 0, tzinfo=UTC)


def spec_request(version: str) -> SignedRequest:
    return SignedRequest(
        method=vectors.METHOD.lower(),
        path=vectors.PATH,
        body=vectors.BODY,
        user_id=vectors.USER_ID,
        timestamp=vectors.TIMESTAMP,
        version=version,
        server_api_version=vectors.SERVER_API_VERSION,
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_official_vector_canonical_string(version):
    assert spec_request(version).canonical() == vectors.CANONICAL[version].encode()


@pytest.mark.parametrize("version", VERSIONS)
def test_official_vector_headers(version):
    headers = sign(SPEC_KEY, spec_request(version))
    expected = dict(vectors.EXPECTED_HEADERS[version])
    if version == "1.3":
        # Not a mixlib header, but what the signature covers must travel with the request.
        expected["X-Ops-Server-API-Version"] = vectors.SERVER_API_VERSION
    assert headers == expected


def test_derived_hashes_match_the_spec_constants():
    assert spec_request("1.0").content_hash == vectors.HASHED_BODY_SHA1
    assert spec_request("1.3").content_hash == vectors.HASHED_BODY_SHA256
    assert vectors.HASHED_CANONICAL_PATH in vectors.CANONICAL["1.0"]
    assert vectors.DIGESTED_USER_ID in spec_request("1.1").canonical().decode()


def test_signer_builds_the_same_headers_as_the_vector():
    signer = Signer(vectors.USER_ID, SPEC_KEY, "1.3", server_api_version="1")
    assert signer.headers("POST", vectors.PATH, vectors.BODY, when=SPEC_TIME) == sign(
        SPEC_KEY, spec_request("1.3")
    )


def test_the_empty_body_hashes_as_chef_documents():
    assert (
        SignedRequest("GET", "/", b"", "u", vectors.TIMESTAMP, "1.0").content_hash
        == "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
    )
    assert (
        SignedRequest("GET", "/", b"", "u", vectors.TIMESTAMP, "1.3").content_hash
        == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    )


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/", "/"),
        ("", "/"),
        ("//", "/"),
        ("/nodes/", "/nodes"),
        ("/organizations//acme///nodes//", "/organizations/acme/nodes"),
        ("/search/node?q=name:web*&rows=10", "/search/node"),
        ("/nodes/web%2Fone", "/nodes/web%2Fone"),
    ],
)
def test_path_canonicalisation(raw, canonical):
    assert canonical_path(raw) == canonical


def test_the_query_string_is_not_signed():
    plain = SignedRequest("GET", "/search/node", b"", "u", vectors.TIMESTAMP)
    with_query = SignedRequest("GET", "/search/node?q=*:*&start=0", b"", "u", vectors.TIMESTAMP)
    assert plain.canonical() == with_query.canonical()


def test_timestamps_are_utc_to_the_second():
    when = datetime(2025, 6, 1, 14, 30, 15, 999999, tzinfo=timezone(timedelta(hours=2)))
    assert canonical_time(when) == "2025-06-01T12:30:15Z"
    with pytest.raises(ChefSigningError, match="timezone-aware"):
        canonical_time(datetime(2025, 6, 1))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_4096_bit_key_gives_twelve_authorization_headers(version, key_4096):
    request = SignedRequest(
        "PUT", "/nodes/web1", b'{"name":"web1"}', "client", canonical_time(datetime.now(UTC))
    )
    request = SignedRequest(**{**request.__dict__, "version": version})
    headers = sign(key_4096, request)
    lines = [headers[f"X-Ops-Authorization-{n}"] for n in range(1, 13)]
    assert "X-Ops-Authorization-13" not in headers
    assert [len(line) for line in lines] == [60] * 11 + [24]
    assert verify_request("PUT", "/nodes/web1", headers, request.body, key_4096.public_key()).ok


def test_protocol_1_0_refuses_a_canonical_string_too_long_for_the_key():
    long_user = "u" * 200
    request = SignedRequest("GET", "/nodes", b"", long_user, vectors.TIMESTAMP, "1.0")
    with pytest.raises(ChefSigningError, match=r"over the 245 bytes a 2048-bit key can sign.*use 1.1 or 1.3"):
        sign(SPEC_KEY, request)
    # 1.1 hashes the userid, so the same client signs fine.
    headers = sign(SPEC_KEY, SignedRequest("GET", "/nodes", b"", long_user, vectors.TIMESTAMP, "1.1"))
    assert headers["X-Ops-Userid"] == long_user


@pytest.mark.parametrize("version", ["poo", "1.2", "1.4", "", "1"])
def test_an_unknown_version_is_refused(version):
    with pytest.raises(ChefSigningError, match="unsupported signing protocol version"):
        sign(SPEC_KEY, SignedRequest("GET", "/", b"", "u", vectors.TIMESTAMP, version))
    with pytest.raises(ChefSigningError):
        Signer("u", SPEC_KEY, version)


def test_private_encrypt_matches_public_decrypt_and_is_deterministic():
    message = b"Method:GET\nsomething to sign"
    first, second = private_encrypt(SPEC_KEY, message), private_encrypt(SPEC_KEY, message)
    assert first == second
    assert public_decrypt(SPEC_PUBLIC, first) == message
    assert public_decrypt(SPEC_PUBLIC, first[:-1] + bytes([first[-1] ^ 1])) != message


def test_authorization_lines_split_at_60_characters():
    headers = authorization_headers(bytes(range(256)))
    encoded = base64.b64encode(bytes(range(256))).decode()
    assert "".join(headers[f"X-Ops-Authorization-{n}"] for n in range(1, len(headers) + 1)) == encoded
    assert all(len(v) == 60 for k, v in headers.items() if k != f"X-Ops-Authorization-{len(headers)}")


def test_key_errors_are_clear_and_never_echo_the_key():
    secret_looking = "-----BEGIN RSA PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END RSA PRIVATE KEY-----\n"
    with pytest.raises(ChefSigningError, match="not a usable unencrypted PEM private key") as caught:
        load_private_key(secret_looking)
    assert "TOPSECRET" not in str(caught.value)
    with pytest.raises(ChefSigningError, match="not a usable PEM public key"):
        load_public_key("not a key")


def test_public_key_from_a_private_key_pem(key_4096):
    assert load_public_key(pem(key_4096)).public_numbers() == key_4096.public_key().public_numbers()
    assert load_public_key(public_pem(key_4096)).public_numbers() == key_4096.public_key().public_numbers()


def test_repr_never_shows_the_key():
    assert "PRIVATE" not in repr(Signer("u", SPEC_KEY)) and "RSAPrivateKey" not in repr(Signer("u", SPEC_KEY))


# The verifier, on the vector and on the mixlib spec's negative cases.


@pytest.mark.parametrize("version", VERSIONS)
def test_verifier_accepts_the_official_vectors(version):
    headers = {**vectors.EXPECTED_HEADERS[version], "X-Ops-Server-API-Version": "1"}
    result = verify_request("POST", vectors.PATH, headers, vectors.BODY, SPEC_PUBLIC, now=SPEC_TIME)
    assert result.ok, result.reason
    assert (result.user_id, result.version) == (vectors.USER_ID, version)


def _spec_headers(version: str = "1.3", **changes: str) -> dict[str, str]:
    return {**vectors.EXPECTED_HEADERS[version], "X-Ops-Server-API-Version": "1", **changes}


def _verify(headers, body=vectors.BODY, now=SPEC_TIME, method="POST", path=vectors.PATH):
    return verify_request(method, path, headers, body, SPEC_PUBLIC, now=now)


def test_verifier_rejects_a_tampered_body():
    result = _verify(_spec_headers(), body=b"Spec Body!")
    assert not result.ok and not result.signature_ok and not result.content_hash_ok


def test_verifier_flags_a_content_hash_that_does_not_match_the_body():
    hashed = vectors.HASHED_BODY_SHA1 + "_"
    result = _verify(_spec_headers("1.0", **{"X-Ops-Content-Hash": hashed}))
    assert not result.content_hash_ok and not result.ok


def test_verifier_rejects_a_stale_timestamp():
    result = _verify(_spec_headers(), now=SPEC_TIME + timedelta(seconds=1000))
    assert result.signature_ok and result.content_hash_ok and not result.timestamp_ok
    assert "timestamp" in result.reason


def test_verifier_rejects_a_bad_signature_and_a_different_request():
    assert not _verify(_spec_headers(**{"X-Ops-Authorization-1": "epicfail"})).ok
    assert not _verify(_spec_headers(), method="PUT").signature_ok
    assert not _verify(_spec_headers(), path="/organizations/other").signature_ok
    assert not _verify(_spec_headers(**{"X-Ops-Server-API-Version": "0"})).signature_ok


@pytest.mark.parametrize(
    ("sign_header", "reason"),
    [
        ("algorithm=sha1;version=poo;", "unsupported signing version"),
        ("algorithm=sha_poo;version=1.3;", "does not go with version"),
        ("algorithm=sha1;version=1.3;", "does not go with version"),
    ],
)
def test_verifier_rejects_bad_versions_and_algorithms(sign_header, reason):
    result = _verify(_spec_headers(**{"X-Ops-Sign": sign_header}))
    assert not result.ok and reason in result.reason


def test_verifier_accepts_a_sign_description_without_algorithm_as_chef_authn_does():
    assert _verify(_spec_headers(**{"X-Ops-Sign": "version=1.3"})).ok
    assert parse_sign_description("algorithm=sha256;version=1.3;") == {
        "algorithm": "sha256",
        "version": "1.3",
    }


def test_verifier_reports_missing_headers():
    headers = _spec_headers()
    del headers["X-Ops-Timestamp"]
    assert "x-ops-timestamp" in _verify(headers).reason
    headers = _spec_headers()
    del headers["X-Ops-Authorization-3"]
    assert "out of sequence" in _verify(headers).reason
