"""Cross-verification with Ruby's mixlib-authentication, the reference implementation (Debian's
ruby-mixlib-authentication): what this project signs, mixlib accepts; what mixlib signs, this project's
verifier accepts."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chef_api import SignedRequest, load_private_key, sign, verify_request
from chef_api.signing import canonical_time
from tests.chef import vectors
from tests.chef.conftest import pem, public_pem

NON_ASCII_BODY = json.dumps(
    {"name": "web1", "normal": {"motd": "Grüße, 東京 ✓"}}, ensure_ascii=False
).encode()
# (method, path, body): org paths with doubled and trailing slashes, a JSON body, non-ASCII UTF-8, no body.
REQUESTS = [
    ("GET", "/organizations/acme/nodes", b""),
    ("POST", "/organizations/acme//nodes/", b'{"name":"web1","run_list":["role[edge]"]}'),
    ("PUT", "/nodes/web1", NON_ASCII_BODY),
    ("DELETE", "/nodes/web1", b""),
]
# (protocol version, X-Ops-Server-API-Version)
PROTOCOLS = [("1.0", "1"), ("1.1", "1"), ("1.3", "0"), ("1.3", "1"), ("1.3", "2")]
SPEC_KEY = load_private_key(vectors.PRIVATE_KEY)


def _b64(body: bytes) -> str:
    return base64.b64encode(body).decode()


def _our_request(method: str, path: str, body: bytes, version: str, api: str) -> SignedRequest:
    return SignedRequest(method, path, body, "acme-ansible", canonical_time(datetime.now(UTC)), version, api)


@pytest.fixture(scope="module")
def keys(key_4096):
    return {"2048": SPEC_KEY, "4096": key_4096}


def test_mixlib_verifies_what_this_project_signs(mixlib, keys):
    cases, labels = [], []
    for key_name, key in keys.items():
        for version, api in PROTOCOLS:
            for method, path, body in REQUESTS:
                request = _our_request(method, path, body, version, api)
                headers = sign(key, request)
                cases.append(
                    {
                        "op": "verify",
                        "method": method,
                        "path": path,
                        "body_b64": _b64(body),
                        "headers": headers,
                        "public_key": public_pem(key),
                    }
                )
                labels.append(f"{key_name}-bit {version} api={api} {method} {path}")
    results = mixlib(cases)
    failed = [(label, r) for label, r in zip(labels, results, strict=True) if not r.get("authenticated")]
    assert not failed, failed
    assert len(results) == len(keys) * len(PROTOCOLS) * len(REQUESTS)


def test_mixlib_rejects_a_tampered_body_and_a_stranger_key(mixlib, key_4096):
    request = _our_request("PUT", "/nodes/web1", b'{"a":1}', "1.3", "1")
    headers = sign(SPEC_KEY, request)
    base = {"op": "verify", "method": "PUT", "path": "/nodes/web1", "headers": headers}
    tampered, stranger = mixlib(
        [
            {**base, "body_b64": _b64(b'{"a":2}'), "public_key": vectors.PUBLIC_KEY},
            {**base, "body_b64": _b64(b'{"a":1}'), "public_key": public_pem(key_4096)},
        ]
    )
    assert tampered["authenticated"] is False and tampered["signature"] is False
    assert tampered["content_hash"] is False
    assert stranger["authenticated"] is False and stranger["signature"] is False
    assert stranger["content_hash"] is True


def test_mixlib_rejects_version_1_3_without_its_algorithm(mixlib):
    # Why X-Ops-Sign always carries algorithm=: mixlib's verifier defaults it to sha1.
    headers = sign(SPEC_KEY, _our_request("GET", "/nodes", b"", "1.3", "1"))
    headers["X-Ops-Sign"] = "version=1.3"
    (result,) = mixlib(
        [
            {
                "op": "verify",
                "method": "GET",
                "path": "/nodes",
                "body_b64": "",
                "headers": headers,
                "public_key": vectors.PUBLIC_KEY,
            }
        ]
    )
    assert result["authenticated"] is False


def test_this_project_verifies_what_mixlib_signs(mixlib, keys):
    now = datetime.now(UTC)
    cases, requests = [], []
    for key in keys.values():
        for version, api in PROTOCOLS:
            for method, path, body in REQUESTS:
                request = replace(
                    _our_request(method, path, body, version, api), timestamp=canonical_time(now)
                )
                requests.append((request, key))
                cases.append(
                    {
                        "op": "sign",
                        "method": method,
                        "path": path,
                        "body_b64": _b64(body),
                        "user_id": request.user_id,
                        "timestamp": request.timestamp,
                        "version": version,
                        "private_key": pem(key),
                        "headers": {"X-Ops-Server-API-Version": api},
                    }
                )
    results = mixlib(cases)
    for (request, key), result in zip(requests, results, strict=True):
        headers = {**result["headers"], "X-Ops-Server-API-Version": request.server_api_version}
        verdict = verify_request(
            request.method, request.path, headers, request.body, key.public_key(), now=now
        )
        assert verdict.ok, (request, verdict.reason)
        # Same key, same inputs: both implementations produce the same signature, byte for byte.
        ours = sign(key, request)
        assert {k: v for k, v in ours.items() if k != "X-Ops-Server-API-Version"} == result["headers"]


def test_mixlib_reproduces_the_official_vectors(mixlib):
    cases = [
        {
            "op": "sign",
            "method": vectors.METHOD,
            "path": vectors.PATH,
            "body_b64": _b64(vectors.BODY),
            "user_id": vectors.USER_ID,
            "timestamp": vectors.TIMESTAMP,
            "version": version,
            "private_key": vectors.PRIVATE_KEY,
            "headers": {"X-OpS-SeRvEr-ApI-VerSiOn": "1"},
        }
        for version in ("1.0", "1.1", "1.3")
    ]
    results = mixlib(cases)
    for version, result in zip(("1.0", "1.1", "1.3"), results, strict=True):
        assert result["headers"] == vectors.EXPECTED_HEADERS[version]
