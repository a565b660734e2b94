"""Fetching through ``httpx.MockTransport``: the fine-grained units, fast and exact.

``Fetcher`` is handed a mock transport (scripted responses), a resolver (made-up
host names map to documentation addresses, so the address guard still runs) and
a clock fixed at ``NOW``. The real path, sockets and all, is tested against a
loopback server in tests/test_fetch.py.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import ipaddress
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from tracker.errors import MESSAGE_MAX, ErrorKind
from tracker.fetch import Fetcher, IPAddress, Resolver
from tracker.models import FetchRequest, FetchResult, Settings

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PUBLIC = "93.184.216.34"
URL = "https://news.example/feed"

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def resolver(table: Mapping[str, str] | None = None) -> Resolver:
    """Host names in ``table`` resolve to its address, every other name to PUBLIC."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address((table or {}).get(host, PUBLIC))]

    return resolve


def fetch(
    handler: Handler,
    request: FetchRequest | str = URL,
    settings: Settings | None = None,
    *,
    resolve: Resolver | None = None,
    now: datetime = NOW,
) -> FetchResult:
    if isinstance(request, str):
        request = FetchRequest(request)

    async def run() -> FetchResult:
        fetcher = Fetcher(
            settings or Settings(),
            transport=httpx.MockTransport(handler),
            resolver=resolve or resolver(),
            clock=lambda: now,
        )
        async with fetcher:
            return await fetcher.fetch(request)

    return asyncio.run(run())


class Script:
    """A handler answering by URL (404 otherwise) and keeping every request."""

    def __init__(self, routes: Mapping[str, httpx.Response]) -> None:
        self.routes = dict(routes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.routes.get(str(request.url), httpx.Response(404))

    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]


class Body(httpx.AsyncByteStream):
    """A response body streamed in the given pieces, as from a socket (a response
    built from bytes counts as already read, and the fetcher reads the raw stream)."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def reply(
    body: bytes = FEED,
    headers: Mapping[str, str] | None = None,
    *,
    status: int = 200,
    pieces: int = 1,
    declared: bool = True,
) -> httpx.Response:
    """A response streaming ``body`` in ``pieces``, with its Content-Length if ``declared``."""
    size = -(-len(body) // pieces) or 1
    stream = Body(*(body[n : n + size] for n in range(0, len(body), size)))
    length = {"Content-Length": str(len(body))} if declared else {}
    return httpx.Response(status, headers={**length, **(headers or {})}, stream=stream)


def redirect(status: int, location: str) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


# --- validators and conditional GET -----------------------------------------------


def test_validators_are_sent_and_a_304_keeps_them() -> None:
    script = Script({URL: httpx.Response(304)})
    result = fetch(script, FetchRequest(URL, etag='"v1"', last_modified="Fri, 02 Jan 2026"))
    sent = script.requests[0].headers
    assert (sent["if-none-match"], sent["if-modified-since"]) == ('"v1"', "Fri, 02 Jan 2026")
    assert (result.ok, result.status, result.not_modified, result.body) == (True, 304, True, b"")
    assert (result.etag, result.last_modified) == ('"v1"', "Fri, 02 Jan 2026")


def test_a_304_with_new_validators_records_them() -> None:
    script = Script({URL: httpx.Response(304, headers={"ETag": '"v2"', "Last-Modified": "y"})})
    result = fetch(script, FetchRequest(URL, etag='"v1"', last_modified="x"))
    assert (result.etag, result.last_modified) == ('"v2"', "y")


def test_a_200_stores_its_validators_body_and_hash() -> None:
    headers = {"ETag": '"abc"', "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT"}
    result = fetch(Script({URL: reply(FEED, headers)}))
    assert (result.ok, result.status, result.body) == (True, 200, FEED)
    assert (result.etag, result.last_modified) == ('"abc"', "Thu, 01 Jan 2026 00:00:00 GMT")
    assert result.content_hash == hashlib.sha256(FEED).hexdigest()


def test_unsafe_validators_are_not_sent() -> None:
    script = Script({URL: reply()})
    fetch(script, FetchRequest(URL, etag='"caf\u00e9"', last_modified="x\ny"))
    sent = script.requests[0].headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_an_unchanged_body_is_not_modified() -> None:
    previous = hashlib.sha256(FEED).hexdigest()
    result = fetch(Script({URL: reply()}), FetchRequest(URL, previous_hash=previous))
    assert (result.not_modified, result.body, result.content_hash) == (True, b"", previous)


# --- redirects ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [((301,), True), ((308, 301), True), ((301, 302), False), ((307,), False), ((303,), False)],
)
def test_only_an_all_permanent_chain_is_a_permanent_redirect(
    statuses: tuple[int, ...], permanent: bool
) -> None:
    hops = [f"https://news.example/hop{n}" for n in range(len(statuses))] + [
        "https://mirror.example/feed"
    ]
    routes = {URL: redirect(statuses[0], hops[0])}
    routes |= {hops[n]: redirect(status, hops[n + 1]) for n, status in enumerate(statuses[1:])}
    routes[hops[len(statuses) - 1]] = reply()
    script = Script(routes)
    result = fetch(script)
    assert (result.ok, result.body) == (True, FEED)
    assert result.final_url == hops[len(statuses) - 1]
    assert result.permanent_redirect == (result.final_url if permanent else None)
    assert script.urls() == [URL, *hops[: len(statuses)]]


def test_a_relative_location_is_resolved_and_its_fragment_dropped() -> None:
    script = Script(
        {
            URL: redirect(301, "/moved/feed.xml#top"),
            "https://news.example/moved/feed.xml": reply(),
        }
    )
    result = fetch(script)
    assert result.final_url == result.permanent_redirect == "https://news.example/moved/feed.xml"


def test_validators_are_sent_on_every_hop() -> None:
    script = Script({URL: redirect(302, "https://cdn.example/feed")})
    script.routes["https://cdn.example/feed"] = httpx.Response(304)
    result = fetch(script, FetchRequest(URL, etag='"v1"'))
    assert result.not_modified
    assert [r.headers.get("if-none-match") for r in script.requests] == ['"v1"', '"v1"']


def test_more_redirects_than_allowed_is_an_error() -> None:
    routes = {f"https://news.example/{n}": redirect(302, f"/{n + 1}") for n in range(10)}
    script = Script(routes)
    result = fetch(script, "https://news.example/0", Settings(max_redirects=3))
    assert (result.error_kind, result.error) == (ErrorKind.REDIRECTS, "more than 3 redirects")
    assert len(script.requests) == 4
    assert result.final_url == "https://news.example/4"


def test_a_redirect_to_a_non_http_url_is_refused_and_redacted() -> None:
    script = Script({URL: redirect(302, "ftp://user:hunter2@files.example/feed")})
    result = fetch(script)
    assert result.error_kind == ErrorKind.REDIRECTS
    assert result.error == "redirect to a non-http(s) URL: ftp://***@files.example/feed"


# --- the address guard still runs under an injected transport ----------------------


def test_a_redirect_from_public_into_a_private_network_is_blocked() -> None:
    script = Script({URL: redirect(302, "http://intranet.example/admin")})
    result = fetch(script, resolve=resolver({"intranet.example": "10.0.0.5"}))
    assert result.error_kind == ErrorKind.BLOCKED
    assert result.error is not None and "10.0.0.5" in result.error
    assert script.urls() == [URL]  # never asked


def test_a_configured_private_host_is_allowed_only_when_private_addresses_are() -> None:
    script = Script({"http://intranet.example/feed": reply()})
    private = resolver({"intranet.example": "192.168.1.10"})
    assert fetch(script, "http://intranet.example/feed", resolve=private).ok
    refused = fetch(
        script, "http://intranet.example/feed", Settings(allow_private=False), resolve=private
    )
    assert refused.error_kind == ErrorKind.BLOCKED
    assert len(script.requests) == 1


def test_without_an_injected_resolver_ip_literals_are_still_guarded() -> None:
    script = Script({})

    async def run(url: str, settings: Settings) -> FetchResult:
        async with Fetcher(settings, transport=httpx.MockTransport(script)) as fetcher:
            return await fetcher.fetch(FetchRequest(url))

    metadata = asyncio.run(run("http://169.254.169.254/latest/", Settings()))
    loopback = asyncio.run(run("http://127.0.0.1/feed", Settings(allow_private=False)))
    assert (metadata.error_kind, loopback.error_kind) == (ErrorKind.BLOCKED, ErrorKind.BLOCKED)
    assert script.requests == []


def test_a_resolution_failure_is_a_connect_error() -> None:
    async def fail(host: str, port: int) -> list[IPAddress]:
        raise OSError(f"no such host {host}")

    result = fetch(Script({}), resolve=fail)
    assert (result.error_kind, result.error) == (
        ErrorKind.CONNECT,
        "cannot resolve host: no such host news.example",
    )


# --- Retry-After and freshness, read with the injected clock ----------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (http_date(NOW + timedelta(minutes=10)), 600.0),
        (http_date(NOW - timedelta(minutes=10)), 0.0),
        (http_date(NOW + timedelta(days=30)), 86400.0),
        ("soon", None),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_read_against_the_clock(
    status: int, value: str, expected: float | None
) -> None:
    result = fetch(Script({URL: httpx.Response(status, headers={"Retry-After": value})}))
    assert (result.error_kind, result.status, result.retry_after) == (
        ErrorKind.HTTP,
        status,
        expected,
    )


def test_retry_after_is_ignored_on_other_statuses() -> None:
    result = fetch(Script({URL: httpx.Response(500, headers={"Retry-After": "120"})}))
    assert (result.error_kind, result.retry_after) == (ErrorKind.HTTP, None)


def test_the_servers_date_is_preferred_to_the_clock() -> None:
    server_now = NOW - timedelta(hours=1)
    headers = {
        "Date": http_date(server_now),
        "Retry-After": http_date(server_now + timedelta(minutes=5)),
    }
    result = fetch(Script({URL: httpx.Response(503, headers=headers)}))
    assert result.retry_after == 300.0


@pytest.mark.parametrize(
    ("headers", "max_age"),
    [
        ({"Cache-Control": "public, max-age=600"}, 600.0),
        ({"Cache-Control": 'max-age="90"', "Expires": http_date(NOW)}, 90.0),
        ({"Expires": http_date(NOW + timedelta(minutes=5))}, 300.0),
        ({"Expires": http_date(NOW - timedelta(minutes=5))}, 0.0),
        ({"Expires": "0"}, 0.0),
        ({"Cache-Control": "no-cache"}, None),
        ({}, None),
    ],
)
def test_freshness_comes_from_cache_control_then_expires(
    headers: dict[str, str], max_age: float | None
) -> None:
    result = fetch(Script({URL: reply(FEED, headers)}))
    assert result.max_age == max_age


# --- bodies: encodings and the size cap ---------------------------------------------


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(FEED)),
        ("x-gzip", gzip.compress(FEED)),
        ("deflate", zlib.compress(FEED)),
        ("deflate", zlib.compress(FEED)[2:-4]),
        ("gzip, gzip", gzip.compress(gzip.compress(FEED))),
        ("identity", FEED),
    ],
    ids=["gzip", "x-gzip", "zlib-deflate", "raw-deflate", "gzip-twice", "identity"],
)
def test_an_encoded_body_is_decoded(coding: str, encoded: bytes) -> None:
    headers = {"Content-Encoding": coding}
    result = fetch(Script({URL: reply(encoded, headers)}))
    assert (result.ok, result.body) == (True, FEED)
    assert "content-encoding" not in result.headers and "content-length" not in result.headers


def test_an_unsupported_encoding_is_a_protocol_error() -> None:
    headers = {"Content-Encoding": "br"}
    result = fetch(Script({URL: reply(b"x", headers)}))
    assert (result.error_kind, result.error) == (
        ErrorKind.PROTOCOL,
        "unsupported Content-Encoding br",
    )


def test_a_corrupt_gzip_body_is_a_protocol_error() -> None:
    headers = {"Content-Encoding": "gzip"}
    result = fetch(Script({URL: reply(b"\x1f\x8bnot gzip", headers)}))
    assert result.error_kind == ErrorKind.PROTOCOL
    assert result.error is not None and result.error.startswith("cannot decompress the body")


@pytest.mark.parametrize(
    "response",
    [
        lambda: reply(b"x" * 1001, pieces=3),
        lambda: reply(b"x" * 1001, pieces=3, declared=False),
        lambda: reply(gzip.compress(b"x" * 1001), {"Content-Encoding": "gzip"}),
    ],
    ids=["declared", "undeclared", "gzip"],
)
def test_a_body_over_the_cap_is_too_large(response: Callable[[], httpx.Response]) -> None:
    result = fetch(Script({URL: response()}), settings=Settings(max_bytes=1000))
    assert (result.error_kind, result.error) == (ErrorKind.TOO_LARGE, "body larger than 1000 bytes")
    assert result.body == b""


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    class Unread(Body):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            raise AssertionError("the body was read")
            yield b""

    response = httpx.Response(200, headers={"Content-Length": "5000"}, stream=Unread())
    result = fetch(Script({URL: response}), settings=Settings(max_bytes=1000))
    assert result.error_kind == ErrorKind.TOO_LARGE


@pytest.mark.parametrize("coding", ["", "gzip"])
def test_a_body_at_the_cap_is_kept(coding: str) -> None:
    body = b"x" * 1000
    encoded = gzip.compress(body) if coding else body
    response = reply(encoded, {"Content-Encoding": coding} if coding else {}, pieces=4)
    result = fetch(Script({URL: response}), settings=Settings(max_bytes=1000))
    assert (result.ok, result.body) == (True, body)


def test_an_empty_body_is_an_error() -> None:
    result = fetch(Script({URL: reply(b"")}))
    assert (result.error_kind, result.error) == (ErrorKind.EMPTY, "HTTP 200 with an empty body")


# --- error kinds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (404, ErrorKind.HTTP, "HTTP 404 Not Found"),
        (500, ErrorKind.HTTP, "HTTP 500 Internal Server Error"),
        (410, ErrorKind.GONE, "HTTP 410 Gone"),
        (599, ErrorKind.HTTP, "HTTP 599"),
    ],
)
def test_an_error_status_has_its_kind(status: int, kind: ErrorKind, message: str) -> None:
    result = fetch(Script({URL: httpx.Response(status, content=b"<html>no</html>")}))
    assert (result.ok, result.status, result.error_kind, result.error) == (
        False,
        status,
        kind,
        message,
    )
    assert result.body == b""


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        (httpx.ConnectError("refused"), ErrorKind.CONNECT),
        (httpx.ReadError("reset"), ErrorKind.CONNECT),
        (httpx.ConnectTimeout("slow"), ErrorKind.TIMEOUT),
        (httpx.ReadTimeout("slow"), ErrorKind.TIMEOUT),
        (httpx.RemoteProtocolError("bad status line"), ErrorKind.PROTOCOL),
        (httpx.UnsupportedProtocol("nope"), ErrorKind.URL),
        (httpx.DecodingError("bad"), ErrorKind.PROTOCOL),
    ],
)
def test_a_transport_error_has_its_kind(exception: Exception, kind: ErrorKind) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exception

    result = fetch(fail)
    assert (result.ok, result.status, result.error_kind) == (False, None, kind)


def test_the_deadline_covers_the_whole_fetch() -> None:
    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return reply()

    result = fetch(stall, settings=Settings(deadline=0.05))
    assert (result.error_kind, result.error) == (
        ErrorKind.TIMEOUT,
        "no complete response within 0.05 s",
    )


@pytest.mark.parametrize(
    "url", ["ftp://news.example/feed", "file:///etc/passwd", "news.example/feed", "http://:80/"]
)
def test_a_non_http_url_is_refused_without_a_request(url: str) -> None:
    script = Script({})
    result = fetch(script, url)
    assert (result.error_kind, result.final_url) == (ErrorKind.URL, url)
    assert script.requests == []


def test_error_messages_are_one_redacted_bounded_line() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}\n" + "detail " * 500)

    result = fetch(fail, "https://alice:s3cret@news.example/feed?token=t0k")
    assert result.error is not None
    assert result.error.startswith("connection failed: cannot reach https://***@news.example/")
    assert "s3cret" not in result.error and "t0k" not in result.error
    assert "\n" not in result.error
    assert len(result.error) == MESSAGE_MAX and result.error.endswith("...")
