"""The simulator on HTTP: the standard library's threading server, HTTP/1.1 with keep-alive.

Like LeaseWeb's gateway, it answers every request with the API's JSON: a method the API does not define gets
405 with `Allow` (not the standard library's HTML 501), a body it cannot frame (a `Content-Length` that is not
a non-negative integer, broken chunks) 400 at once, a chunked body is read.
"""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from leaseweb_api.simulator import logfmt
from leaseweb_api.simulator.app import Simulator
from leaseweb_api.simulator.errors import ApiFault

# No API body comes near this; a larger one is refused before it is read.
MAX_BODY_BYTES = 1024 * 1024


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, app: Simulator):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__((host, port), Handler)


def _framing_error(field: str, message: str, status: int = 400) -> ApiFault:
    return ApiFault(status, details={field: [message]})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs cost 40 ms per request.
    disable_nagle_algorithm = True
    server_version = "leaseweb-simulator"
    server: SimulatorServer

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the app (BaseHTTPRequestHandler looks up do_<METHOD>), which answers the ones
        # the API does not define with 405 and Allow.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise _framing_error("Transfer-Encoding", "The chunked body is malformed.") from None
            if size < 0 or len(body) + size > MAX_BODY_BYTES:
                raise _framing_error("body", "The request body is too large.", 413)
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailer fields, up to the empty line
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            if self.rfile.readline(3).strip():
                raise _framing_error("Transfer-Encoding", "The chunked body is malformed.")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            raise _framing_error("Content-Length", "This value should be a non-negative integer.")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            raise _framing_error("body", "The request body is too large.", 413)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        refused = None
        body = b""
        try:
            body = self._read_body()
        except ApiFault as fault:
            refused = fault
            self.close_connection = True  # what follows on the connection cannot be framed
        reply = self.server.app.handle(self.command, self.path, self.headers, body, refused)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            if reply.status != 204:
                self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a slow-response fault outlived its timeout).
            logfmt.event("client_gone", method=self.command, path=self.path)
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the app logs one structured line per request instead."""
