"""Bringing a database to the current schema: the migrations of ``schema`` applied
in one immediate transaction, the full-text index and its triggers, the views.

Owns the order of an upgrade and the data work a migration needs beyond its SQL
(migration 4 works the story bands out again from the titles; the one adding
developments groups the flags already there; the one unwrapping aggregator links
gives old items their article's URL, merging copies, and regroups what it merged).

Must not: change the schema itself (``schema`` holds every statement) or touch a
database newer than this tracker.
"""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from tracker import stories
from tracker.errors import StoreError
from tracker.store import schema
from tracker.store.bands import INSERT_BANDS, titles
from tracker.store.connection import transaction
from tracker.store.developments import regroup, regroup_all
from tracker.store.merging import unwrap_aggregator_urls

UPGRADE_BATCH = 5_000  # items whose story bands an upgrade works out again at a time


def is_current(conn: sqlite3.Connection) -> bool:
    """Whether the database is at this tracker's schema (nothing to migrate)."""
    return bool(conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION)


def refuse_newer(path: str, conn: sqlite3.Connection) -> None:
    """``StoreError`` for a database a newer tracker wrote; checked before anything is
    written to it (even the journal mode), so the file stays as it was."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > schema.SCHEMA_VERSION:
        raise StoreError(
            f"{path}: database schema version {version} is newer than this tracker "
            f"knows ({schema.SCHEMA_VERSION}); it was left as it is: upgrade tracker "
            "to the version that wrote it"
        )


def migrate(path: str, conn: sqlite3.Connection, db: sqlite_utils.Database) -> None:
    refuse_newer(path, conn)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version < schema.SCHEMA_VERSION:
        with transaction(conn):
            _upgrade(conn, db)


def _upgrade(conn: sqlite3.Connection, db: sqlite_utils.Database) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number in range(version, schema.SCHEMA_VERSION):
        for statement in schema.MIGRATIONS[number]:
            conn.execute(statement)
    if version < schema.NUMBERED_BANDS:
        _band_again(conn)
    merged_topics = unwrap_aggregator_urls(conn) if version < schema.AGGREGATOR_URLS else set()
    if version < schema.DEVELOPMENTS:
        regroup_all(conn)
    else:
        for topic in sorted(merged_topics):
            regroup(conn, topic)
    if not db.table(schema.FTS_TABLE).exists():
        db.table("items").enable_fts(list(schema.FTS_COLUMNS), create_triggers=False)
    for trigger in schema.FTS_TRIGGERS:
        conn.execute(trigger)
    for name, sql in schema.VIEWS.items():
        conn.execute(f"DROP VIEW IF EXISTS {name}")
        conn.execute(f"CREATE VIEW {name} AS {sql}")
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")


def _band_again(conn: sqlite3.Connection) -> None:
    """Migration 4: the story bands of the items that had some, worked out again from
    their titles (the bands of earlier versions were text digests), a batch of items
    at a time so that a big table never sits in memory whole."""
    old = schema.TEXT_BANDS_TABLE
    item_ids = [row[0] for row in conn.execute(f"SELECT DISTINCT item_id FROM {old} ORDER BY 1")]
    for start in range(0, len(item_ids), UPGRADE_BATCH):
        rows = [
            (band, item_id)
            for item_id, title in titles(conn, item_ids[start : start + UPGRADE_BATCH])
            for band in stories.story_bands(stories.title_tokens(title))
        ]
        conn.execute(INSERT_BANDS, (json.dumps(sorted(rows)),))
    conn.execute(f"DROP TABLE {old}")
