"""The poll cycle driven with a fake fetcher: canned fetch results, a real parse pool
and a real SQLite file, no HTTP server. What the poll writes, feed by feed."""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile import news, rss

from tracker.models import (
    FeedConfig,
    FetchRequest,
    FetchResult,
    FlagDecision,
    ItemText,
    PollSummary,
    Settings,
)
from tracker.poll import ParsePool, Poller
from tracker.store import Store

URL = "http://outlet.example/rss"
MOVED = "http://moved.example/rss"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class FakeFetcher:
    """Hands out canned results in turn and records what it was asked."""

    def __init__(self, results: list[FetchResult]) -> None:
        self.results = results
        self.requests: list[FetchRequest] = []

    async def __aenter__(self) -> FakeFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch(self, request: FetchRequest) -> FetchResult:
        self.requests.append(request)
        return self.results.pop(0)


def body_result(body: bytes, **fields: object) -> FetchResult:
    digest = hashlib.sha256(body).hexdigest()
    return FetchResult(
        URL,
        URL,
        status=200,
        body=body,
        etag='"v1"',
        content_hash=digest,
        **fields,  # type: ignore[arg-type]
    )


def flag_story_one(text: ItemText) -> Sequence[FlagDecision]:
    hit = text.title.endswith(" 1")
    return [FlagDecision("t", relevant=hit, flagged=hit, score=1.0, reasons="r", rule_version="v")]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "tracker.db") as store:
        store.sync_feeds([FeedConfig(URL, "Outlet")], START)
        yield store


def poll_once(store: Store, pool: ParsePool, clock: Clock, result: FetchResult) -> PollSummary:
    fetcher = FakeFetcher([result])
    poller = Poller(
        store,
        Settings(),
        flag_story_one,
        pool,
        rng=random.Random(1),
        clock=clock,
        fetcher=lambda settings, clock: fetcher,
    )
    state = store.feed(URL)
    assert state is not None
    cycle = asyncio.run(poller.poll([state]))
    assert fetcher.results == [] and len(cycle.polls) == 1
    clock.now += timedelta(minutes=20)
    return cycle.polls[0]


def row(store: Store, sql: str) -> sqlite3.Row:
    found = store.conn.execute(sql).fetchone()
    assert found is not None
    return found  # type: ignore[no-any-return]


def test_a_new_body_then_304_then_an_error_then_a_redirect_confirmed(
    store: Store, pool: ParsePool
) -> None:
    clock = Clock()
    first = poll_once(store, pool, clock, body_result(rss(news(3))))
    assert (first.outcome, first.new_items, first.items_seen) == ("new", 3, 3)
    assert [(f.title, f.backlog) for f in first.new_flags] == [("Story n 1", True)]
    assert row(store, "SELECT COUNT(*) FROM items")[0] == 3
    assert row(store, "SELECT COUNT(*) FROM flags WHERE backlog = 1")[0] == 1
    feed = row(store, "SELECT * FROM feeds")
    assert (feed["title"], feed["etag"], feed["consecutive_failures"]) == ("Outlet", '"v1"', 0)
    assert feed["next_poll_at"] > feed["last_polled_at"] == START.isoformat()

    unmodified = FetchResult(URL, URL, status=304, etag='"v1"', not_modified=True)
    again = poll_once(store, pool, clock, unmodified)
    assert (again.outcome, again.new_items, again.new_flags) == ("not_modified", 0, ())

    failed = FetchResult(URL, URL, status=503, error_kind="http", error="HTTP 503")
    error = poll_once(store, pool, clock, failed)
    assert (error.outcome, error.error_kind) == ("error", "http")
    feed = row(store, "SELECT * FROM feeds")
    assert (feed["consecutive_failures"], feed["last_error_kind"]) == (1, "http")
    assert feed["etag"] == '"v1"'  # a failure keeps the validators

    more = rss(news(4))  # one more entry, moved permanently
    moved = poll_once(store, pool, clock, body_result(more, permanent_redirect=MOVED))
    assert (moved.outcome, moved.new_items, moved.moved_to) == ("new", 1, None)
    assert [f.title for f in moved.new_flags] == []
    feed = row(store, "SELECT * FROM feeds")
    assert (feed["redirect_to"], feed["redirect_seen"], feed["url"]) == (MOVED, 1, URL)
    assert (feed["consecutive_failures"], feed["last_error"]) == (0, None)

    confirmed = poll_once(store, pool, clock, body_result(more, permanent_redirect=MOVED))
    assert (confirmed.outcome, confirmed.moved_to) == ("unchanged", MOVED)
    feed = row(store, "SELECT * FROM feeds")
    assert (feed["url"], feed["previous_url"], feed["redirect_to"]) == (MOVED, URL, None)
    polls = store.conn.execute("SELECT outcome FROM polls ORDER BY id").fetchall()
    assert [p[0] for p in polls] == ["new", "not_modified", "error", "new", "unchanged"]
    assert row(store, "SELECT COUNT(*) FROM items")[0] == 4


def test_a_changed_entry_is_updated_and_its_new_flag_alerted(store: Store, pool: ParsePool) -> None:
    clock = Clock()
    entries = news(2)
    poll_once(store, pool, clock, body_result(rss(entries)))
    edited = [entries[0].__class__(**{**entries[0].__dict__, "title": "Story n 1"}), entries[1]]
    changed = poll_once(store, pool, clock, body_result(rss(edited)))
    assert (changed.outcome, changed.new_items, changed.updated_items) == ("new", 0, 1)
    assert [(f.item_id, f.title, f.backlog) for f in changed.new_flags] == [(1, "Story n 1", False)]
    item = row(store, "SELECT title, update_count FROM items WHERE id = 1")
    assert (item["title"], item["update_count"]) == ("Story n 1", 1)
    assert row(store, "SELECT COUNT(*) FROM flags")[0] == 2
