"""Serve feed files like a real static web server: ETag, Last-Modified, 304.

Built on ``httpserver.LocalServer``; each file is served at ``/<index>/<name>``
with validators, and a conditional request whose validator matches gets 304.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from httpserver import LocalServer, Received, Reply

LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


def static(body: bytes, content_type: str = "application/xml") -> object:
    """A responder for one file with an ETag and Last-Modified; 304 when they match."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def respond(request: Received) -> Reply:
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Content-Type": content_type}
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers=headers)
        return Reply(body=body, headers=headers)

    return respond


def serve_files(server: LocalServer, files: list[Path]) -> list[str]:
    """Route every file; return their URLs in the same order."""
    urls = []
    for index, path in enumerate(files):
        route = f"/{index}/{path.name}"
        kind = "application/json" if path.suffix == ".json" else "application/xml"
        server.route(route, static(path.read_bytes(), kind))  # type: ignore[arg-type]
        urls.append(server.url(route))
    return urls
