"""The simulator answers like LeaseWeb's gateway where the standard library would not (issue 15): JSON 405
with Allow for any method, 400 at once for bodies it cannot frame or parse, chunked bodies read, the
privateNetwork filters, MAC filters in the API's spellings."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
import requests

V2 = "/bareMetals/v2"


def _raw(sim, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; the status, headers and body of the answer (read until the server closes)."""
    parts = urlsplit(sim.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _request(sim, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {urlsplit(sim.url).netloc}", f"X-LSW-Auth: {sim.api_key}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "PATCH", "PROPFIND"])
def test_methods_the_api_does_not_define_are_405_with_allow(sim, method):
    status, headers, body = _raw(sim, _request(sim, method, f"{V2}/servers/10001/leases", {}))
    assert (status, headers["allow"]) == (405, "DELETE, GET, POST")
    assert headers["content-type"] == "application/json"
    if method == "HEAD":
        assert body == b""
    else:
        error = json.loads(body)
        assert error["correlationId"] == headers["apigw-correlation-id"]
        assert (error["errorCode"], error["errorMessage"]) == ("405", "Method not allowed.")


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", " "])
def test_a_content_length_that_is_not_a_count_is_400_at_once(sim, length):
    status, headers, body = _raw(
        sim, _request(sim, "POST", f"{V2}/servers/10001/leases", {"Content-Length": length}, b"{}")
    )
    assert status == 400 and headers["connection"] == "close"
    assert json.loads(body)["errorDetails"] == {
        "Content-Length": ["This value should be a non-negative integer."]
    }


def test_a_body_larger_than_any_api_body_is_refused_unread(sim):
    status, _, body = _raw(
        sim, _request(sim, "POST", f"{V2}/servers/10001/leases", {"Content-Length": "10" * 9})
    )
    assert status == 413 and json.loads(body)["errorCode"] == "413"


def test_a_chunked_body_is_read(sim, client):
    payload = json.dumps({"bootfile": "http://boot.example.net/chunked.ipxe"}).encode()
    chunks = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (payload[:10], payload[10:])) + b"0\r\n\r\n"
    )
    request = _request(
        sim,
        "POST",
        f"{V2}/servers/10001/leases",
        {"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        chunks,
    )
    status, _, _ = _raw(sim, request)
    assert status == 204
    assert client.get_lease("10001").bootfile == "http://boot.example.net/chunked.ipxe"


def test_broken_chunks_are_400(sim):
    request = _request(
        sim, "POST", f"{V2}/servers/10001/leases", {"Transfer-Encoding": "chunked"}, b"zz\r\n{}"
    )
    status, _, body = _raw(sim, request)
    assert status == 400 and "Transfer-Encoding" in json.loads(body)["errorDetails"]


def test_a_deeply_nested_body_is_400(sim):
    body = b"[" * 100_000 + b"]" * 100_000
    response = requests.post(
        f"{sim.url}{V2}/servers/10001/leases", data=body, headers={"X-LSW-Auth": sim.api_key}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["errorDetails"] == {"body": ["The request body is nested too deeply."]}


@pytest.mark.parametrize(
    "bootfile", ["ftp://boot.example.net/a", "javascript:alert(1)", "not a url", "http://x/" + "a" * 300]
)
def test_a_bootfile_iPXE_cannot_fetch_is_400_with_details(sim, bootfile):
    response = requests.post(
        f"{sim.url}{V2}/servers/10001/leases",
        json={"bootfile": bootfile},
        headers={"X-LSW-Auth": sim.api_key},
        timeout=5,
    )
    assert response.status_code == 400
    assert list(response.json()["errorDetails"]) == ["bootfile"]


def _ids(sim, **params: str) -> requests.Response:
    return requests.get(
        f"{sim.url}{V2}/servers", params=params, headers={"X-LSW-Auth": sim.api_key}, timeout=5
    )


def test_private_network_filters_filter(sim):
    capable = {s["id"] for s in _ids(sim, privateNetworkCapable="true").json()["servers"]}
    not_capable = {s["id"] for s in _ids(sim, privateNetworkCapable="false").json()["servers"]}
    assert capable == {"10001", "10002", "10003", "10005"} and not_capable == {"10004"}
    assert _ids(sim, privateNetworkEnabled="true").json()["servers"] == []
    assert len(_ids(sim, privateNetworkEnabled="false").json()["servers"]) == 5
    for name in ("privateNetworkCapable", "privateNetworkEnabled"):
        response = _ids(sim, **{name: "yes"})
        assert response.status_code == 400
        assert response.json()["errorDetails"] == {name: ["This value should be true or false."]}


@pytest.mark.parametrize(
    "mac", ["52:54:00:10:00:01", "52-54-00-10-00-01", "5254.0010.0001", "52:54:00:10:00:01".upper()]
)
def test_mac_filter_accepts_the_api_spellings(sim, mac):
    assert [s["id"] for s in _ids(sim, macAddress=mac).json()["servers"]] == ["10001"]


@pytest.mark.parametrize(
    "mac", ["52:54:00:10:00:01:ff", "52:54-00:10:00:01", "525400100001", "52:54:00:10:00:0g"]
)
def test_mac_filter_refuses_other_spellings(sim, mac):
    response = _ids(sim, macAddress=mac)
    assert response.status_code == 400
    assert response.json()["errorDetails"] == {"macAddress": ["This value is not a valid MAC address."]}
