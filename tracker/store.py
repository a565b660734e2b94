"""The SQLite store: the only module that talks to the database.

Owns the connection (WAL, busy timeout, immediate transactions), the migrations
from ``schema``, and every read and write tracker makes. Each feed's poll is
written in one ``BEGIN IMMEDIATE`` transaction: the feed's new state, its items,
their matches and flags, and the ``polls`` row, or none of it.

A ``Store`` belongs to the thread that opened it: no connection is shared
across threads, and no transaction is held open across network I/O.

Must not: fetch, parse or decide whether an item is a follow-up (it is handed
an ``Assessor`` for that).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from tracker import schema, stories
from tracker.errors import StoreError
from tracker.models import FeedConfig, FeedPoll, FlagDecision, ItemText, ParsedItem

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
STORY_WINDOW = timedelta(days=7)
REDIRECT_CONFIRMATIONS = 2  # polls that must see the same permanent redirect before the URL moves
ERROR_MAX = 1024
# Errors in the body itself: a 304 or an unchanged body does not clear them.
CONTENT_ERRORS = frozenset(
    {"empty", "not_a_feed", "parse", "entities", "parse_timeout", "parse_crash"}
)

Assessor = Callable[[ItemText], Sequence[FlagDecision]]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class FeedState:
    """A feed as the scheduler and the poll cycle see it."""

    id: int
    url: str
    name: str
    title: str
    configured: bool
    interval: float | None
    poll_interval: float | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    first_polled_at: str | None
    last_polled_at: str | None
    last_success_at: str | None
    last_status: int | None
    last_error: str | None
    last_error_kind: str | None
    failing_since: str | None
    consecutive_failures: int
    next_poll_at: str | None
    gone: bool
    redirect_to: str | None
    redirect_seen: int

    @property
    def display_name(self) -> str:
        return self.name or self.title or self.url


@dataclass(frozen=True)
class NewFlag:
    """A flag written by a poll or a rescore, for alerts and reports."""

    item_id: int
    story_id: int
    topic: str
    title: str
    url: str | None
    feed: str
    score: float
    reasons: str
    backlog: bool


@dataclass(frozen=True)
class PollSummary:
    """What one feed's poll did, for the CLI, the logs and alerts."""

    feed_url: str
    feed_name: str
    outcome: str  # new, unchanged, not_modified, error
    status: int | None
    items_seen: int
    new_items: int
    updated_items: int
    new_flags: tuple[NewFlag, ...]
    duration_ms: int
    error_kind: str | None = None
    error: str | None = None
    moved_to: str | None = None


@dataclass(frozen=True)
class RescoreChange:
    item_id: int
    topic: str
    title: str
    became_flagged: bool


@dataclass
class _Tally:
    new: int = 0
    updated: int = 0


class Store:
    """An open tracker database."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self._configure()
            self.db = sqlite_utils.Database(self.conn)
            self.migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot use database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create database: {exc.strerror}") from None

    def _configure(self) -> None:
        self.conn.row_factory = sqlite3.Row
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA journal_size_limit = 67108864")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: a second writer waits (busy timeout)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ---- schema ------------------------------------------------------------------

    def migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > schema.SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: database schema {version} is newer than this "
                f"tracker ({schema.SCHEMA_VERSION}); upgrade tracker"
            )
        if version < schema.SCHEMA_VERSION:
            with self.transaction() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                for number in range(version, schema.SCHEMA_VERSION):
                    for statement in schema.MIGRATIONS[number]:
                        conn.execute(statement)
                if not self.db.table(schema.FTS_TABLE).exists():
                    self.db.table("items").enable_fts(
                        list(schema.FTS_COLUMNS), create_triggers=False
                    )
                for trigger in schema.FTS_TRIGGERS:
                    conn.execute(trigger)
                self._create_views(conn)
                conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")

    def _create_views(self, conn: sqlite3.Connection) -> None:
        for name, sql in schema.VIEWS.items():
            conn.execute(f"DROP VIEW IF EXISTS {name}")
            conn.execute(f"CREATE VIEW {name} AS {sql}")

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def checkpoint(self) -> None:
        """Move the WAL into the database so it stays bounded."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # ---- feeds -------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> None:
        """Make the ``feeds`` table follow the config: add, update, un-configure."""
        with self.transaction() as conn:
            configured: set[int] = set()
            for feed in feeds:
                configured.add(self._upsert_configured(conn, feed, now))
            rows = conn.execute("SELECT id FROM feeds WHERE configured = 1").fetchall()
            for row in rows:
                if row["id"] not in configured:
                    conn.execute("UPDATE feeds SET configured = 0 WHERE id = ?", (row["id"],))

    def _upsert_configured(self, conn: sqlite3.Connection, feed: FeedConfig, now: datetime) -> int:
        row = conn.execute(
            "SELECT id FROM feeds WHERE url = ? OR previous_url = ? ORDER BY url = ? DESC",
            (feed.url, feed.url, feed.url),
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO feeds (url, name, language, configured, interval_seconds, "
                "created_at, next_poll_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
                (feed.url, feed.name, feed.language, feed.interval, iso(now), iso(now)),
            )
            return int(cursor.lastrowid or 0)
        conn.execute(
            "UPDATE feeds SET name = ?, language = ?, configured = 1, interval_seconds = ?, "
            "poll_interval_seconds = CASE WHEN interval_seconds IS ? THEN poll_interval_seconds "
            "ELSE NULL END, "
            "next_poll_at = CASE WHEN interval_seconds IS ? THEN next_poll_at ELSE ? END "
            "WHERE id = ?",
            (
                feed.name,
                feed.language,
                feed.interval,
                feed.interval,
                feed.interval,
                iso(now),
                row["id"],
            ),
        )
        return int(row["id"])

    def ensure_feed(self, url: str, now: datetime) -> FeedState:
        """The feed with this URL, recorded (unconfigured) if it was not known."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO feeds (url, created_at, next_poll_at) VALUES (?, ?, ?)",
                (url, iso(now), iso(now)),
            )
        state = self.feed(url)
        assert state is not None
        return state

    def feed(self, url: str) -> FeedState | None:
        row = self.conn.execute(
            "SELECT * FROM feeds WHERE url = ? OR previous_url = ? ORDER BY url = ? DESC",
            (url, url, url),
        ).fetchone()
        return _feed_state(row) if row else None

    def feeds(self, *, configured_only: bool = False) -> list[FeedState]:
        where = "WHERE configured = 1" if configured_only else ""
        rows = self.conn.execute(f"SELECT * FROM feeds {where} ORDER BY id").fetchall()
        return [_feed_state(row) for row in rows]

    def due_feeds(self, now: datetime) -> list[FeedState]:
        rows = self.conn.execute(
            "SELECT * FROM feeds WHERE configured = 1 AND "
            "(next_poll_at IS NULL OR next_poll_at <= ?) ORDER BY next_poll_at, id",
            (iso(now),),
        ).fetchall()
        return [_feed_state(row) for row in rows]

    def next_due_at(self) -> datetime | None:
        row = self.conn.execute(
            "SELECT MIN(next_poll_at) FROM feeds WHERE configured = 1"
        ).fetchone()
        return parse_iso(row[0])

    # ---- polls -------------------------------------------------------------------

    def record_poll(
        self,
        state: FeedState,
        poll: FeedPoll,
        assess: Assessor,
        timing: Callable[[int], tuple[datetime, float]],
        now: datetime,
    ) -> PollSummary:
        """Write one feed's poll in one transaction and return what it did.

        ``timing(new_items)`` gives the next poll time and interval.
        """
        with self.transaction() as conn:
            backlog = not _has_been_polled(conn, state.id)
            tally = _Tally()
            flags: list[NewFlag] = []
            if poll.parsed is not None and poll.error is None:
                feed_title = poll.parsed.title or state.name or state.url
                for item in poll.parsed.items:
                    flags.extend(
                        self._store_item(conn, state, item, assess, tally, backlog, feed_title, now)
                    )
            next_poll_at, interval = timing(tally.new)
            moved_to = self._update_feed(conn, state, poll, next_poll_at, interval, tally, now)
            summary = _summary(state, poll, tally, flags, now, moved_to)
            self._insert_poll(conn, state.id, poll, summary)
        return summary

    def _store_item(
        self,
        conn: sqlite3.Connection,
        state: FeedState,
        item: ParsedItem,
        assess: Assessor,
        tally: _Tally,
        backlog: bool,
        feed_title: str,
        now: datetime,
    ) -> list[NewFlag]:
        seen = conn.execute(
            "SELECT item_id, content_hash FROM item_feeds WHERE feed_id = ? AND entry_key = ?",
            (state.id, item.key),
        ).fetchone()
        if seen is not None:
            return self._refresh_item(conn, state, item, seen, assess, tally, feed_title, now)
        existing = None
        if item.url:
            existing = conn.execute("SELECT id FROM items WHERE url = ?", (item.url,)).fetchone()
        if existing is not None:
            _link_item(conn, state.id, item, int(existing["id"]), now)
            return []
        item_id = self._insert_item(conn, state, item, now)
        tally.new += 1
        return self._assess(conn, item_id, item, assess, backlog, feed_title, now)

    def _refresh_item(
        self,
        conn: sqlite3.Connection,
        state: FeedState,
        item: ParsedItem,
        seen: sqlite3.Row,
        assess: Assessor,
        tally: _Tally,
        feed_title: str,
        now: datetime,
    ) -> list[NewFlag]:
        item_id = int(seen["item_id"])
        if seen["content_hash"] == item.content_hash:
            conn.execute(
                "UPDATE item_feeds SET last_seen_at = ? WHERE feed_id = ? AND entry_key = ?",
                (iso(now), state.id, item.key),
            )
            return []
        conn.execute(
            "UPDATE items SET title = ?, summary = ?, content = ?, author = ?, "
            "content_hash = ?, truncated = ?, updated_at = ?, update_count = update_count + 1 "
            "WHERE id = ?",
            (
                item.title,
                item.summary,
                item.content,
                item.author,
                item.content_hash,
                int(item.truncated),
                iso(now),
                item_id,
            ),
        )
        conn.execute(
            "UPDATE item_feeds SET last_seen_at = ?, content_hash = ? WHERE "
            "feed_id = ? AND entry_key = ?",
            (iso(now), item.content_hash, state.id, item.key),
        )
        tally.updated += 1
        return self._assess(conn, item_id, item, assess, False, feed_title, now)

    def _insert_item(
        self, conn: sqlite3.Connection, state: FeedState, item: ParsedItem, now: datetime
    ) -> int:
        tokens = stories.title_tokens(item.title)
        bands = stories.story_bands(tokens)
        item_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM items").fetchone()[0])
        story_id = _find_story(conn, tokens, bands, now) or item_id
        conn.execute(
            "INSERT INTO items (id, url, link, title, summary, content, author, language, "
            "published, published_raw, date_estimated, first_seen_at, content_hash, truncated, "
            "feed_id, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                item.url,
                item.link,
                item.title,
                item.summary,
                item.content,
                item.author,
                item.language,
                iso(item.published),
                item.published_raw,
                int(item.date_estimated),
                iso(now),
                item.content_hash,
                int(item.truncated),
                state.id,
                story_id,
            ),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO story_bands (band, item_id) VALUES (?, ?)",
            [(band, item_id) for band in bands],
        )
        _link_item(conn, state.id, item, item_id, now)
        return item_id

    def _assess(
        self,
        conn: sqlite3.Connection,
        item_id: int,
        item: ParsedItem | ItemText,
        assess: Assessor,
        backlog: bool,
        feed_title: str,
        now: datetime,
    ) -> list[NewFlag]:
        text = ItemText(item.title, item.summary, item.content, item.language)
        flags: list[NewFlag] = []
        for decision in assess(text):
            if _write_decision(conn, item_id, decision, backlog, now):
                flags.append(_new_flag(conn, item_id, decision, feed_title, backlog))
        return flags

    def _update_feed(
        self,
        conn: sqlite3.Connection,
        state: FeedState,
        poll: FeedPoll,
        next_poll_at: datetime,
        interval: float,
        tally: _Tally,
        now: datetime,
    ) -> str | None:
        fetch = poll.fetch
        values: dict[str, Any] = {
            "last_polled_at": iso(now),
            "first_polled_at": state.first_polled_at or iso(now),
            "last_status": fetch.status,
            "next_poll_at": iso(next_poll_at),
            "poll_interval_seconds": interval,
        }
        if poll.error is not None:
            values.update(_failure_values(state, poll, now))
        elif not (fetch.not_modified and state.last_error_kind in CONTENT_ERRORS):
            values.update(_success_values(state, poll, tally, now))
        if 200 <= (fetch.status or 0) < 300 or fetch.status == 304:
            values.update(_validator_values(state, poll))
        moved_to = None
        if poll.error is None and fetch.permanent_redirect:
            moved_to = _redirect_values(conn, state, fetch.permanent_redirect, values)
        assignments = ", ".join(f"{column} = ?" for column in values)
        conn.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", (*values.values(), state.id))
        return moved_to

    def _insert_poll(
        self, conn: sqlite3.Connection, feed_id: int, poll: FeedPoll, summary: PollSummary
    ) -> None:
        warnings = "\n".join(poll.parsed.warnings)[:ERROR_MAX] if poll.parsed else None
        conn.execute(
            "INSERT INTO polls (feed_id, started_at, duration_ms, status, outcome, bytes, "
            "items_seen, new_items, updated_items, new_flags, error_kind, error, warnings) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                feed_id,
                iso(poll.started_at),
                summary.duration_ms,
                summary.status,
                summary.outcome,
                len(poll.fetch.body),
                summary.items_seen,
                summary.new_items,
                summary.updated_items,
                len(summary.new_flags),
                summary.error_kind,
                summary.error,
                warnings or None,
            ),
        )

    # ---- topics --------------------------------------------------------------------

    def rescore(
        self,
        assess: Assessor,
        topics: Sequence[str],
        now: datetime,
    ) -> list[RescoreChange]:
        """Re-match every stored item; return what became flagged or stopped being."""
        changes: list[RescoreChange] = []
        with self.transaction() as conn:
            before = _flagged_set(conn, topics)
            rows = conn.execute("SELECT id, title, summary, content, language FROM items")
            for row in rows.fetchall():
                text = ItemText(row["title"], row["summary"], row["content"], row["language"])
                for decision in assess(text):
                    _write_decision(conn, int(row["id"]), decision, True, now)
            after = _flagged_set(conn, topics)
            for item_id, topic in sorted(after ^ before):
                title = conn.execute("SELECT title FROM items WHERE id = ?", (item_id,))
                changes.append(
                    RescoreChange(item_id, topic, title.fetchone()[0], (item_id, topic) in after)
                )
        return changes

    def forget_topics(self, topics: Sequence[str]) -> None:
        """Topics no longer configured keep no matches or flags."""
        marks = ",".join("?" * len(topics))
        with self.transaction() as conn:
            for table in ("matches", "assessments", "flags"):
                conn.execute(f"DELETE FROM {table} WHERE topic IN ({marks})", tuple(topics))

    def changed_topics(self, versions: dict[str, str]) -> list[str]:
        """Topics whose rule version differs from the one stored items were matched with
        (new, edited or removed topics)."""
        rows = self.conn.execute("SELECT name, rule_version FROM topics").fetchall()
        stored = {str(r[0]): str(r[1]) for r in rows}
        names = stored.keys() | versions.keys()
        return sorted(n for n in names if stored.get(n) != versions.get(n))

    def record_topics(self, topics: Sequence[tuple[str, str, str, str]], now: datetime) -> None:
        """Remember ``(name, title, path, rule_version)`` of the topics in force."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM topics")
            conn.executemany(
                "INSERT INTO topics (name, title, path, rule_version, applied_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(*topic, iso(now)) for topic in topics],
            )

    def flagged_with_reasons(
        self, topic: str | None = None, since: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Flagged stories, newest first: one row per story with its outlets and the
        reasons of its best-scoring copy."""
        clauses, params = [], []
        if topic:
            clauses.append("topic = ?")
            params.append(topic)
        if since:
            clauses.append("last_published >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.conn.execute(
            "SELECT flagged_stories.*, (SELECT flags.reasons FROM flags JOIN items "
            "ON items.id = flags.item_id WHERE items.story_id = flagged_stories.story_id "
            "AND flags.topic = flagged_stories.topic ORDER BY flags.score DESC LIMIT 1) "
            f"AS reasons FROM flagged_stories {where} LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [dict(row) for row in rows]

    def unnotified_flags(self) -> list[NewFlag]:
        rows = self.conn.execute(
            "SELECT flags.*, items.title, items.url, items.story_id, "
            "COALESCE(NULLIF(feeds.title, ''), feeds.name, feeds.url) AS feed "
            "FROM flags JOIN items ON items.id = flags.item_id "
            "LEFT JOIN feeds ON feeds.id = items.feed_id "
            "WHERE flags.notified_at IS NULL AND flags.backlog = 0 ORDER BY flags.flagged_at"
        ).fetchall()
        return [
            NewFlag(
                row["item_id"],
                row["story_id"],
                row["topic"],
                row["title"],
                row["url"],
                row["feed"],
                row["score"],
                row["reasons"],
                False,
            )
            for row in rows
        ]

    def mark_notified(self, flags: Sequence[NewFlag], now: datetime) -> None:
        """Mark these flags, and every other copy of their stories, as notified."""
        with self.transaction() as conn:
            for flag in flags:
                conn.execute(
                    "UPDATE flags SET notified_at = ? WHERE topic = ? AND notified_at IS NULL "
                    "AND item_id IN (SELECT id FROM items WHERE story_id = ?)",
                    (iso(now), flag.topic, flag.story_id),
                )

    def story_notified(self, story_id: int, topic: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM flags JOIN items ON items.id = flags.item_id WHERE items.story_id = ? "
            "AND flags.topic = ? AND flags.notified_at IS NOT NULL LIMIT 1",
            (story_id, topic),
        )
        return row.fetchone() is not None

    # ---- status --------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        tables = ("feeds", "items", "polls", "matches", "flags")
        return {
            t: int(self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables
        }

    def feed_item_counts(self) -> dict[int, int]:
        rows = self.conn.execute("SELECT feed_id, COUNT(*) FROM item_feeds GROUP BY feed_id")
        return {int(r[0]): int(r[1]) for r in rows.fetchall()}

    def latest_service_run(self) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM service_runs ORDER BY id DESC LIMIT 1").fetchone()
        return dict(row) if row else None

    def start_service_run(self, pid: int, host: str, now: datetime) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO service_runs (pid, host, started_at) VALUES (?, ?, ?)",
                (pid, host, iso(now)),
            )
        return int(cursor.lastrowid or 0)

    def record_cycle(self, run_id: int, summary: dict[str, Any], now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE service_runs SET last_cycle_at = ?, cycles = cycles + 1, "
                "last_cycle_summary = ? WHERE id = ?",
                (iso(now), json.dumps(summary), run_id),
            )

    def record_config_error(self, run_id: int, error: str | None, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE service_runs SET config_error = ?, config_error_at = ? WHERE id = ?",
                (error, iso(now) if error else None, run_id),
            )

    def stop_service_run(self, run_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE service_runs SET stopped_at = ? WHERE id = ?", (iso(now), run_id))


# ---- row helpers (pure over a connection) ------------------------------------------------


def _feed_state(row: sqlite3.Row) -> FeedState:
    return FeedState(
        id=row["id"],
        url=row["url"],
        name=row["name"],
        title=row["title"],
        configured=bool(row["configured"]),
        interval=row["interval_seconds"],
        poll_interval=row["poll_interval_seconds"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        content_hash=row["content_hash"],
        first_polled_at=row["first_polled_at"],
        last_polled_at=row["last_polled_at"],
        last_success_at=row["last_success_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        last_error_kind=row["last_error_kind"],
        failing_since=row["failing_since"],
        consecutive_failures=row["consecutive_failures"],
        next_poll_at=row["next_poll_at"],
        gone=bool(row["gone"]),
        redirect_to=row["redirect_to"],
        redirect_seen=row["redirect_seen"],
    )


def _has_been_polled(conn: sqlite3.Connection, feed_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM polls WHERE feed_id = ? AND outcome != 'error' LIMIT 1", (feed_id,)
    )
    return row.fetchone() is not None


def _link_item(
    conn: sqlite3.Connection, feed_id: int, item: ParsedItem, item_id: int, now: datetime
) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO item_feeds (feed_id, entry_key, item_id, first_seen_at, "
        "last_seen_at, content_hash) VALUES (?, ?, ?, ?, ?, ?)",
        (feed_id, item.key, item_id, iso(now), iso(now), item.content_hash),
    )


def _find_story(
    conn: sqlite3.Connection, tokens: frozenset[str], bands: tuple[str, ...], now: datetime
) -> int | None:
    if not bands:
        return None
    marks = ",".join("?" * len(bands))
    rows = conn.execute(
        f"SELECT DISTINCT items.story_id, items.title FROM story_bands "
        f"JOIN items ON items.id = story_bands.item_id WHERE story_bands.band IN ({marks}) "
        f"AND items.first_seen_at >= ? LIMIT 50",
        (*bands, iso(now - STORY_WINDOW)),
    ).fetchall()
    return stories.best_match(tokens, ((int(r[0]), str(r[1])) for r in rows))


def _write_decision(
    conn: sqlite3.Connection, item_id: int, decision: FlagDecision, backlog: bool, now: datetime
) -> bool:
    """Store one decision; return True when the item became newly flagged."""
    conn.execute("DELETE FROM matches WHERE item_id = ? AND topic = ?", (item_id, decision.topic))
    if not decision.relevant and not decision.flagged:
        conn.execute(
            "DELETE FROM assessments WHERE item_id = ? AND topic = ?", (item_id, decision.topic)
        )
        conn.execute("DELETE FROM flags WHERE item_id = ? AND topic = ?", (item_id, decision.topic))
        return False
    conn.executemany(
        "INSERT INTO matches (item_id, topic, group_name, term, matched_text, field, char_offset) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (item_id, decision.topic, m.group, m.term, m.matched, m.field, m.offset)
            for m in decision.matches
        ],
    )
    conn.execute(
        "INSERT OR REPLACE INTO assessments (item_id, topic, relevant, flagged, score, "
        "rule_version, assessed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            item_id,
            decision.topic,
            int(decision.relevant),
            int(decision.flagged),
            decision.score,
            decision.rule_version,
            iso(now),
        ),
    )
    if not decision.flagged:
        conn.execute("DELETE FROM flags WHERE item_id = ? AND topic = ?", (item_id, decision.topic))
        return False
    existed = conn.execute(
        "SELECT 1 FROM flags WHERE item_id = ? AND topic = ?", (item_id, decision.topic)
    ).fetchone()
    conn.execute(
        "INSERT INTO flags (item_id, topic, score, reasons, seed_terms, rule_version, flagged_at, "
        "backlog) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, topic) DO UPDATE SET "
        "score = excluded.score, reasons = excluded.reasons, seed_terms = excluded.seed_terms, "
        "rule_version = excluded.rule_version",
        (
            item_id,
            decision.topic,
            decision.score,
            decision.reasons,
            ", ".join(decision.seed_terms),
            decision.rule_version,
            iso(now),
            int(backlog),
        ),
    )
    return existed is None


def _new_flag(
    conn: sqlite3.Connection, item_id: int, decision: FlagDecision, feed_title: str, backlog: bool
) -> NewFlag:
    row = conn.execute("SELECT title, url, story_id FROM items WHERE id = ?", (item_id,))
    item = row.fetchone()
    return NewFlag(
        item_id,
        int(item["story_id"]),
        decision.topic,
        item["title"],
        item["url"],
        feed_title,
        decision.score,
        decision.reasons,
        backlog,
    )


def _flagged_set(conn: sqlite3.Connection, topics: Sequence[str]) -> set[tuple[int, str]]:
    rows = conn.execute("SELECT item_id, topic FROM flags").fetchall()
    return {(int(r[0]), str(r[1])) for r in rows if not topics or r[1] in topics}


def _success_values(
    state: FeedState, poll: FeedPoll, tally: _Tally, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_success_at": iso(now),
        "last_error": None,
        "last_error_kind": None,
        "failing_since": None,
        "consecutive_failures": 0,
        "gone": 0,
    }
    if poll.parsed is not None:
        values["title"] = poll.parsed.title or state.title
        values["site_url"] = poll.parsed.link
        values["last_warning"] = (
            poll.parsed.warnings[0][:ERROR_MAX] if poll.parsed.warnings else None
        )
        if poll.parsed.language:
            values["language"] = poll.parsed.language
    if tally.new:
        values["last_new_item_at"] = iso(now)
    return values


def _validator_values(state: FeedState, poll: FeedPoll) -> dict[str, Any]:
    """Validators of a body the server delivered, even one that did not parse: asking
    again conditionally is polite, and an unchanged broken body stays an error."""
    fetch = poll.fetch
    return {
        "etag": fetch.etag,
        "last_modified": fetch.last_modified,
        "content_hash": fetch.content_hash or state.content_hash,
    }


def _failure_values(state: FeedState, poll: FeedPoll, now: datetime) -> dict[str, Any]:
    return {
        "last_error": (poll.error or "")[:ERROR_MAX],
        "last_error_kind": poll.error_kind,
        "last_error_at": iso(now),
        "failing_since": state.failing_since or iso(now),
        "consecutive_failures": state.consecutive_failures + 1,
        "gone": int(poll.error_kind == "gone"),
    }


def _redirect_values(
    conn: sqlite3.Connection, state: FeedState, target: str, values: dict[str, Any]
) -> str | None:
    """Count confirmations of a permanent redirect; move the URL once confirmed."""
    seen = state.redirect_seen + 1 if state.redirect_to == target else 1
    values.update(redirect_to=target, redirect_seen=seen)
    if seen < REDIRECT_CONFIRMATIONS:
        return None
    taken = conn.execute("SELECT 1 FROM feeds WHERE url = ? AND id != ?", (target, state.id))
    if taken.fetchone() is not None:
        log.warning("redirect target already a feed url=%s target=%s", state.url, target)
        return None
    values.update(url=target, previous_url=state.url, redirect_to=None, redirect_seen=0)
    return target


def _summary(
    state: FeedState,
    poll: FeedPoll,
    tally: _Tally,
    flags: list[NewFlag],
    now: datetime,
    moved_to: str | None,
) -> PollSummary:
    if poll.error is not None:
        outcome = "error"
    elif poll.fetch.not_modified:
        outcome = "not_modified"
    else:
        outcome = "new" if tally.new or tally.updated else "unchanged"
    duration = max(0, int((now - poll.started_at).total_seconds() * 1000))
    return PollSummary(
        feed_url=state.url,
        feed_name=state.display_name,
        outcome=outcome,
        status=poll.fetch.status,
        items_seen=len(poll.parsed.items) if poll.parsed else 0,
        new_items=tally.new,
        updated_items=tally.updated,
        new_flags=tuple(flags),
        duration_ms=duration,
        error_kind=poll.error_kind,
        error=(poll.error or "")[:ERROR_MAX] or None,
        moved_to=moved_to,
    )
