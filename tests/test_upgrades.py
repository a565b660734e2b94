"""Every earlier schema version upgrades, losing nothing; a newer one is refused intact.

A database at version k is built from the migrations themselves (the first k of
``schema.MIGRATIONS``, and the full-text index that tracker version kept beside them),
filled with feeds in every state, items, flags, verdicts, bands and polls as that
version wrote them, then opened with ``Store``. The versions are parametrised from
``SCHEMA_VERSION``: a migration appended later is covered without touching this file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from conftest import Run, make_project

from tracker.errors import StoreError
from tracker.store import Store, schema
from tracker.stories import story_bands, title_tokens

FTS_TABLE = "CREATE VIRTUAL TABLE items_fts USING FTS5 (title, summary, content, content=[items])"
# Up to version 2, triggers indexed each item as it was inserted.
EVERY_INSERT_INDEXED = (
    """CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts (rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content);
    END""",
    """CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content);
    END""",
)
BATCH_INDEXED = 3  # the version from which items are indexed in batches

T0 = "2026-03-01T00:00:00+00:00"
FEEDS = (
    # id, url, previous_url, gone, failing_since, failures, last_status, error kind
    (1, "https://wire.example/rss", None, 0, None, 0, 200, None),
    (2, "https://herald.example/feed", None, 0, "2026-02-27T00:00:00+00:00", 4, 503, "http"),
    (3, "https://retired.example/rss", None, 1, "2026-02-20T00:00:00+00:00", 9, 410, "gone"),
    (4, "https://new.example/feed.xml", "https://old.example/feed", 0, None, 0, 200, None),
)
ITEMS = (
    # id, feed ids, title, flagged
    (1, (1, 4), "US envoy meets Taliban officials in Doha", True),
    (2, (1,), "Taliban and Washington talk frozen reserves in Doha", True),
    (3, (2,), "Earthquake strikes western Afghanistan", False),
    (4, (3,), "Markets close higher on tech rally", False),
    (5, (4,), "Kabul residents face long power cuts", False),
)
FEED_COLUMNS = (
    "id, url, previous_url, gone, failing_since, consecutive_failures, last_status, "
    "last_error_kind, last_error, etag, next_poll_at, configured, title"
)


def build(path: Path, version: int) -> None:
    """A database as the tracker of schema ``version`` left it, with its data."""
    with closing(sqlite3.connect(path)) as conn, conn:
        for number in range(version):
            for statement in schema.MIGRATIONS[number]:
                conn.execute(statement)
        conn.execute(FTS_TABLE)
        if version < BATCH_INDEXED:
            for trigger in EVERY_INSERT_INDEXED:
                conn.execute(trigger)
        else:
            for trigger in schema.FTS_TRIGGERS:
                conn.execute(trigger)
        fill(conn, version)
        conn.execute(f"PRAGMA user_version = {version}")


def fill(conn: sqlite3.Connection, version: int) -> None:
    for feed_id, url, previous, gone, failing, failures, status, kind in FEEDS:
        conn.execute(
            "INSERT INTO feeds (id, url, previous_url, gone, failing_since, "
            "consecutive_failures, last_status, last_error_kind, last_error, etag, "
            "created_at, last_polled_at, next_poll_at, configured, title) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (feed_id, url, previous, gone, failing, failures, status, kind,
             f"HTTP {status}" if kind else None, f'"e{feed_id}"', T0, T0,
             "2026-03-01T00:15:00+00:00", f"Outlet {feed_id}"),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO polls (feed_id, started_at, duration_ms, status, outcome) "
            "VALUES (?, ?, 120, ?, ?)",
            (feed_id, T0, status, "error" if kind else "new"),
        )
    for item_id, feed_ids, title, flagged in ITEMS:
        fill_item(conn, version, item_id, feed_ids, title, flagged)
    if version >= BATCH_INDEXED:  # a batch indexed them (the triggers did before)
        conn.execute("INSERT INTO items_fts (items_fts) VALUES ('rebuild')")
    conn.execute("INSERT INTO topics VALUES ('us-taliban', 'US-Taliban', 'p', 'v1', ?)", (T0,))
    conn.execute("INSERT INTO service_runs (pid, host, started_at) VALUES (1, 'h', ?)", (T0,))


def fill_item(
    conn: sqlite3.Connection,
    version: int,
    item_id: int,
    feed_ids: tuple[int, ...],
    title: str,
    flagged: bool,
) -> None:
    published = f"2026-02-2{item_id}T08:00:00+00:00"
    conn.execute(
        "INSERT INTO items (id, url, title, summary, published, first_seen_at, "
        "content_hash, feed_id, story_id) VALUES (?, ?, ?, 'summary', ?, ?, ?, ?, ?)",
        (item_id, f"https://news.example/{item_id}", title, published, T0, f"h{item_id}",
         feed_ids[0], item_id),
    )  # fmt: skip
    for feed_id in feed_ids:
        conn.execute(
            "INSERT INTO item_feeds VALUES (?, ?, ?, ?, ?, ?)",
            (feed_id, f"k{item_id}", item_id, T0, T0, f"h{item_id}"),
        )
    if version < schema.NUMBERED_BANDS:
        conn.execute("INSERT INTO story_bands VALUES (?, ?)", (f"0:{item_id:012x}", item_id))
    else:
        bands = story_bands(title_tokens(title))
        conn.executemany("INSERT INTO story_bands VALUES (?, ?)", [(b, item_id) for b in bands])
    if flagged:
        conn.execute(
            "INSERT INTO assessments VALUES (?, 'us-taliban', 1, 1, 0.9, 'v1', ?)", (item_id, T0)
        )
        conn.execute(
            "INSERT INTO matches VALUES (?, 'us-taliban', 'taliban', 'Taliban', 'Taliban', "
            "'title', 7)",
            (item_id,),
        )
        conn.execute(
            "INSERT INTO flags (item_id, topic, score, reasons, rule_version, flagged_at) "
            "VALUES (?, 'us-taliban', 0.9, 'both groups', 'v1', ?)",
            (item_id, T0),
        )


def read(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


SNAPSHOT = {
    "feeds": f"SELECT {FEED_COLUMNS} FROM feeds ORDER BY id",
    "items": "SELECT id, url, title, summary, published, story_id, content_hash FROM items "
    "ORDER BY id",
    "item_feeds": "SELECT * FROM item_feeds ORDER BY feed_id, entry_key",
    "flags": "SELECT item_id, topic, score, reasons, rule_version, flagged_at FROM flags "
    "ORDER BY item_id",
    "assessments": "SELECT * FROM assessments ORDER BY item_id",
    "matches": "SELECT * FROM matches ORDER BY item_id",
    "polls": "SELECT feed_id, started_at, duration_ms, status, outcome FROM polls ORDER BY id",
    "topics": "SELECT * FROM topics",
}


@pytest.mark.parametrize("version", range(1, schema.SCHEMA_VERSION + 1))
def test_every_schema_version_upgrades_keeping_every_row(tmp_path: Path, version: int) -> None:
    path = tmp_path / "tracker.db"
    build(path, version)
    before = {name: read(path, sql) for name, sql in SNAPSHOT.items()}
    with Store(path) as store:
        assert store.integrity_check() == "ok"
        moved = store.feed("https://old.example/feed")
        assert moved is not None and moved.url == "https://new.example/feed.xml"
        retired = store.feed("https://retired.example/rss")
        assert retired is not None and retired.gone
    after = {name: read(path, sql) for name, sql in SNAPSHOT.items()}
    assert after == before
    assert all(after.values())
    assert read(path, "PRAGMA user_version") == [(schema.SCHEMA_VERSION,)]


@pytest.mark.parametrize("version", range(1, schema.SCHEMA_VERSION))
def test_upgraded_database_serves_its_views_search_and_bands(tmp_path: Path, version: int) -> None:
    path = tmp_path / "tracker.db"
    build(path, version)
    Store(path).close()
    flagged = {item_id for item_id, *_, flagged in ITEMS if flagged}
    assert {row[0] for row in read(path, "SELECT item_id FROM flagged")} == flagged
    assert read(path, "SELECT flags.published = items.published FROM flags JOIN items "
                "ON items.id = flags.item_id") == [(1,)] * len(flagged)  # fmt: skip
    assert sorted(row[0] for row in read(path, "SELECT id FROM feed_health")) == [1, 2, 3, 4]
    for view in schema.VIEWS:
        read(path, f"SELECT * FROM {view}")  # every view runs
    doha = read(path, "SELECT rowid FROM items_fts WHERE items_fts MATCH 'Doha' ORDER BY 1")
    assert doha == [(1,), (2,)]
    bands = read(path, "SELECT band, item_id FROM story_bands ORDER BY 1, 2")
    expected = sorted(
        (band, item_id) for item_id, _, title, _ in ITEMS
        for band in story_bands(title_tokens(title))
    )  # fmt: skip
    assert bands == expected
    read(path, "INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")


# ---- a database newer than this tracker ------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def newer_database(path: Path, journal_mode: str) -> None:
    """A database a newer tracker wrote (one more migration than this tracker knows)."""
    with Store(path):
        pass
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
        conn.execute("CREATE TABLE from_the_future (x)")
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
        conn.commit()


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_a_newer_database_is_refused_and_left_byte_for_byte(
    tmp_path: Path, journal_mode: str
) -> None:
    path = tmp_path / "tracker.db"
    newer_database(path, journal_mode)
    before = digest(path)
    with pytest.raises(StoreError) as refused:
        Store(path)
    message = str(refused.value)
    assert f"schema version {schema.SCHEMA_VERSION + 1} is newer" in message
    assert f"knows ({schema.SCHEMA_VERSION})" in message
    assert "upgrade tracker" in message
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracker.db"]  # no WAL left open


@pytest.mark.slow
def test_a_newer_database_is_one_line_on_the_command_line(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, [])
    path = tmp_path / "db" / "tracker.db"
    path.parent.mkdir()
    newer_database(path, "delete")
    before = digest(path)
    result = run_tracker("status", check=False)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "is newer than this tracker" in line and "upgrade tracker" in line
    assert digest(path) == before
