"""A real HTTP receiver for webhook tests: http.server on a thread, on 127.0.0.1. It records
every request (headers and body), answers with `status`, and can be taken down and brought
back on the same port (a receiver that was down)."""

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


def verify(body: str, header: str, secret: str, *, tolerance: int | None = None, now=None) -> bool:
    """What a receiver does (docs/notifications.md): recompute the HMAC of "t.body"."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{fields['t']}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    if tolerance is not None and abs(now - int(fields["t"])) > tolerance:
        return False
    return hmac.compare_digest(expected, fields["v1"])


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.headers_out: dict[str, str] = {}
        # cleared: a request waits (holding its connection) until the test sets it
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Event()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                receiver.requests.append(Received(self.path, dict(self.headers), body))
                receiver.arrived.set()
                receiver.release.wait(30)
                self.send_response(receiver.status)
                for name, value in receiver.headers_out.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: nothing listens on the port (connection refused)."""
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def event_ids(self) -> list[str]:
        return [r.event["id"] for r in self.requests]
