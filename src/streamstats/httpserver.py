"""A small threaded HTTP server for the services: JSON answers, /healthz and /metrics built in.

A connection idle or stalled (a slow client) for `timeout` seconds is closed, and so is one whose
request body takes longer than `timeout` in all (a client trickling it byte by byte, answered 408),
so clients cannot hold threads forever; the listen backlog takes a fleet's burst of connects without
SYN retries. With a TLS context, each connection's handshake runs in its own thread (a slow handshake
holds no one else), and a client speaking plain HTTP to the TLS port gets a plain-text 400 saying so
instead of a reset."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from streamstats.metrics import Registry

log = logging.getLogger("streamstats.http")


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or str for text/plain
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[["Request"], Response]


@dataclass
class Request:
    method: str
    path: str
    headers: Any
    read_body: Callable[[int], bytearray | None]  # at most N bytes, None when the body is larger


class SlowBody(Exception):
    """The request body did not arrive within the connection's timeout."""


BODY_CHUNK = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # An answer goes out as two writes (headers, then body): with Nagle's algorithm the second waits for
    # the peer's delayed ACK of the first, 40 ms on Linux, on every request of a kept-alive connection.
    disable_nagle_algorithm = True

    def _dispatch(self, method: str) -> None:
        request = Request(method, self.path.split("?", 1)[0], self.headers, self._read_body)
        try:
            response = self.server.route(request)
        except SlowBody:
            self.close_connection = True
            response = Response(408, {"error": f"request body not received within {self.timeout:g}s"})
        except Exception:
            log.exception("request failed", extra={"kv": {"path": request.path}})
            response = Response(500, {"error": "internal"})
        self._send(response)

    def _read_body(self, limit: int) -> bytearray | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self.close_connection = True  # the unread body cannot be skipped safely
            return None
        deadline = time.monotonic() + self.timeout
        body = bytearray(length)
        view, received = memoryview(body), 0
        while received < length:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SlowBody
            self.connection.settimeout(left)
            try:
                count = self.rfile.readinto1(view[received : received + BODY_CHUNK])
            except TimeoutError:
                raise SlowBody from None
            if not count:
                raise SlowBody  # the client closed before the end of its body
            received += count
        self.connection.settimeout(self.timeout)
        return body

    def _send(self, response: Response) -> None:
        if isinstance(response.body, str):
            payload, kind = response.body.encode(), "text/plain; version=0.0.4; charset=utf-8"
        else:
            payload, kind = json.dumps(response.body).encode(), "application/json"
        self.send_response(response.status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format % args)


TLS_RECORD_HANDSHAKE = 0x16  # the first byte of every TLS ClientHello
PLAIN_HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    b"This port speaks TLS: use an https:// URL.\n"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], route: Route, timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        handler = type("Handler", (_Handler,), {"timeout": timeout})
        super().__init__(address, handler)
        self.route, self.timeout_seconds, self.tls = route, timeout, tls

    def finish_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        """In the connection's thread: the TLS handshake (if any), then the requests."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(self.timeout_seconds)
        try:
            first = request.recv(1, socket.MSG_PEEK)
            if first and first[0] != TLS_RECORD_HANDSHAKE:
                request.sendall(PLAIN_HTTP_ANSWER)
                return
            secured = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("handshake failed", extra={"kv": {"peer": str(client_address), "error": str(exc)}})
            return
        try:
            super().finish_request(secured, client_address)  # type: ignore[arg-type]
        finally:
            secured.close()


def serve(
    listen: str,
    route: Route,
    registry: Registry,
    health: Callable[[], tuple[bool, dict]],
    timeout: float = 30.0,
    tls: ssl.SSLContext | None = None,
) -> _Server:
    """Start serving `route` plus /healthz and /metrics on HOST:PORT in a daemon thread."""

    def with_builtins(request: Request) -> Response:
        if request.method == "GET" and request.path == "/metrics":
            return Response(200, registry.render())
        if request.method == "GET" and request.path == "/healthz":
            ok, detail = health()
            return Response(200 if ok else 503, {"status": "ok" if ok else "unhealthy", **detail})
        return route(request)

    host, port = listen.rsplit(":", 1)
    server = _Server((host, int(port)), with_builtins, timeout, tls)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def server_tls(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context: TLS 1.2 or later, the certificate chain and its key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
