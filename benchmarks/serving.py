"""Serve a directory of feeds on 127.0.0.1 for the benchmarks.

nginx when it is on PATH (one worker, keepalive, sendfile, no access log), else a
threaded Python server. Both send ETag and Last-Modified and answer conditional
requests with 304 when ``validators`` is on; with it off they send neither header
and always answer 200 with the whole body, as many real servers do.

Use as ``with FeedServer(root, port) as server: server.set_validators(False)``.
The Python server runs in its own process, so it never takes CPU from the
measured tool's accounting.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    types {{ application/rss+xml xml; }}
    default_type application/octet-stream;
    client_body_temp_path {work}/tmp;
    proxy_temp_path {work}/tmp;
    fastcgi_temp_path {work}/tmp;
    uwsgi_temp_path {work}/tmp;
    scgi_temp_path {work}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        {validators}
    }}
}}
"""
_NO_VALIDATORS = 'etag off; if_modified_since off; add_header Last-Modified "";'


def nginx_path() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
    )


class FeedServer:
    """nginx or the Python fallback, restartable with or without validators."""

    def __init__(self, root: Path, port: int, work: Path, *, use_nginx: bool = True) -> None:
        self.root = root.resolve()
        self.port = port
        self.work = work.resolve()
        self.nginx = nginx_path() if use_nginx else None
        self.validators = True
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def kind(self) -> str:
        return "nginx" if self.nginx else "python"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_validators(self, on: bool) -> None:
        if on != self.validators:
            self.validators = on
            self.stop()
            self.start()

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        if self.nginx:
            command = [self.nginx, "-c", str(self._nginx_conf()), "-p", str(self.work)]
        else:
            command = [sys.executable, __file__, str(self.root), str(self.port)]
            command.append("validators" if self.validators else "none")
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        self._wait_ready()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGQUIT if self.nginx else signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _nginx_conf(self) -> Path:
        (self.work / "tmp").mkdir(exist_ok=True)
        text = _NGINX_CONF.format(
            work=self.work,
            port=self.port,
            root=self.root,
            validators="" if self.validators else _NO_VALIDATORS,
        )
        path = self.work / "nginx.conf"
        path.write_text(text, encoding="utf-8")
        return path

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url("ready-check"), timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # a 404 is an answer: the server is up
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"feed server on port {self.port} did not start")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = Path(".")
    validators = True

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/").split("?")[0]
        try:
            stat = path.stat()
            body = path.read_bytes()
        except OSError:
            self._send(404, {}, b"not found")
            return
        headers = {"Content-Type": "application/rss+xml"}
        if self.validators:
            etag = '"' + hashlib.md5(body).hexdigest() + '"'
            headers["ETag"] = etag
            headers["Last-Modified"] = formatdate(stat.st_mtime, usegmt=True)
            if self._not_modified(etag, stat.st_mtime):
                self._send(304, headers, b"")
                return
        self._send(200, headers, body)

    def _not_modified(self, etag: str, mtime: float) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:
            return etag in match
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return int(mtime) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(root: str, port: int, validators: bool) -> None:
    _Handler.root = Path(root)
    _Handler.validators = validators
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "validators")
