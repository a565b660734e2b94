"""The simulated year's shortcuts (benchmarks/yearfeeds.py) against the real poll cycle.

benchmarks/year.py answers fetches from memory and writes the ``polls`` rows of the
304 polls between two real polls in bulk; these tests hold it to what the real poll
cycle and store write, on a real SQLite file through the real parse pool.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tracker.models import FeedConfig, FetchRequest, Settings
from tracker.poll import CycleSummary, ParsePool, Poller
from tracker.store import Store

# Appended: tests/hostile.py must stay ahead of benchmarks/hostile.py.
sys.path.append(str(Path(__file__).resolve().parent.parent / "benchmarks"))

import feedset
import year
import yearfeeds
from soak import SimulatedClock

URLS = ["http://feeds.invalid/00000.xml", "http://feeds.invalid/00001.xml"]
START = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = (
    "feed_id, started_at, duration_ms, status, outcome, bytes, items_seen, new_items, "
    "updated_items, new_flags, error_kind, error, warnings"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "tracker.db") as store:
        store.sync_feeds([FeedConfig(url) for url in URLS], START)
        yield store


@pytest.fixture
def feeds() -> yearfeeds.MemoryFeeds:
    feeds = yearfeeds.MemoryFeeds(URLS, feedset.feed_specs(len(URLS)), keep=5)
    feeds.fill(START)
    return feeds


def poll_all(
    store: Store, pool: ParsePool, clock: SimulatedClock, feeds: yearfeeds.MemoryFeeds
) -> CycleSummary:
    poller = Poller(
        store,
        Settings(),
        lambda text: [],
        pool,
        rng=random.Random(1),
        clock=clock,
        fetcher=feeds.fetcher,
    )
    states = [store.feed(url) for url in URLS]
    summary = asyncio.run(poller.poll([s for s in states if s is not None]))
    clock.advance(900)
    return summary


def test_a_quiet_row_is_the_row_a_real_304_poll_writes(
    store: Store, pool: ParsePool, feeds: yearfeeds.MemoryFeeds
) -> None:
    clock = SimulatedClock(START)
    assert poll_all(store, pool, clock, feeds).new_items == 10
    assert yearfeeds.quiet_template(store.conn) is None  # no 304 yet
    again = poll_all(store, pool, clock, feeds)
    assert [p.outcome for p in again.polls] == ["not_modified", "not_modified"]
    real = store.conn.execute(f"SELECT {COLUMNS} FROM polls WHERE status = 304").fetchall()
    assert len(real) == 2
    template = yearfeeds.quiet_template(store.conn)
    assert template is not None
    for row in real:
        at = datetime.fromisoformat(row["started_at"])
        assert list(yearfeeds.quiet_rows(template, [row["feed_id"]], [at])) == [tuple(row)]


def test_quiet_rows_are_written_for_every_feed_and_time(
    store: Store, pool: ParsePool, feeds: yearfeeds.MemoryFeeds
) -> None:
    clock = SimulatedClock(START)
    poll_all(store, pool, clock, feeds)
    poll_all(store, pool, clock, feeds)
    template = yearfeeds.quiet_template(store.conn)
    assert template is not None
    times = [clock.now + timedelta(minutes=15 * k) for k in range(3)]
    with store.transaction() as conn:
        rows = yearfeeds.quiet_rows(template, [1, 2], times)
        assert yearfeeds.write_quiet(conn, rows) == 6
    count = store.conn.execute("SELECT COUNT(*) FROM polls WHERE outcome = 'not_modified'")
    assert count.fetchone()[0] == 2 + 6
    later = "SELECT feed_id, COUNT(*) FROM polls WHERE started_at >= ? GROUP BY feed_id"
    found = store.conn.execute(later, (times[0].isoformat(),)).fetchall()
    assert [tuple(row) for row in found] == [(1, 3), (2, 3)]


def test_a_published_feed_answers_200_with_its_newest_items_and_the_other_304(
    store: Store, pool: ParsePool, feeds: yearfeeds.MemoryFeeds
) -> None:
    clock = SimulatedClock(START)
    poll_all(store, pool, clock, feeds)
    feeds.publish(URLS[0], 3, clock.now - timedelta(minutes=5))
    summary = poll_all(store, pool, clock, feeds)
    by_url = {p.feed_url: p for p in summary.polls}
    assert (by_url[URLS[0]].outcome, by_url[URLS[0]].new_items) == ("new", 3)
    assert by_url[URLS[1]].outcome == "not_modified"
    assert feeds.published == 3 and len(feeds.items[URLS[0]]) == 5  # the oldest fell off
    stale = feeds.answer(FetchRequest(URLS[0], etag='"v1"'))
    assert stale.status == 200 and stale.body.count(b"<item>") + stale.body.count(b"<entry>") == 5


def test_the_year_script_reads_a_month_of_its_own_database(tmp_path: Path) -> None:
    with Store(tmp_path / "tracker.db"):
        pass
    size = year.database_size(tmp_path / "tracker.db")
    assert size["pages"] > 0 and size["db_mb"] >= 0
    counts = year.row_counts(tmp_path / "tracker.db")
    assert counts == dict.fromkeys(year.COUNTED, 0)


def test_a_windowed_document_holds_only_the_recent_items() -> None:
    clock = SimulatedClock(START)
    feeds = yearfeeds.MemoryFeeds(URLS, feedset.feed_specs(2), keep=10, window=timedelta(hours=2))
    feeds.fill(START - timedelta(days=1))  # ten items, all a day old
    feeds.publish(URLS[0], 2, START - timedelta(minutes=10))
    feeds.fetcher(Settings(), clock)
    recent = feeds.answer(FetchRequest(URLS[0])).body
    assert recent.count(b"<item>") + recent.count(b"<entry>") == 2
    quiet = feeds.answer(FetchRequest(URLS[1])).body  # nothing recent: the newest one
    assert quiet.count(b"<item>") + quiet.count(b"<entry>") == 1
