"""Hostile servers, through the real poll pipeline into a real SQLite file.

Each case polls a feed that worked, then misbehaves, then works again, and asserts
the issue's contract with a figure: the error recorded on the feed (kind, message of
at most 1 KB, time), the feed still scheduled, no stored item lost, the poll done
within the fetch deadline (scaled down to 1.5 s here; 30 s by default) and, for big
bodies, peak memory within a few times the size cap (2 MiB here; 15 MiB by default).
Full-size runs: ``.venv/bin/python benchmarks/hostile.py``.
"""

from __future__ import annotations

import functools
import gzip
import socket
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
from hostile import (
    FAST,
    Behaviour,
    Harness,
    RawServer,
    assert_failed_cleanly,
    endless,
    news,
    reset,
    respond,
    rss,
    short_body,
    silent,
    trickle_body,
    trickle_headers,
)

from tracker import fetch
from tracker.models import MIB
from tracker.poll import utcnow
from tracker.schedule import BACKOFF_CAP, JITTER, RETRY_AFTER_CAP

# Every test here polls through the parse worker processes: the slow tier.
pytestmark = pytest.mark.slow

TIME_SLACK = 1.0  # seconds beyond the deadline allowed for a whole poll (parse, write)
MEMORY_FACTOR = 4  # peak memory of a poll, in multiples of the size cap
GOOD = rss(news(5))
GOOD_AGAIN = rss(news(6))


@functools.cache
def bomb(coding: str, size: int = 100 * MIB) -> bytes:
    """``size`` zero bytes compressed, built in 1 MiB steps (never held whole)."""
    wbits = {"gzip": 31, "deflate": 15}[coding]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MIB)
    return b"".join(packer.compress(zeros) for _ in range(size // MIB)) + packer.flush()


def corrupt_gzip(body: bytes) -> bytes:
    packed = gzip.compress(body)
    return packed[:10] + b"\xff" * 20 + packed[30:]  # an invalid deflate block


def redirect(location: str, status: int = 302) -> Behaviour:
    return respond(b"", status, {"Location": location})


# name -> (behaviour for the feed's path, expected error kind, also trace memory)
Case = Callable[[RawServer], Behaviour]
CASES: dict[str, tuple[Case, str, bool]] = {
    "silent server": (silent, "timeout", False),
    "headers trickled a byte at a time": (trickle_headers, "timeout", False),
    "body trickled a byte at a time": (lambda s: trickle_body(s, GOOD), "timeout", False),
    "connection reset": (lambda s: reset(), "connect", False),
    "short body": (lambda s: short_body(GOOD[:100], len(GOOD)), "protocol", False),
    "empty 200": (lambda s: respond(b""), "empty", False),
    "endless body": (lambda s: endless(s, b"<rss>" * 13107), "too_large", True),
    "huge declared length": (lambda s: short_body(b"<rss>", 10**12), "too_large", True),
    "gzip bomb (50x the cap)": (
        lambda s: respond(bomb("gzip"), headers={"Content-Encoding": "gzip"}),
        "too_large",
        True,
    ),
    "deflate bomb": (
        lambda s: respond(bomb("deflate"), headers={"Content-Encoding": "deflate"}),
        "too_large",
        True,
    ),
    "gzip bomb inside gzip": (
        lambda s: respond(gzip.compress(bomb("gzip")), headers={"Content-Encoding": "gzip, gzip"}),
        "too_large",
        True,
    ),
    "corrupt gzip": (
        lambda s: respond(corrupt_gzip(GOOD), headers={"Content-Encoding": "gzip"}),
        "protocol",
        False,
    ),
    "404": (lambda s: respond(b"no", 404), "http", False),
    "500": (lambda s: respond(b"oops", 500), "http", False),
    "410 gone": (lambda s: respond(b"", 410), "gone", False),
    "redirect loop": (lambda s: redirect("/feed"), "redirects", False),
    "redirect to a local file": (lambda s: redirect("file:///etc/passwd"), "redirects", False),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_server_is_recorded_bounded_and_survived(
    server: RawServer, harness: Harness, case: str
) -> None:
    behaviour, kind, trace_memory = CASES[case]
    url = server.url("/feed")
    harness.add(url)
    server.route("/feed", respond(GOOD))
    harness.poll()
    assert harness.items(url) == 5

    server.route("/feed", behaviour(server))
    hostile = harness.poll(memory=trace_memory)
    assert_failed_cleanly(harness, url, kind, items_before=5)
    assert hostile.elapsed <= FAST.deadline + TIME_SLACK, f"{case}: {hostile.elapsed:.2f}s"
    if trace_memory:
        assert hostile.peak <= MEMORY_FACTOR * FAST.max_bytes, f"{case}: peak {hostile.peak}"
    if kind == "gone":
        assert harness.feed(url)["gone"] == 1

    server.route("/feed", respond(GOOD_AGAIN))
    harness.poll()
    feed = harness.feed(url)
    assert harness.items(url) == 6, "polling did not go on after the failure"
    assert (feed["last_error"], feed["consecutive_failures"], feed["gone"]) == (None, 0, 0)


def test_every_hostile_server_at_once_costs_one_deadline_and_spares_the_good_feeds(
    server: RawServer, harness: Harness
) -> None:
    for index, (behaviour, _, _) in enumerate(CASES.values()):
        server.route(f"/bad{index}", behaviour(server))
    server.route("/good", respond(GOOD))
    server.route("/feed", redirect("/feed"))  # the loop case targets /feed
    bad = [server.url(f"/bad{index}") for index in range(len(CASES))]
    harness.add(*bad, server.url("/good"))

    cycle = harness.poll(memory=True)

    assert cycle.elapsed <= FAST.deadline + 2 * TIME_SLACK, f"cycle took {cycle.elapsed:.2f}s"
    assert cycle.peak <= MEMORY_FACTOR * 2 * FAST.max_bytes, f"peak {cycle.peak}"
    assert harness.items(server.url("/good")) == 5
    kinds = {harness.feed(url)["last_error_kind"] for url in bad}
    assert kinds == {kind for _, kind, _ in CASES.values()}
    assert cycle.summary.errors == len(CASES)


def test_dns_failure_is_a_connect_error(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_such_host(host: str, port: int) -> list[fetch.IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(fetch, "resolve_host", no_such_host)  # no query leaves the machine
    url = "http://feeds.nonexistent.invalid/rss"
    harness.add(url)
    measured = harness.poll()
    assert_failed_cleanly(harness, url, "connect", items_before=0)
    assert "resolve" in harness.feed(url)["last_error"]
    assert measured.elapsed < 1.0


def test_failures_back_off_exponentially_up_to_the_cap(server: RawServer, harness: Harness) -> None:
    server.route("/feed", respond(b"oops", 503))
    url = server.url("/feed")
    harness.add(url)
    delays = []
    for _ in range(9):  # 600 s doubled 8 times is past the 6 h cap
        harness.poll()
        feed = harness.feed(url)
        delay = datetime.fromisoformat(feed["next_poll_at"]) - datetime.fromisoformat(
            feed["last_polled_at"]
        )
        delays.append(delay.total_seconds())
    assert harness.feed(url)["consecutive_failures"] == 9
    assert delays[0] <= 600 * (1 + JITTER)
    assert delays[3] >= 600 * 8 * (1 - JITTER), delays
    assert max(delays) <= BACKOFF_CAP * (1 + JITTER), delays
    assert delays[-1] >= BACKOFF_CAP * (1 - JITTER), delays


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (lambda now: "7200", 7200.0),
        (lambda now: format_datetime(now + timedelta(hours=3), usegmt=True), 3 * 3600.0),
        (lambda now: "99999999", RETRY_AFTER_CAP),
        (lambda now: format_datetime(now + timedelta(days=400), usegmt=True), RETRY_AFTER_CAP),
    ],
    ids=["seconds", "http-date", "huge seconds capped", "far date capped"],
)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_and_capped_at_a_day(
    server: RawServer,
    harness: Harness,
    status: int,
    retry_after: Callable[[datetime], str],
    expected: float,
) -> None:
    now = utcnow()
    server.route("/feed", respond(b"slow down", status, {"Retry-After": retry_after(now)}))
    url = server.url("/feed")
    harness.add(url)
    harness.poll()
    assert_failed_cleanly(harness, url, "http", items_before=0)
    feed = harness.feed(url)
    delay = (datetime.fromisoformat(feed["next_poll_at"]) - now).total_seconds()
    assert expected * (1 - JITTER) - 5 <= delay <= expected * (1 + JITTER) + 5, delay


def test_temporary_redirects_never_move_the_feed(server: RawServer, harness: Harness) -> None:
    server.route("/old", redirect("/new", 302))
    server.route("/new", respond(GOOD))
    old = server.url("/old")
    harness.add(old)
    for _ in range(4):
        harness.poll()
    feed = harness.feed(old)
    assert (feed["url"], feed["previous_url"]) == (old, None)
    assert harness.items(old) == 5
    assert server.hits("/old") == 4


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_moves_the_feed_once_confirmed_and_keeps_the_old_url(
    server: RawServer, harness: Harness, status: int
) -> None:
    server.route("/old", redirect("/new", status))
    server.route("/new", respond(GOOD))
    old, new = server.url("/old"), server.url("/new")
    harness.add(old)

    harness.poll()
    assert harness.feed(old)["url"] == old, "moved on the first sighting"
    harness.poll()
    moved = harness.store.feed(new)
    assert moved is not None and moved.url == new
    assert harness.feed(new)["previous_url"] == old
    assert harness.items(new) == 5, "the moved feed lost its items"
    assert harness.count("SELECT COUNT(*) FROM feeds") == 1

    server.route("/new", respond(GOOD_AGAIN))
    harness.poll()
    assert server.hits("/old") == 2, "the old URL was polled after the move"
    assert harness.items(new) == 6


def test_too_many_redirects_stop_at_five_hops(server: RawServer, harness: Harness) -> None:
    for hop in range(7):
        server.route(f"/hop{hop}", redirect(f"/hop{hop + 1}"))
    server.route("/hop7", respond(GOOD))
    url = server.url("/hop0")
    harness.add(url)
    harness.poll()
    assert_failed_cleanly(harness, url, "redirects", items_before=0)
    assert server.hits("/hop5") == 1 and server.hits("/hop6") == 0

    five = replace(FAST, max_redirects=7)
    harness.settings = five
    harness.poll()
    assert harness.items(url) == 5
