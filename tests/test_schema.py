"""The schema as Datasette users read it: the flagged view's order and the migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from dbfactory import populated_db

from tracker.store import Store, schema
from tracker.stories import story_bands, title_tokens

NEWEST_FIRST = """
    SELECT items.id, items.published FROM flags
    JOIN items ON items.id = flags.item_id
    JOIN item_feeds ON item_feeds.item_id = items.id
    ORDER BY items.published DESC, items.id DESC
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path = tmp_path_factory.mktemp("schema") / "tracker.db"
    populated_db(path)
    with closing(sqlite3.connect(path)) as conn:
        yield conn


def plan(db: sqlite3.Connection, sql: str) -> str:
    return "\n".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))


def test_flagged_view_lists_each_flagged_copy_newest_first(db: sqlite3.Connection) -> None:
    found = db.execute("SELECT item_id, published FROM flagged").fetchall()
    assert len(found) > 5
    assert found == db.execute(NEWEST_FIRST).fetchall()


def test_flags_carry_their_items_publication_time(db: sqlite3.Connection) -> None:
    pairs = db.execute(
        "SELECT flags.published, items.published FROM flags JOIN items ON items.id = flags.item_id"
    ).fetchall()
    assert pairs
    assert all(on_flag == on_item for on_flag, on_item in pairs)


@pytest.mark.parametrize(
    "sql",
    ["SELECT * FROM flagged LIMIT 101", "SELECT COUNT(*) FROM flagged"],
)
def test_flagged_view_needs_no_sort(db: sqlite3.Connection, sql: str) -> None:
    # A sort here means every Datasette page of the view sorts all flagged rows.
    steps = plan(db, sql)
    assert "flags_published" in steps
    assert "TEMP B-TREE" not in steps


def test_publication_time_change_reaches_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    populated_db(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        item_id = conn.execute("SELECT item_id FROM flags LIMIT 1").fetchone()[0]
        conn.execute(
            "UPDATE items SET published = '2000-01-01T00:00:00+00:00' WHERE id = ?", (item_id,)
        )
        moved = conn.execute("SELECT published FROM flags WHERE item_id = ?", (item_id,)).fetchone()
        last = conn.execute("SELECT item_id FROM flagged").fetchall()[-1]
    assert moved == ("2000-01-01T00:00:00+00:00",)
    assert last == (item_id,)


def test_version_1_database_is_upgraded_with_its_flags_in_order(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        for statement in schema.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO feeds (id, url, title, created_at) VALUES (1, 'u', 'Wire', 'x')")
        for item_id, published in (
            (1, "2026-03-02T00:00:00+00:00"),
            (2, "2026-03-01T00:00:00+00:00"),
        ):
            conn.execute(
                "INSERT INTO items (id, url, published, first_seen_at, content_hash, feed_id) "
                "VALUES (?, ?, ?, ?, 'h', 1)",
                (item_id, f"https://example.com/{item_id}", published, published),
            )
            conn.execute(
                "INSERT INTO item_feeds VALUES (1, ?, ?, 'x', 'x', 'h')", (f"k{item_id}", item_id)
            )
            conn.execute(
                "INSERT INTO flags (item_id, topic, score, reasons, rule_version, flagged_at) "
                "VALUES (?, 't', 1, 'r', 'v1', 'x')",
                (item_id,),
            )
    Store(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        flagged = conn.execute("SELECT item_id, published FROM flagged").fetchall()
        on_flags = conn.execute("SELECT item_id, published FROM flags ORDER BY item_id").fetchall()
    assert version == schema.SCHEMA_VERSION
    assert flagged == [(1, "2026-03-02T00:00:00+00:00"), (2, "2026-03-01T00:00:00+00:00")]
    assert on_flags == sorted(flagged)


# Version 2 indexed each item as it was inserted.
VERSION_2_FTS = (
    "CREATE VIRTUAL TABLE items_fts USING FTS5 (title, summary, content, content=[items])",
    """CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts (rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content);
    END""",
    """CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content);
    END""",
)


def test_version_2_database_keeps_its_index_and_indexes_new_items_in_batches(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tracker.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        for statement in (*schema.MIGRATIONS[0], *schema.MIGRATIONS[1], *VERSION_2_FTS):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        conn.execute("INSERT INTO feeds (id, url, title, created_at) VALUES (1, 'u', 'Wire', 'x')")
        for item_id in (1, 2):
            conn.execute(
                "INSERT INTO items (id, title, published, first_seen_at, content_hash) "
                "VALUES (?, ?, 'x', 'x', 'h')",
                (item_id, f"Kabul talks {item_id}"),
            )
    with Store(path) as store:
        triggers = dict(
            store.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        )
        store.conn.execute(
            "INSERT INTO items (id, title, published, first_seen_at, content_hash) "
            "VALUES (3, 'Kabul embassy', 'x', 'x', 'h')"
        )
        before = store.conn.execute("SELECT rowid FROM items_fts WHERE items_fts MATCH 'Kabul'")
        assert [row[0] for row in before] == [1, 2]  # the new item waits for a batch
        store.conn.execute("DELETE FROM items WHERE id = 1")
        assert store.index_pending() == 1
        after = store.conn.execute("SELECT rowid FROM items_fts WHERE items_fts MATCH 'Kabul'")
        assert [row[0] for row in after] == [2, 3]
        store.conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
    assert all("WHEN" in triggers[name] for name in ("items_fts_insert", "items_fts_delete"))
    assert "items_fts_update" in triggers


def test_version_3_database_has_its_story_bands_worked_out_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tracker.store.migrations.UPGRADE_BATCH", 1)  # one item's bands at a time
    path = tmp_path / "tracker.db"
    titles = {1: "US and Taliban officials hold talks in Doha on detainees", 2: "Taliban talks"}
    with closing(sqlite3.connect(path)) as conn, conn:
        for number in range(3):
            for statement in schema.MIGRATIONS[number]:
                conn.execute(statement)
        conn.execute(VERSION_2_FTS[0])
        conn.execute("PRAGMA user_version = 3")
        for item_id, title in (*titles.items(), (3, "An item without bands")):
            conn.execute(
                "INSERT INTO items (id, title, published, first_seen_at, content_hash, story_id) "
                "VALUES (?, ?, 'x', '2026-11-27T00:00:00+00:00', 'h', ?)",
                (item_id, title, item_id),
            )
        text_bands = [("0:7c4253848a11", 1), ("3:7bb927fe9d31", 1), ("x7c5f974e18797e76", 2)]
        conn.executemany("INSERT INTO story_bands VALUES (?, ?)", text_bands)
    with Store(path) as store:
        rows = store.conn.execute("SELECT band, item_id FROM story_bands ORDER BY band, item_id")
        tables = [row[0] for row in store.conn.execute("SELECT name FROM sqlite_master")]
        expected = sorted(
            (band, item_id)
            for item_id, title in titles.items()
            for band in story_bands(title_tokens(title))
        )
        assert [tuple(row) for row in rows] == expected
        assert schema.TEXT_BANDS_TABLE not in tables
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_a_new_database_has_numbered_story_bands_only(tmp_path: Path) -> None:
    with Store(tmp_path / "tracker.db") as store:
        tables = [row[0] for row in store.conn.execute("SELECT name FROM sqlite_master")]
        band_type = store.conn.execute(
            "SELECT type FROM pragma_table_info('story_bands') WHERE name = 'band'"
        ).fetchone()[0]
    assert "story_bands" in tables and schema.TEXT_BANDS_TABLE not in tables
    assert band_type == "INTEGER"
