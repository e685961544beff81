"""A real webhook receiver on a loopback port (a thread), for end-to-end delivery tests.

It records every request (headers and body) and answers with the statuses
queued in `replies` (then 200). A reply may be `"hang"`: the answer waits
until `release()` (a worker "dies" mid-attempt while it waits).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    replies: list[Any] = field(default_factory=list)
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        self._release.set()

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]

    def of_type(self, event: str) -> list[Received]:
        return [r for r in self.requests if f'"type":"{event}"' in r.body]


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a dispatcher round sends dozens of
    # deliveries at once, and on a busy machine the overflow was reset (ReadError).
    request_queue_size = 128


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            assert receiver is not None
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode()
            with receiver._lock:
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = receiver.replies.pop(0) if receiver.replies else 200
            if reply == "hang":
                receiver._release.wait(30)
                reply = 200
            if isinstance(reply, tuple):  # (status, extra headers, body)
                status, headers, payload = reply
            else:
                status, headers, payload = reply, {}, b"ok"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except OSError:
                pass  # the sender stopped reading (body limit) or went away

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
