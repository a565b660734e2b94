"""Fetching against a real HTTP server on 127.0.0.1 (tests/httpserver.py)."""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import ipaddress
import time
import tracemalloc
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import pytest
from httpserver import LocalServer, Received, Reply, closed_port

from tracker import USER_AGENT
from tracker.fetch import Fetcher, IPAddress, address_refusal, retry_after_seconds
from tracker.models import MIB, FetchRequest, FetchResult, Settings

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def fetch(request: FetchRequest | str, settings: Settings | None = None) -> FetchResult:
    if isinstance(request, str):
        request = FetchRequest(request)

    async def run() -> FetchResult:
        async with Fetcher(settings or Settings()) as fetcher:
            return await fetcher.fetch(request)

    return asyncio.run(run())


def fetch_all(requests: Sequence[FetchRequest], settings: Settings) -> list[FetchResult]:
    async def run() -> list[FetchResult]:
        async with Fetcher(settings) as fetcher:
            return [result async for result in fetcher.fetch_many(requests)]

    return asyncio.run(run())


@functools.cache
def gzip_bomb() -> bytes:
    return gzip.compress(bytes(50 * MIB), compresslevel=1)


# --- success, validators, not modified ------------------------------------------


def test_200_returns_the_body_its_hash_validators_and_headers(server: LocalServer) -> None:
    headers = {"Content-Type": "application/rss+xml", "ETag": '"v1"', "Last-Modified": "x"}
    server.route("/feed", Reply(body=FEED, headers=headers))
    result = fetch(server.url("/feed"))
    assert result.ok
    assert (result.status, result.body, result.not_modified) == (200, FEED, False)
    assert result.content_hash == hashlib.sha256(FEED).hexdigest()
    assert (result.etag, result.last_modified) == ('"v1"', "x")
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.final_url == server.url("/feed")
    assert result.permanent_redirect is None


def test_conditional_get_sends_validators_and_304_is_not_modified(server: LocalServer) -> None:
    server.route("/feed", Reply(304))
    request = FetchRequest(server.url("/feed"), etag='"v1"', last_modified="Fri, 02 Jan 2026")
    result = fetch(request)
    sent = server.received_on("/feed")[0].headers
    assert (sent["if-none-match"], sent["if-modified-since"]) == ('"v1"', "Fri, 02 Jan 2026")
    assert (result.ok, result.status, result.not_modified) == (True, 304, True)
    assert (result.etag, result.last_modified) == ('"v1"', "Fri, 02 Jan 2026")


def test_304_with_new_validators_records_them(server: LocalServer) -> None:
    server.route("/feed", Reply(304, headers={"ETag": '"v2"'}))
    result = fetch(FetchRequest(server.url("/feed"), etag='"v1"'))
    assert result.not_modified
    assert result.etag == '"v2"'


def test_same_body_hash_is_not_modified(server: LocalServer) -> None:
    server.route("/feed", Reply(body=FEED))
    previous = hashlib.sha256(FEED).hexdigest()
    result = fetch(FetchRequest(server.url("/feed"), previous_hash=previous))
    assert (result.ok, result.not_modified, result.content_hash) == (True, True, previous)


def test_changed_body_is_not_not_modified(server: LocalServer) -> None:
    server.route("/feed", Reply(body=FEED))
    result = fetch(FetchRequest(server.url("/feed"), previous_hash="0" * 64))
    assert (result.not_modified, result.body) == (False, FEED)


def test_cache_control_and_expires_give_max_age(server: LocalServer) -> None:
    server.route("/cc", Reply(body=FEED, headers={"Cache-Control": "public, max-age=600"}))
    expires = formatdate(time.time() + 300, usegmt=True)
    server.route("/ex", Reply(body=FEED, headers={"Expires": expires}))
    assert fetch(server.url("/cc")).max_age == 600
    expires_age = fetch(server.url("/ex")).max_age
    assert expires_age is not None and 298 <= expires_age <= 301


# --- headers we send ----------------------------------------------------------


def test_user_agent_names_tracker_and_accept_prefers_feeds(server: LocalServer) -> None:
    server.route("/feed", Reply(body=FEED))
    fetch(server.url("/feed"))
    sent = server.received_on("/feed")[0].headers
    assert sent["user-agent"] == USER_AGENT
    assert "tracker" in sent["user-agent"]
    assert sent["accept"].startswith("application/atom+xml")
    assert "br" not in sent["accept-encoding"]


@pytest.mark.parametrize(
    ("contact", "sent"),
    [
        ("https://desk.example/about", f"{USER_AGENT} (+https://desk.example/about)"),
        ("desk@example.org", f"{USER_AGENT} (mailto:desk@example.org)"),
    ],
)
def test_the_operators_contact_is_in_the_user_agent(
    server: LocalServer, contact: str, sent: str
) -> None:
    server.route("/feed", Reply(body=FEED))
    fetch(server.url("/feed"), Settings(contact=contact))
    assert server.received_on("/feed")[0].headers["user-agent"] == sent


def test_no_made_up_address_is_sent_or_published() -> None:
    assert "github.com" not in USER_AGENT
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert "tracker-news" not in pyproject


def test_configured_user_agent_is_sent(server: LocalServer) -> None:
    server.route("/feed", Reply(body=FEED))
    fetch(server.url("/feed"), Settings(user_agent="newsroom-bot/2"))
    assert server.received_on("/feed")[0].headers["user-agent"] == "newsroom-bot/2"


# --- bodies: encodings and size caps --------------------------------------------


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(FEED)),
        ("deflate", zlib.compress(FEED)),
        ("deflate", zlib.compress(FEED)[2:-4]),  # raw deflate, as some servers send
    ],
    ids=["gzip", "zlib-deflate", "raw-deflate"],
)
def test_compressed_body_is_decoded(server: LocalServer, coding: str, encoded: bytes) -> None:
    server.route("/feed", Reply(body=encoded, headers={"Content-Encoding": coding}))
    result = fetch(server.url("/feed"))
    assert (result.ok, result.body) == (True, FEED)
    assert result.content_hash == hashlib.sha256(FEED).hexdigest()
    assert "content-encoding" not in result.headers


def test_gzip_bomb_is_too_large_quickly_and_in_little_memory(server: LocalServer) -> None:
    server.route("/bomb", Reply(body=gzip_bomb(), headers={"Content-Encoding": "gzip"}))
    started = time.monotonic()
    tracemalloc.start()
    try:
        result = fetch(server.url("/bomb"), Settings(max_bytes=MIB))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.error_kind == "too_large"
    assert result.body == b""
    assert peak < 10 * MIB  # inflating a whole network chunk at once would take ~64 MiB
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("content_length", [None, -1], ids=["declared", "undeclared"])
def test_plain_huge_body_is_too_large(server: LocalServer, content_length: int | None) -> None:
    server.route("/big", Reply(body=b"x" * (3 * MIB), content_length=content_length))
    result = fetch(server.url("/big"), Settings(max_bytes=MIB))
    assert result.error_kind == "too_large"
    assert result.error == f"body larger than {MIB} bytes"


def test_body_at_the_cap_is_accepted(server: LocalServer) -> None:
    server.route(
        "/exact", Reply(body=gzip.compress(b"x" * 1000), headers={"Content-Encoding": "gzip"})
    )
    result = fetch(server.url("/exact"), Settings(max_bytes=1000))
    assert (result.ok, len(result.body)) == (True, 1000)


def test_empty_200_is_an_error(server: LocalServer) -> None:
    server.route("/empty", Reply(body=b""))
    result = fetch(server.url("/empty"))
    assert (result.ok, result.error_kind, result.status) == (False, "empty", 200)


def test_short_body_is_a_protocol_or_connect_error(server: LocalServer) -> None:
    server.route("/short", Reply(body=FEED[:10], content_length=len(FEED)))
    result = fetch(server.url("/short"))
    assert result.error_kind in {"protocol", "connect"}
    assert result.body == b""


@pytest.mark.slow
def test_trickling_server_hits_the_deadline(server: LocalServer) -> None:
    server.route("/slow", Reply(body=FEED, trickle=0.1))
    started = time.monotonic()
    result = fetch(server.url("/slow"), Settings(deadline=1.0))
    elapsed = time.monotonic() - started
    assert result.error_kind == "timeout"
    assert 0.9 <= elapsed < 1.5


# --- redirects ------------------------------------------------------------------


def test_permanent_redirect_chain_reports_the_final_url(server: LocalServer) -> None:
    server.route("/a", Reply(301, headers={"Location": "/b"}))
    server.route("/b", Reply(308, headers={"Location": server.url("/feed")}))
    server.route("/feed", Reply(body=FEED))
    result = fetch(server.url("/a"))
    assert (result.ok, result.body) == (True, FEED)
    assert result.final_url == server.url("/feed")
    assert result.permanent_redirect == server.url("/feed")


def test_temporary_hop_in_the_chain_means_no_permanent_redirect(server: LocalServer) -> None:
    server.route("/a", Reply(301, headers={"Location": "/b"}))
    server.route("/b", Reply(302, headers={"Location": "/feed"}))
    server.route("/feed", Reply(body=FEED))
    result = fetch(server.url("/a"))
    assert (result.ok, result.final_url) == (True, server.url("/feed"))
    assert result.permanent_redirect is None


def test_redirect_loop_is_a_redirects_error(server: LocalServer) -> None:
    server.route("/loop", Reply(302, headers={"Location": "/loop"}))
    result = fetch(server.url("/loop"), Settings(max_redirects=3))
    assert result.error_kind == "redirects"
    assert len(server.received_on("/loop")) == 4


def test_redirect_to_a_non_http_url_is_refused(server: LocalServer) -> None:
    server.route("/a", Reply(302, headers={"Location": "file://user:secret@host/etc/passwd"}))
    result = fetch(server.url("/a"))
    assert result.error_kind == "redirects"
    assert result.error is not None and "secret" not in result.error


def test_redirect_to_the_metadata_address_is_blocked(server: LocalServer) -> None:
    server.route("/a", Reply(302, headers={"Location": "http://169.254.169.254/latest/"}))
    started = time.monotonic()
    result = fetch(server.url("/a"))
    assert result.error_kind == "blocked"
    assert time.monotonic() - started < 1  # refused before any connection attempt


def test_configured_loopback_is_refused_when_private_addresses_are_off(
    server: LocalServer,
) -> None:
    server.route("/feed", Reply(body=FEED))
    result = fetch(server.url("/feed"), Settings(allow_private=False))
    assert result.error_kind == "blocked"
    assert server.received == []


# --- HTTP errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (404, "http", "HTTP 404 Not Found"),
        (500, "http", "HTTP 500 Internal Server Error"),
        (410, "gone", "HTTP 410 Gone"),
    ],
)
def test_error_status(server: LocalServer, status: int, kind: str, message: str) -> None:
    server.route("/feed", Reply(status, body=b"<html>nope</html>"))
    result = fetch(server.url("/feed"))
    assert (result.ok, result.status, result.error_kind, result.error) == (
        False,
        status,
        kind,
        message,
    )
    assert result.body == b""


def test_429_with_retry_after_seconds(server: LocalServer) -> None:
    server.route("/feed", Reply(429, headers={"Retry-After": "120"}))
    result = fetch(server.url("/feed"))
    assert (result.error_kind, result.status, result.retry_after) == ("http", 429, 120)


def test_503_with_retry_after_http_date(server: LocalServer) -> None:
    def answer(received: Received) -> Reply:
        return Reply(503, headers={"Retry-After": formatdate(time.time() + 600, usegmt=True)})

    server.route("/feed", answer)
    result = fetch(server.url("/feed"))
    assert (result.error_kind, result.status) == ("http", 503)
    assert result.retry_after is not None and 598 <= result.retry_after <= 601


def test_retry_after_is_capped_at_a_day_and_ignores_junk() -> None:
    assert retry_after_seconds("99999999999999999999", NOW) == 86400
    assert retry_after_seconds("Sat, 01 Jan 2050 00:00:00 GMT", NOW) == 86400
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:00 GMT", NOW) == 0
    assert retry_after_seconds("soon", NOW) is None


# --- connection problems and URLs ----------------------------------------------


def test_connection_refused_is_a_connect_error() -> None:
    result = fetch(f"http://127.0.0.1:{closed_port()}/feed")
    assert (result.ok, result.error_kind, result.status) == (False, "connect", None)


def test_credentials_never_appear_in_messages() -> None:
    result = fetch(f"http://alice:s3cret@127.0.0.1:{closed_port()}/feed")
    assert result.error_kind == "connect"
    assert result.error is not None and "s3cret" not in result.error


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/feed", "file:///etc/passwd", "not a url", "http:///nohost"]
)
def test_non_http_url_is_refused_without_traffic(server: LocalServer, url: str) -> None:
    result = fetch(url)
    assert (result.ok, result.error_kind) == (False, "url")
    assert server.received == []


def test_error_message_is_one_bounded_line() -> None:
    result = fetch("gopher://user:pw@example.org/" + "a\n" * 2000)
    assert result.error is not None
    assert len(result.error) <= 1024
    assert "\n" not in result.error and "pw@" not in result.error


def test_address_policy() -> None:
    public = [ipaddress.ip_address("93.184.216.34")]
    private = [ipaddress.ip_address("10.0.0.5")]
    metadata = [ipaddress.ip_address("fd00:ec2::254")]
    mapped = [ipaddress.ip_address("::ffff:169.254.169.254")]

    def refused(addresses: list[IPAddress], configured: bool, after_private: bool = False) -> bool:
        return bool(
            address_refusal(
                addresses, configured=configured, after_private=after_private, allow_private=True
            )
        )

    assert not refused(public, configured=False)
    assert not refused(private, configured=True)
    assert refused(private, configured=False)  # a public host redirecting inwards
    assert not refused(private, configured=False, after_private=True)
    assert refused(metadata, configured=True)
    assert refused(mapped, configured=True)


# --- many at once ----------------------------------------------------------------


def test_per_host_limit_is_honoured(server: LocalServer) -> None:
    server.route("/feed", Reply(body=FEED, delay=0.15))
    requests = [FetchRequest(server.url(f"/feed?n={n}")) for n in range(6)]
    results = fetch_all(requests, Settings(concurrency=20, per_host=2))
    assert [r.ok for r in results] == [True] * 6
    assert server.max_in_flight == 2


def test_global_limit_is_honoured(server: LocalServer) -> None:
    server.route("/feed", Reply(body=FEED, delay=0.15))
    requests = [FetchRequest(server.url(f"/feed?n={n}")) for n in range(6)]
    results = fetch_all(requests, Settings(concurrency=3, per_host=10))
    assert len(results) == 6
    assert server.max_in_flight == 3


def test_results_come_as_they_complete(server: LocalServer) -> None:
    server.route("/slow", Reply(body=FEED, delay=0.4))
    server.route("/fast", Reply(body=FEED))
    requests = [FetchRequest(server.url("/slow")), FetchRequest(server.url("/fast"))]
    results = fetch_all(requests, Settings())
    assert [r.url for r in results] == [server.url("/fast"), server.url("/slow")]
