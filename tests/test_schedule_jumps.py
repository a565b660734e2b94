"""The schedule under clock jumps, pauses, hung polls and SIGTERM.

Pure tests of ``tracker.schedule`` and ``Store.due_feeds`` with the time passed in: a
clock that jumps forward gives one coalesced catch-up poll per feed, not a storm; a
clock that jumps back cannot strand a feed whose next poll was set by the later clock:
it is polled at once when its next poll lies further ahead than tracker ever schedules
(``schedule.furthest_ahead``). Then the real service: paused with SIGSTOP, it resumes
with one cycle instead of every missed tick; a poll that hangs ends at the fetch
deadline and the schedule goes on; SIGTERM in the middle of a poll exits cleanly within
the deadline.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_project
from hostile import (
    RawServer,
    kill_service,
    news,
    query,
    respond,
    rss,
    silent,
    start_service,
    wait_for,
)

from tracker import schedule
from tracker.models import FeedConfig, FeedPoll, FetchResult, FlagDecision, ItemText, Settings
from tracker.poll import poll_plan
from tracker.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTINGS = Settings()
FEEDS = [FeedConfig(f"http://f{n}.example/rss", interval=600.0) for n in range(5)]
HORIZON = schedule.furthest_ahead(SETTINGS, [feed.interval for feed in FEEDS])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "tracker.db")
    s.sync_feeds(FEEDS, NOW)
    return s


def nothing(text: ItemText) -> Sequence[FlagDecision]:
    return []


def poll_all_due(store: Store, now: datetime, rng: random.Random) -> int:
    """What one service cycle does with the schedule: poll what is due, reschedule it."""
    due = store.due_feeds(now, HORIZON)
    for state in due:
        fetched = FetchResult(state.url, state.url, status=304, not_modified=True)
        poll = FeedPoll(state.url, now, fetched)
        store.record_poll(state, poll, poll_plan(state, poll, nothing, SETTINGS, rng, now), now)
    return len(due)


def test_furthest_ahead_bounds_every_poll_the_schedule_can_set() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        configured = rng.choice([10.0, 60.0, 900.0, 3600.0, 86400.0, 3 * 86400.0])
        settings = Settings(max_interval=rng.choice([3600.0, 86400.0, 7 * 86400.0]))
        bound = schedule.furthest_ahead(settings, [configured])
        current = rng.choice([None, configured, configured * 10])
        success = schedule.after_success(
            configured, current, rng.randint(0, 3), rng.choice([None, 1e9]), settings, NOW, rng
        )
        failure = schedule.after_failure(
            configured,
            current,
            rng.randint(1, 40),
            rng.choice([None, 30.0, 1e9]),
            rng.uniform(0, 10 * 86400),
            NOW,
            rng,
        )
        for timing in (success, failure):
            assert (timing.next_poll_at - NOW).total_seconds() <= bound, (configured, timing)


def test_a_clock_jump_forward_gives_one_catch_up_poll_per_feed(store: Store) -> None:
    rng = random.Random(1)
    assert poll_all_due(store, NOW, rng) == len(FEEDS)
    later = NOW + timedelta(days=7)  # a week of missed polls (suspended laptop, clock fix)
    caught_up = poll_all_due(store, later, rng)
    again = [poll_all_due(store, later + timedelta(seconds=s), rng) for s in (1, 10, 60)]
    assert caught_up == len(FEEDS)
    assert again == [0, 0, 0], "missed polls were replayed"
    assert all(
        (datetime.fromisoformat(s.next_poll_at or "") - later).total_seconds() >= schedule.FLOOR / 2
        for s in store.feeds()
    ), "the next polls were not set from the new time"


def test_a_clock_jump_back_never_strands_a_feed(store: Store) -> None:
    rng = random.Random(2)
    poll_all_due(store, NOW, rng)
    back = NOW - timedelta(days=365)  # the clock was a year ahead, and is fixed
    assert store.due_feeds(back) == [], "(without a horizon every feed waits a year)"
    assert len(store.due_feeds(back, HORIZON)) == len(FEEDS)
    poll_all_due(store, back, rng)
    assert store.due_feeds(back, HORIZON) == []
    for state in store.feeds():
        wait = (datetime.fromisoformat(state.next_poll_at or "") - back).total_seconds()
        assert 0 < wait <= HORIZON


def test_a_legitimately_distant_poll_is_not_brought_forward(store: Store) -> None:
    """A Retry-After of a day, or a dead feed's daily retry, stays as scheduled."""
    state = store.feeds()[0]
    retry = schedule.after_failure(600.0, None, 1, 86400.0, 0.0, NOW, random.Random(3))
    store.conn.execute(
        "UPDATE feeds SET next_poll_at = ? WHERE id = ?",
        (retry.next_poll_at.isoformat(timespec="seconds"), state.id),
    )
    due = {s.url for s in store.due_feeds(NOW + timedelta(minutes=1), HORIZON)}
    assert state.url not in due and len(due) == len(FEEDS) - 1


# ---- the real service ------------------------------------------------------------------------


def service_project(root: Path, urls: list[str], deadline: str = "1.5s") -> Path:
    config = make_project(root, urls, extra_settings='interval = "10s"', with_topics=False)
    config.write_text(config.read_text().replace('deadline = "10s"', f'deadline = "{deadline}"'))
    return config


def cycles(db: Path) -> int:
    rows = query(db, "SELECT cycles FROM service_runs ORDER BY id DESC LIMIT 1")
    return int(rows[0][0]) if rows else 0  # the service has not recorded its start yet


@pytest.mark.slow
def test_a_paused_service_resumes_with_one_cycle_not_a_storm(tmp_path: Path) -> None:
    with RawServer() as server:
        server.route("/feed", respond(rss(news(3))))
        service_project(tmp_path, [server.url("/feed")])
        db = tmp_path / "db" / "tracker.db"
        service = start_service(tmp_path, tick=0.2)
        try:
            wait_for(lambda: db.exists() and cycles(db) >= 3, 20, "a few cycles")
            service.send_signal(signal.SIGSTOP)
            time.sleep(2.0)  # ten ticks missed
            before = cycles(db)
            service.send_signal(signal.SIGCONT)
            time.sleep(0.5)
            burst = cycles(db) - before
        finally:
            service.send_signal(signal.SIGCONT)
            service.send_signal(signal.SIGTERM)
            code = service.wait(timeout=30)
    assert code == 0
    assert burst <= 4, f"{burst} cycles in the half second after the pause: missed ticks replayed"
    assert query(db, "SELECT COUNT(*) FROM polls") == [(1,)], "the feed was polled again"


@pytest.mark.slow
def test_a_hung_poll_ends_at_the_deadline_and_sigterm_mid_poll_exits_cleanly(
    tmp_path: Path,
) -> None:
    deadline = 1.5
    with RawServer() as server:
        server.route("/hung", silent(server))
        server.route("/good", respond(rss(news(3))))
        service_project(tmp_path, [server.url("/hung"), server.url("/good")], f"{deadline}s")
        db = tmp_path / "db" / "tracker.db"
        service = start_service(tmp_path, tick=0.2)
        try:
            wait_for(
                lambda: query(db, "SELECT COUNT(*) FROM polls WHERE error_kind = 'timeout'"),
                20,
                "the hung poll to time out",
            )
            after_hang = cycles(db)
            wait_for(lambda: cycles(db) >= after_hang + 5, 10, "the schedule to go on")
            assert query(db, "SELECT COUNT(*) FROM items") == [(3,)]

            hits = server.hits("/hung")
            with sqlite3.connect(db, timeout=10) as conn:
                conn.execute("UPDATE feeds SET next_poll_at = NULL WHERE url LIKE '%/hung'")
            wait_for(lambda: server.hits("/hung") > hits, 10, "the hung feed's second poll")
            time.sleep(0.2)
            # while the service waits on the network it holds no transaction, not even a
            # read snapshot: another writer gets the lock at once and a full checkpoint passes
            with contextlib.closing(sqlite3.connect(db, timeout=0, isolation_level=None)) as other:
                other.execute("BEGIN IMMEDIATE")
                other.execute("COMMIT")
                busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0, "a transaction was held open across network I/O"
            stopping = time.monotonic()
            service.send_signal(signal.SIGTERM)
            code = service.wait(timeout=30)
            stopped_in = time.monotonic() - stopping
        finally:
            if service.poll() is None:
                kill_service(service)
    log = (tmp_path / "service.log").read_text()
    assert code == 0, log[-2000:]
    assert stopped_in <= deadline + 1.5, f"SIGTERM took {stopped_in:.2f}s"
    assert query(db, "SELECT COUNT(*) FROM polls WHERE error_kind = 'timeout'") == [(2,)]
    assert query(db, "SELECT stopped_at IS NOT NULL FROM service_runs") == [(1,)]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert "Traceback" not in log
