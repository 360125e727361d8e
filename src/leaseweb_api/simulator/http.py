"""The simulator on HTTP: the standard library's threading server, HTTP/1.1 with keep-alive."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from leaseweb_api.simulator import logfmt
from leaseweb_api.simulator.app import Simulator


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, app: Simulator):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__((host, port), Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs cost 40 ms per request.
    disable_nagle_algorithm = True
    server_version = "leaseweb-simulator"
    server: SimulatorServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.app.handle(self.command, self.path, self.headers, body)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            if reply.status != 204:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a slow-response fault outlived its timeout).
            logfmt.event("client_gone", method=self.command, path=self.path)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the app logs one structured line per request instead."""
