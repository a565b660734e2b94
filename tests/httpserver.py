"""A real HTTP/1.1 server on 127.0.0.1, in a thread of the test process, scripted per path.

Register a ``Reply`` (or a function of the ``Received`` request returning one)
for a path with ``route``, point the code under test at ``url(path)``, then look
at what the server received and how many requests it handled at once::

    with LocalServer() as server:
        server.route("/feed", Reply(body=b"<rss/>", headers={"ETag": '"1"'}))
        ... fetch server.url("/feed") ...
        assert server.received_on("/feed")[0].headers["user-agent"]

Unregistered paths answer 404. It never reaches beyond the loopback interface.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    """What the server answers for one request."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before the status line
    trickle: float = 0.0  # when > 0: send the body one byte at a time, this many seconds apart
    content_length: int | None = None  # None: len(body); -1: none, the body ends at close


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes = b""  # of a POST


Responder = Reply | Callable[[Received], Reply]


class LocalServer:
    """A scripted HTTP server on an ephemeral 127.0.0.1 port; use it as a context manager."""

    def __init__(self) -> None:
        self._routes: dict[str, Responder] = {}
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_in_flight = 0  # most requests in their delay at the same time
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []  # raised while serving; re-raised on exit
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.local = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, responder: Responder) -> None:
        """Answer requests for ``path`` (query string ignored) with ``responder``."""
        with self._lock:
            self._routes[path] = responder

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def received_on(self, path: str) -> list[Received]:
        return [r for r in self.received if urlsplit(r.path).path == path]

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        if self.errors and exc is None:
            raise self.errors[0]

    def serve(self, handler: _Handler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length", "0") or 0)
        body = handler.rfile.read(length) if handler.command == "POST" and length else b""
        received = Received(handler.command, handler.path, headers, body)
        reply = self._reply_for(received)
        self._enter()
        try:
            self.stopping.wait(reply.delay)
        finally:
            self._leave()  # before answering, so the client cannot overlap with this one
        _send(handler, reply, self.stopping)

    def _reply_for(self, received: Received) -> Reply:
        with self._lock:
            self._received.append(received)
            responder = self._routes.get(urlsplit(received.path).path, Reply(404, b"not found"))
        return responder(received) if callable(responder) else responder

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _send(handler: _Handler, reply: Reply, stopping: threading.Event) -> None:
    length = len(reply.body) if reply.content_length is None else reply.content_length
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    if length >= 0:
        handler.send_header("Content-Length", str(length))
    if length != len(reply.body):
        handler.send_header("Connection", "close")
        handler.close_connection = True
    handler.end_headers()
    if reply.trickle > 0:
        for index in range(len(reply.body)):
            if stopping.wait(reply.trickle):
                return
            handler.wfile.write(reply.body[index : index + 1])
            handler.wfile.flush()
    else:
        handler.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    local: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up is expected; anything else (a broken responder) fails the test."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.local.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 5  # idle keep-alive connections end on their own

    def do_GET(self) -> None:
        try:
            self.server.local.serve(self)
        except OSError:  # the client went away (deadline, size cap, closed pool)
            self.close_connection = True

    do_HEAD = do_GET
    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Tests read ``received`` instead of a log."""
