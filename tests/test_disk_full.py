"""A database that cannot take a poll's write: the disk is full, or another writer holds
the lock for too long.

The disk is made "full" with SQLite's ``PRAGMA max_page_count`` on the service's own
connection (a small tmpfs needs root): writes that need new pages fail with
SQLITE_FULL exactly as on a full disk. The poll must roll back whole, the error be
recorded on the feed (kind ``store``) when that small write still fits, the other
feeds of the cycle go on, and polling resume, with nothing skipped, once there is room.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest
from hostile import (
    Entry,
    Harness,
    RawServer,
    assert_failed_cleanly,
    news,
    respond,
    rss,
)

# Every test here polls through the parse worker processes: the slow tier.
pytestmark = pytest.mark.slow

NO_LIMIT = 4_294_967_294


def bulky(count: int, prefix: str) -> list[Entry]:
    """Entries big enough that storing them needs many new pages."""
    return [
        Entry(f"{prefix}{n}", f"Story {prefix} {n}", f"http://o.example/{prefix}/{n}", "w " * 600)
        for n in range(count)
    ]


def fill_disk(harness: Harness, headroom: int) -> None:
    """Let the database grow by at most ``headroom`` pages."""
    pages = harness.count("PRAGMA page_count")
    harness.store.conn.execute(f"PRAGMA max_page_count = {pages + headroom}")


def consistent(harness: Harness) -> None:
    """No half-written poll: every item is linked, indexed and counted by its poll."""
    items = harness.count("SELECT COUNT(*) FROM items")
    assert harness.count("SELECT COUNT(*) FROM items_fts") == items
    assert harness.count("SELECT COUNT(*) FROM item_feeds") == items
    assert harness.count("SELECT COALESCE(SUM(new_items), 0) FROM polls") == items
    assert harness.count("SELECT COUNT(*) FROM items WHERE story_id IS NULL") == 0
    assert harness.store.integrity_check() == "ok"


def test_disk_full_rolls_the_poll_back_records_it_and_polling_resumes(
    server: RawServer, harness: Harness
) -> None:
    server.route("/big", respond(rss(news(5))))
    server.route("/other", respond(rss(news(3, "other"))))
    big, other = server.url("/big"), server.url("/other")
    harness.add(big, other)
    harness.poll()
    hash_before = harness.feed(big)["content_hash"]

    server.route("/big", respond(rss([*news(5), *bulky(200, "big")])))
    server.route("/other", respond(rss([*news(3, "other"), *bulky(200, "oth")])))
    fill_disk(harness, headroom=3)
    cycle = harness.poll()

    assert cycle.summary.feeds == 2, "the cycle stopped at the first failed write"
    for url, before in ((big, 5), (other, 3)):
        assert_failed_cleanly(harness, url, "store", items_before=before)
        assert "full" in harness.feed(url)["last_error"]
    assert harness.feed(big)["content_hash"] == hash_before, "an unsaved body was marked seen"
    assert {p.error_kind for p in cycle.summary.polls} == {"store"}
    consistent(harness)

    harness.store.conn.execute(f"PRAGMA max_page_count = {NO_LIMIT}")
    recovered = harness.poll()
    assert [p.new_items for p in sorted(recovered.summary.polls, key=lambda p: p.feed_url)] == [
        200,
        200,
    ]
    assert harness.items(big) == 205 and harness.items(other) == 203
    assert harness.feed(big)["last_error"] is None
    consistent(harness)


def test_when_even_the_error_cannot_be_written_the_feed_stays_due(
    server: RawServer, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/feed", respond(rss(news(4))))
    url = server.url("/feed")
    harness.add(url)
    due_before = harness.feed(url)["next_poll_at"]
    harness.store.conn.execute("PRAGMA busy_timeout = 200")
    holder = sqlite3.connect(harness.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer that never lets go
    try:
        with caplog.at_level(logging.ERROR, logger="tracker.store"):
            cycle = harness.poll()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert [p.error_kind for p in cycle.summary.polls] == ["store"]
    assert cycle.elapsed < 2.0
    assert "poll failure not recorded" in caplog.text
    feed = harness.feed(url)
    assert (feed["next_poll_at"], feed["last_polled_at"]) == (due_before, None), "not left due"
    assert harness.count("SELECT COUNT(*) FROM polls") == 0

    harness.poll()
    assert harness.items(url) == 4


def test_a_second_writer_holding_the_lock_briefly_is_waited_for(
    server: RawServer, harness: Harness
) -> None:
    server.route("/feed", respond(rss(news(4))))
    url = server.url("/feed")
    harness.add(url)
    holder = sqlite3.connect(harness.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.8, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        cycle = harness.poll()
    finally:
        release.join()
        holder.close()
    assert cycle.elapsed >= 0.7, "the poll did not wait for the other writer"
    assert [p.outcome for p in cycle.summary.polls] == ["new"]
    assert harness.items(url) == 4
    assert harness.feed(url)["last_error"] is None
