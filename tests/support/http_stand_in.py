"""Small HTTP servers on 127.0.0.1 that answer as a documented API would (ARM, retail prices)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A handler that answers JSON and keeps quiet."""

    def send_json(self, body: Any, status: int = 200) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], *, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Serve `handler` on a free port for the block; yields the base URL. With `tls` (certificate
    and key files), over HTTPS, as the Azure SDK's bearer-token policy requires."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    # serve_forever checks for shutdown() every poll_interval (0.5 s by default, socketserver.py):
    # each block would end half a second late.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
