"""The simulated year's feeds, answered from memory, and the rows of its quiet polls.

``MemoryFeeds`` holds each generated feed's newest items (``feedset``'s news items, a
publisher putting new ones on top) and answers the poll cycle's fetches through the
``Poller``'s fetcher seam: a 200 with the feed's document when it changed since the
validator the request carries, a 304 otherwise, as a conditional GET to a real server
would. No HTTP server and no network.

``quiet_rows`` writes the ``polls`` rows of the 304 polls between two real polls of a
feed: every column a real 304 poll writes, copied from one the store wrote
(``quiet_template``), with the feed and the time of each. tests/test_year_bench.py
checks that such a row equals the row a real 304 poll of the same feed writes.

Must not: decide anything the poll cycle decides (the ``Poller`` and the store do).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import feedset

from tracker.models import FetchRequest, FetchResult, iso

# A real server's answer takes 0.2-1 s (README's capacity model); the fake one takes none.
ANSWER_S = 0.2
_QUIET_COLUMNS = (
    "status, outcome, bytes, items_seen, new_items, updated_items, new_flags, "
    "error_kind, error, warnings"
)
_INSERT = (
    "INSERT INTO polls (feed_id, started_at, duration_ms, "
    f"{_QUIET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class MemoryFeeds:
    """Every feed's newest ``keep`` items (serial, publication time), newest first."""

    def __init__(
        self,
        urls: list[str],
        specs: list[feedset.FeedSpec],
        keep: int,
        window: timedelta | None = None,
    ) -> None:
        self.window = window  # a document holds only the items published this recently
        self.clock: Callable[[], datetime] | None = None
        self.specs = dict(zip(urls, specs, strict=True))
        self.items: dict[str, deque[tuple[int, datetime]]] = {u: deque(maxlen=keep) for u in urls}
        self.versions = dict.fromkeys(urls, 0)
        self.serial = 0
        self.published = 0

    def publish(self, url: str, count: int, at: datetime) -> None:
        """Put ``count`` new items on top of the feed (the oldest fall off)."""
        for _ in range(count):
            self.serial += 1
            self.items[url].appendleft((self.serial, at))
        self.versions[url] += 1
        self.published += count

    def fill(self, now: datetime) -> None:
        """Give every feed a full document of items published before ``now``."""
        for url, items in self.items.items():
            while len(items) < (items.maxlen or 0):
                self.serial += 1
                items.append((self.serial, now - timedelta(hours=len(items) + 1)))
            self.versions[url] += 1

    def answer(self, request: FetchRequest) -> FetchResult:
        """What a server holding these documents answers a conditional GET with."""
        url = request.url
        etag = f'"v{self.versions[url]}"'
        if request.etag == etag:
            return FetchResult(url, url, status=304, etag=etag, not_modified=True, elapsed=ANSWER_S)
        body = self.document(url).encode("utf-8")
        return FetchResult(
            url,
            url,
            status=200,
            body=body,
            headers={"content-type": "application/xml; charset=utf-8"},
            etag=etag,
            content_hash=hashlib.sha256(body).hexdigest(),
            elapsed=ANSWER_S,
        )

    def document(self, url: str) -> str:
        items = list(self.items[url])
        if self.window is not None and self.clock is not None:
            since = self.clock() - self.window
            items = [item for item in items if item[1] >= since] or items[:1]
        return feedset.document_of(self.specs[url], items)

    def fetcher(self, _: object, clock: Callable[[], datetime]) -> MemoryFetcher:
        """The ``Poller.fetcher`` that answers from these feeds, on the poll's clock."""
        self.clock = clock
        return MemoryFetcher(self)


class MemoryFetcher:
    """One cycle's fetcher over ``MemoryFeeds`` (``tracker.models.FeedFetcher``)."""

    def __init__(self, feeds: MemoryFeeds) -> None:
        self.feeds = feeds

    async def __aenter__(self) -> MemoryFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch(self, request: FetchRequest) -> FetchResult:
        return self.feeds.answer(request)


def quiet_template(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
    """The duration and columns of the latest 304 poll the store wrote, or None."""
    row = conn.execute(
        f"SELECT duration_ms, {_QUIET_COLUMNS} FROM polls WHERE status = 304 "
        "ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return tuple(row) if row else None


def quiet_rows(
    template: tuple[Any, ...], feed_ids: Iterable[int], times: Iterable[datetime]
) -> Iterator[tuple[Any, ...]]:
    """``polls`` rows (without id) of 304 polls of these feeds at these times."""
    duration, *columns = template
    for at in times:
        stamp = iso(at)
        for feed_id in feed_ids:
            yield (feed_id, stamp, duration, *columns)


def write_quiet(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert the rows (in the caller's transaction); return how many."""
    return conn.executemany(_INSERT, rows).rowcount
