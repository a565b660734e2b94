"""Retention (#21): ``Store.prune`` removes exactly what it says and nothing that must
stay, the ``[retention]`` config is checked, and the service prunes once a day in
small batches."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Run, make_project
from dbfactory import NOW, populated_db
from hostile import watch_project
from httpserver import LocalServer, Reply

from tracker import service as service_module
from tracker.config import load_config, parse_config
from tracker.errors import ConfigError
from tracker.models import Retention
from tracker.poll import ParsePool
from tracker.retention import PrunePlan, PruneReport, prune_due, prune_plan
from tracker.service import Service
from tracker.store import Store
from tracker.store import retention as store_retention
from tracker.topicset import load_topic_set

LATER = NOW + timedelta(days=60)  # every item of the populated database is old by then
ITEMS_30D = PrunePlan(polls_before=None, items_before=LATER - timedelta(days=30))


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pause between batches here: no other writer waits for the lock."""
    monkeypatch.setattr(store_retention, "BATCH_PAUSE", 0.0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tracker.db"
    populated_db(path)
    return path


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def ids(path: Path, sql: str) -> set[int]:
    return {int(str(row[0])) for row in rows(path, sql)}


def unneeded_items(path: Path) -> set[int]:
    """Worked out in Python from the rows, not with the store's SQL: no flag, no match,
    no relevant assessment, and no later copy of its story pointing to it."""
    kept = ids(path, "SELECT item_id FROM flags") | ids(path, "SELECT item_id FROM matches")
    kept |= ids(path, "SELECT item_id FROM assessments WHERE relevant")
    stories = rows(path, "SELECT id, story_id FROM items")
    kept |= {int(str(story)) for item, story in stories if story != item}
    return ids(path, "SELECT id FROM items") - kept


def search(path: Path, query: str) -> set[int]:
    return ids(path, f"SELECT rowid FROM items_fts WHERE items_fts MATCH '{query}'")


def test_prune_deletes_exactly_the_unneeded_items_and_a_dry_run_counts_the_same(
    db: Path, tmp_path: Path
) -> None:
    expected = unneeded_items(db)
    everything = ids(db, "SELECT id FROM items")
    kept = everything - expected
    protected = ids(db, "SELECT item_id FROM flags")
    protected |= ids(db, "SELECT item_id FROM assessments WHERE relevant")
    links_before = rows(db, "SELECT COUNT(*) FROM item_feeds")[0][0]
    assert expected and protected and protected <= kept
    assert search(db, "football") and search(db, "football") <= expected

    with Store(db) as store:
        dry = store.prune(ITEMS_30D, dry_run=True)
    assert ids(db, "SELECT id FROM items") == everything  # the dry run wrote nothing
    with Store(db) as store:
        done = store.prune(ITEMS_30D)

    assert replace(done, pages_freed=0) == dry
    assert done.items == len(expected) and done.finished
    assert ids(db, "SELECT id FROM items") == kept
    assert done.item_feeds == links_before - rows(db, "SELECT COUNT(*) FROM item_feeds")[0][0]
    assert not ids(db, "SELECT item_id FROM item_feeds") & expected
    assert not ids(db, "SELECT item_id FROM story_bands") & expected
    assert not ids(db, "SELECT item_id FROM assessments") & expected
    assert done.search_rows == len(expected)
    # search still works, finds what stayed and nothing of what went
    assert not search(db, "football")
    assert search(db, "taliban") and search(db, "taliban") <= kept
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    # nothing is left to prune, and a second prune says so
    with Store(db) as store:
        assert store.prune(ITEMS_30D) == PruneReport(pages_freed=0)


def test_flagged_relevant_and_recent_items_are_never_pruned(db: Path) -> None:
    flagged = ids(db, "SELECT item_id FROM flags")
    relevant = ids(db, "SELECT item_id FROM assessments WHERE relevant")
    with Store(db) as store:
        store.prune(PrunePlan(None, NOW - timedelta(days=1)))  # none is that old
        assert store.counts()["items"] == len(ids(db, "SELECT id FROM items"))
        recent = ids(db, "SELECT id FROM items")
        store.prune(PrunePlan(None, NOW + timedelta(days=3650)))
    assert recent and flagged | relevant <= ids(db, "SELECT id FROM items")


def test_an_item_an_analyst_reviewed_is_kept(db: Path) -> None:
    expected = unneeded_items(db)
    reviewed = min(expected)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO reviews (item_id, item_url, scope, label, reviewed_at) "
            "VALUES (?, 'https://example.org/a', 'flag', 'wrong', ?)",
            (reviewed, NOW.isoformat()),
        )
    with Store(db) as store:
        done = store.prune(ITEMS_30D)
    assert done.items == len(expected) - 1
    assert ids(db, "SELECT id FROM items") & expected == {reviewed}


def test_an_item_a_feed_still_carries_is_kept(db: Path) -> None:
    expected = unneeded_items(db)
    carried = min(expected)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE item_feeds SET last_seen_at = ? WHERE item_id = ?",
            ((LATER - timedelta(days=1)).isoformat(), carried),
        )
    with Store(db) as store:
        store.prune(ITEMS_30D)
    assert ids(db, "SELECT id FROM items") & expected == {carried}


def test_old_polls_are_summarised_per_feed_and_day_and_feed_health_keeps_working(
    db: Path,
) -> None:
    polls = rows(db, "SELECT feed_id, substr(started_at, 1, 10), outcome, duration_ms FROM polls")
    health = dict(rows(db, "SELECT id, avg_duration_ms FROM feed_health"))
    plan = PrunePlan(NOW + timedelta(days=1), None)
    with Store(db) as store:
        dry = store.prune(plan, dry_run=True)
        done = store.prune(plan)

    assert replace(done, pages_freed=0) == dry
    assert done.polls == len(polls) and not rows(db, "SELECT * FROM polls")
    days = {(feed, day) for feed, day, _, _ in polls}
    assert done.poll_days == len(days)
    summary = rows(db, "SELECT feed_id, day, polls, errors, duration_ms FROM poll_days")
    assert {(feed, day) for feed, day, *_ in summary} == days
    for feed, day, count, errors, duration in summary:
        mine = [p for p in polls if p[:2] == (feed, day)]
        assert count == len(mine)
        assert errors == sum(p[2] == "error" for p in mine)
        assert duration == sum(int(str(p[3])) for p in mine)
    # the view's average now comes from the summary, for every feed that had polls
    after = dict(rows(db, "SELECT id, avg_duration_ms FROM feed_health"))
    assert after.keys() == health.keys()
    assert all(after[feed] is not None for feed, value in health.items() if value is not None)


def test_a_prune_stops_at_its_batch_budget_and_the_next_one_goes_on(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_retention, "POLL_BATCH", 2)
    monkeypatch.setattr(store_retention, "ITEM_BATCH", 2)
    total_polls = rows(db, "SELECT COUNT(*) FROM polls")[0][0]
    plan = PrunePlan(NOW + timedelta(days=1), LATER - timedelta(days=30))
    with Store(db) as store:
        whole = store.prune(plan, dry_run=True)
        first = store.prune(plan, max_batches=2)
        assert not first.finished and first.batches == 2 and first.polls == 4
        rest = store.prune(plan)
    assert rest.finished
    assert first.polls + rest.polls == whole.polls == total_polls
    with Store(db) as store:  # a budget spent on the last polls leaves the items undone
        assert not store.prune(PrunePlan(None, LATER), max_batches=0).finished
    assert first.items + rest.items == whole.items > 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"0d"', "must be positive"),
        ('"-5d"', "must be a positive duration"),
        ('"soon"', "expected a duration"),
        ('"12h"', "must be at least 1d"),
        ("true", "expected a duration"),
    ],
)
def test_a_bad_retention_names_file_line_and_key(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "tracker.toml"
    text = f'[settings]\ninterval = "15m"\n\n[retention]\npolls = {value}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text.encode(), path)
    assert str(caught.value).startswith(f"{path}:5: retention.polls: {message}")


def test_items_are_kept_at_least_the_story_window_and_unknown_keys_are_errors(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tracker.toml"
    with pytest.raises(ConfigError, match=r":2: retention.items: must be at least 7d"):
        parse_config(b'[retention]\nitems = "3d"\n', path)
    with pytest.raises(ConfigError, match=r":2: retention.item: unknown key \(did you mean"):
        parse_config(b'[retention]\nitem = "30d"\n', path)


def test_retention_defaults_keep_polls_90_days_and_items_for_ever(tmp_path: Path) -> None:
    path = tmp_path / "tracker.toml"
    assert parse_config(b'[settings]\ninterval = "15m"\n', path).retention == Retention()
    custom = parse_config(b'[retention]\npolls = "forever"\nitems = "365d"\n', path)
    assert custom.retention == Retention(polls=None, items=365 * 86400.0)
    plan = prune_plan(Retention(), NOW)
    assert plan == PrunePlan(polls_before=NOW - timedelta(days=90), items_before=None)


def test_the_daily_prune_is_due_once_a_day_and_after_the_clock_went_back() -> None:
    assert prune_due(None, NOW)
    assert not prune_due(NOW, NOW + timedelta(hours=23))
    assert prune_due(NOW, NOW + timedelta(days=1))
    assert prune_due(NOW, NOW - timedelta(minutes=1))


@pytest.mark.slow
def test_pruned_pages_are_reused_and_vacuum_gives_them_back(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    big_db(path)
    when = NOW + timedelta(days=1)
    with Store(path) as store:
        assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0  # none: fast writes
        done = store.prune(PrunePlan(when, when))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        free = store.conn.execute("PRAGMA freelist_count").fetchone()[0]
        assert done.items and free > 0  # the pruned rows' pages wait for the next writes
        size = path.stat().st_size
        before, after = store.vacuum()
        assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert before == size and after <= size - free * 4096 // 2
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]


# ---- the service's daily prune --------------------------------------------------------------

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Outlet</title><link>http://example.org/</link>
<item><guid>a</guid><title>Weather in Kabul</title><link>http://example.org/a</link>
<description>Sunny.</description></item>
</channel></rss>"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def feed_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        server.route("/feed.xml", Reply(body=FEED))
        yield server


@pytest.mark.slow
def test_the_service_prunes_once_a_day_in_small_batches(
    tmp_path: Path, pool: ParsePool, feed_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_retention, "POLL_BATCH", 1)
    monkeypatch.setattr(service_module, "PRUNE_BATCHES_PER_CYCLE", 2)
    config_path = watch_project(tmp_path, [feed_server.url("/feed.xml")])
    with config_path.open("a", encoding="utf-8") as config_file:
        config_file.write('\n[retention]\npolls = "1d"\n')
    clock = Clock()
    config = load_config(config_path)
    store = Store(config.db_path)
    topics = load_topic_set(config.topics_dir, config.seeds_dir)
    service = Service(config_path, None, 1.0, config, topics, store, pool=pool, clock=clock)
    service.run_id = store.start_service_run(os.getpid(), "test", T0)
    service.apply(config, topics, T0)
    counts: list[tuple[int, int]] = []
    try:
        for hours in (0, 1, 2, 3, 4, 100, 101, 102):  # five polls, then days later
            clock.now = T0 + timedelta(hours=hours)
            store.conn.execute("UPDATE feeds SET next_poll_at = NULL")
            asyncio.run(service.cycle())
            polls = store.conn.execute("SELECT COUNT(*) FROM polls").fetchone()[0]
            summarised = store.conn.execute("SELECT SUM(polls) FROM poll_days").fetchone()[0]
            counts.append((polls, summarised or 0))
    finally:
        store.close()
    # day one: the first cycle's prune found nothing old; then at 100 h the five old
    # polls go two a cycle (the budget), each batch one poll, none lost on the way
    assert counts == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (4, 2), (3, 4), (3, 5)]
    assert service.retained_at == T0 + timedelta(hours=102) and not service.retaining


# ---- kill -9 in the middle of a prune ---------------------------------------------------------

PRUNER = """
import sys
from datetime import datetime
from tracker.retention import PrunePlan
from tracker.store import Store
from tracker.store import retention
retention.POLL_BATCH = retention.ITEM_BATCH = 20  # many short batches
retention.BATCH_PAUSE = 0.0
when = datetime.fromisoformat(sys.argv[2])
with Store(sys.argv[1]) as store:
    if sys.argv[3] != "merge":
        store.prune(PrunePlan(when, when))
        raise SystemExit
    # the index in small FTS5 pages, merged a page a step: many short steps to kill
    store.conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('pgsz', 64)")
    store.prune(PrunePlan(when, when))
    retention.MERGE_PAGES, retention.BATCH_PAUSE = 1, 0.1  # 16 steps, 1.6 s
    print("merging", flush=True)
    store.prune(PrunePlan(None, None, merge_steps=100_000))
"""


def big_db(path: Path) -> None:
    """The populated database with 20,000 extra old polls and 2,000 extra old items
    that nothing needs, written the way killed writers leave them (then indexed)."""
    populated_db(path)
    old = (NOW - timedelta(days=200)).isoformat()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(
            "INSERT INTO polls (feed_id, started_at, duration_ms, outcome) VALUES (?, ?, ?, ?)",
            [(1 + n % 3, old, n % 500, "error" if n % 7 == 0 else "new") for n in range(20_000)],
        )
        conn.executemany(
            "INSERT INTO items (url, title, published, first_seen_at, content_hash, feed_id, "
            "story_id) VALUES (?, ?, ?, ?, 'h', 1, NULL)",
            [(f"https://x.example/{n}", f"filler item {n}", old, old) for n in range(2_000)],
        )
        conn.execute("UPDATE items SET story_id = id WHERE story_id IS NULL")
        conn.execute(
            "INSERT INTO item_feeds SELECT 1, 'x' || id, id, first_seen_at, first_seen_at, 'h' "
            "FROM items WHERE url LIKE 'https://x.example/%'"
        )
    with Store(path) as store:
        store.index_pending()


def kept_state(path: Path) -> tuple[object, ...]:
    """What a prune must never change: the kept items, flags and the poll count."""
    return (
        rows(path, "SELECT item_id, topic FROM flags ORDER BY 1, 2"),
        rows(path, "SELECT item_id FROM assessments WHERE relevant ORDER BY 1"),
        rows(path, "SELECT COUNT(*) FROM polls")[0][0]
        + (rows(path, "SELECT SUM(polls) FROM poll_days")[0][0] or 0),
    )


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["polls", "items", "merge"])
def test_kill_9_in_the_middle_of_a_prune_loses_nothing_and_the_next_resumes(
    tmp_path: Path, phase: str
) -> None:
    import subprocess
    import sys
    import time

    path = tmp_path / "tracker.db"
    big_db(path)
    reference = tmp_path / "reference.db"
    shutil.copy(path, reference)
    when = NOW + timedelta(days=1)
    with Store(reference) as store:
        store.prune(PrunePlan(when, when))
    before = kept_state(path)
    items_before = rows(path, "SELECT COUNT(*) FROM items")[0][0]

    def midway() -> bool:
        if phase == "merge":
            assert child.stdout is not None
            return child.stdout.readline() == "merging\n"
        if phase == "polls":
            left = rows(path, "SELECT COUNT(*) FROM polls")[0][0]
            return bool(rows(path, "SELECT COUNT(*) FROM poll_days")[0][0]) and left > 100
        left = rows(path, "SELECT COUNT(*) FROM items")[0][0]
        return items_before - 100 > left > items_before - 1500

    child = subprocess.Popen(
        [sys.executable, "-c", PRUNER, str(path), when.isoformat(), phase],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (caught := midway()) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if phase == "merge":
        time.sleep(0.35)  # a few merge steps done, more to do
    child.kill()
    child.wait()
    assert child.stdout is not None
    child.stdout.close()
    assert caught, f"the prune was not caught in its {phase} phase"

    assert kept_state(path) == before  # nothing that should stay was lost
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]
    search_index_is_sound(path)
    with Store(path) as store:
        done = store.prune(PrunePlan(when, when, merge_steps=100_000, merge_start=False))
        if phase == "merge":  # the merge the kill cut short goes on to the end: after
            # it the index is one segment, and a merge begun anew finds nothing to do
            assert done.merge_steps > 0 and done.merges_started == 0
            assert store.prune(PrunePlan(None, None, merge_steps=100_000)).merge_steps == 0
    search_index_is_sound(path)
    for table in ("items", "item_feeds", "poll_days", "polls", "flags", "story_bands"):
        sql = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert rows(path, sql) == rows(reference, sql), table
    assert search(path, "filler") == set()
    assert search(path, "taliban") == search(reference, "taliban")


def search_index_is_sound(path: Path) -> None:
    """FTS5's check of ``items_fts`` against the items (rank 1: their text too)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")


# ---- the command line ------------------------------------------------------------------------


@pytest.mark.slow
def test_tracker_prune_dry_run_prints_what_prune_then_removes(
    tmp_path: Path, run_tracker: Run
) -> None:
    make_project(tmp_path, [])
    with (tmp_path / "config" / "tracker.toml").open("a", encoding="utf-8") as config_file:
        config_file.write('[retention]\npolls = "90d"\nitems = "30d"\n')
    db = tmp_path / "db" / "tracker.db"
    db.parent.mkdir()
    populated_db(db)  # March 2026: older than both periods
    expected = unneeded_items(db)

    dry = run_tracker("prune", "--dry-run").stdout.splitlines()
    assert ids(db, "SELECT id FROM items") >= expected
    done = run_tracker("prune").stdout.splitlines()

    assert dry[:-1] == done[:-2]
    assert dry[-1] == "dry run: nothing was written"
    assert int(done[-2].removeprefix("search index merge steps: ")) > 0
    assert done[-1].startswith("space given back: ")
    assert f"that no topic needs: {len(expected)}" in dry[1]
    assert dry[0].startswith("polls older than 90d: 8 (summarised into")
    assert not ids(db, "SELECT id FROM items") & expected
    again = run_tracker("prune", "--dry-run").stdout
    assert "polls older than 90d: 0 " in again and "that no topic needs: 0" in again


@pytest.mark.slow
def test_a_bad_retention_is_one_line_and_exit_2(tmp_path: Path, run_tracker: Run) -> None:
    config = make_project(tmp_path, [])
    with config.open("a", encoding="utf-8") as config_file:
        config_file.write('[retention]\npolls = "-5d"\n')
    result = run_tracker("prune", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tracker: error: config/tracker.toml:{len(config.read_text().splitlines())}: "
        "retention.polls: must be a positive "
        "duration like 90d or 'forever'"
    ]
