"""The SQLite store: the only module that talks to the database.

Owns the connection (WAL, busy timeout, immediate transactions), the migrations
from ``schema``, and every read and write tracker makes. Each feed's poll is
written in one ``BEGIN IMMEDIATE`` transaction: the feed's new state, its items,
their matches and flags, and the ``polls`` row, or none of it.

A ``Store`` belongs to the thread that opened it, with one exception: the index
batch of ``index_pending_aside`` runs on a connection of its own, on another thread,
while the store's connection keeps serving reads. No transaction is held open across
network I/O.

Must not: fetch, parse or decide whether an item is a follow-up (it is handed
an ``Assessor`` for that).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from tracker import schema, stories
from tracker.errors import StoreError
from tracker.models import (
    FeedConfig,
    FeedPoll,
    FlagDecision,
    ItemAnalysis,
    ItemText,
    ParsedItem,
)
from tracker.urls import redact_url

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
# A feed's poll dirties pages all over the indexes; checkpointing every 32 MB of WAL
# instead of SQLite's 4 MB writes each page back once for many polls, not once per few.
WAL_CHECKPOINT_PAGES = 8192
STORY_WINDOW = timedelta(days=7)
STORY_CANDIDATES = 50  # recent items compared with a new one to find its story
STORY_CANDIDATES_PER_BAND = 10  # ...of which at most this many, newest first, per shared band
RECENT_ITEMS = 8192  # newest items whose story and title the writer keeps for story placement
# New items indexed at once, for search and in ``story_bands``: one feed's items at a
# time cost the writer twice as much for search (each commit writes a small FTS5
# segment that is soon merged again), and each feed's bands dirtied as many pages.
SEARCH_BATCH = 500
UPGRADE_BATCH = 5_000  # items whose story bands an upgrade works out again at a time
SQL_BATCH = 500  # values bound in one IN (...) list
REDIRECT_CONFIRMATIONS = 2  # polls that must see the same permanent redirect before the URL moves
ERROR_MAX = 1024
# Errors in the body itself: a 304 or an unchanged body does not clear them.
CONTENT_ERRORS = frozenset(
    {"empty", "not_a_feed", "parse", "entities", "parse_timeout", "parse_crash"}
)
# The error kind of a poll the database could not take (disk full, I/O error, locked).
WRITE_ERROR = "store"
# SQLite result codes that mean the database could not take a write just now, as
# opposed to a bug in tracker's SQL: such a poll is rolled back and recorded as failed.
_WRITE_FAILURES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
    }
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


@dataclass
class _FeedWrite:
    """One feed's poll being written: what every item write needs."""

    conn: sqlite3.Connection
    state: FeedState
    assess: Assessor
    analyses: Mapping[str, ItemAnalysis]
    backlog: bool  # the feed's first poll: its flags are not alerted
    feed_title: str
    now: datetime
    tally: _Tally = field(default_factory=_Tally)
    bands: list[tuple[int, int]] = field(default_factory=list)  # (band, item id) of new items
    now_iso: str = field(init=False)  # ``now`` as stored, written on every row

    def __post_init__(self) -> None:
        self.now_iso = iso(self.now)


@dataclass(frozen=True)
class _NewItem:
    """An item about to be inserted, with its id and its story."""

    item_id: int
    item: ParsedItem
    story_id: int
    bands: tuple[int, ...]


class Store:
    """An open tracker database."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # Item id -> (story id, title) of the items this store inserted last, committed:
        # a new item's story candidates are mostly these, so their rows need no read.
        # (An item deleted by hand, with foreign keys off, may still be a candidate.)
        self._recent: dict[int, tuple[int, str]] = {}
        self._unindexed = 0  # items this store inserted that are not yet searchable
        # Band -> ids of the items this store inserted, committed, whose story_bands rows
        # wait for the next batch (oldest first): story placement reads them from here.
        # Another writer (a second process) does not see them until the batch is written.
        self._waiting_bands: dict[int, list[int]] = {}
        self._caught_up = False  # whether a killed writer's items were indexed since opening
        # Held while the waiting bands are read or changed: an index batch may run on
        # another thread (``index_pending_aside``).
        self._indexing = threading.RLock()
        self._aside: sqlite3.Connection | None = None  # the connection of those batches
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = self._connect()
            self.db = sqlite_utils.Database(self.conn)
            self.migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot use database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create database: {exc.strerror}") from None

    def _connect(self, *, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=check_same_thread,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        return conn

    def close(self) -> None:
        if self._unindexed or self._waiting_bands:
            self.index_pending()
        if self._aside is not None:
            self._aside.close()
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: a second writer waits (busy timeout)."""
        try:
            with _transaction(self.conn) as conn:
                yield conn
        except BaseException:
            self._recent.clear()  # it may hold items the rollback took back
            raise

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
                if version < schema.NUMBERED_BANDS:
                    _band_again(conn)
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

    @property
    def index_due(self) -> bool:
        """Whether this store's new items fill an index batch (``SEARCH_BATCH``)."""
        return self._unindexed >= SEARCH_BATCH

    def index_pending(self) -> int:
        """Index the items not yet indexed, in order; return how many: their story bands
        go into ``story_bands`` and their text into the full-text index.

        Writers call it every ``SEARCH_BATCH`` new items, at the end of a poll, when they
        close, and before their first write (items a killed writer left unindexed: their
        bands are worked out again from their titles). Items at most the full-text
        index's last have their bands written. When the database cannot take the write,
        the items stay pending (logged).
        """
        return self._index_pending(self.conn)

    def index_pending_aside(self) -> int:
        """``index_pending`` on a connection of its own, for a caller that runs it on
        another thread while this store's connection serves reads: the batch's
        statements run inside SQLite, without the GIL, so the caller's own thread goes
        on (fetching, parsing) meanwhile. The caller must not write through this store
        until it returns. An in-memory database has no second connection: the batch
        runs on the store's own."""
        if self.path == ":memory:":
            return self.index_pending()
        if self._aside is None:
            self._aside = self._connect(check_same_thread=False)
        return self._index_pending(self._aside)

    def _index_pending(self, conn: sqlite3.Connection) -> int:
        # Each statement is one step with the GIL released (rows go in as one JSON
        # array, not one step each), so a batch on another thread barely holds it.
        indexed = 0
        with self._indexing:
            if not self._waiting_bands and not conn.execute(_ANY_PENDING).fetchone()[0]:
                self._unindexed, self._caught_up = 0, True
                return indexed
            try:
                while True:
                    with _transaction(conn):
                        if not indexed:
                            conn.execute(_INSERT_BANDS, (json.dumps(self._band_rows(conn)),))
                        added = conn.execute(_INDEX_PENDING, (SEARCH_BATCH * 10,)).rowcount
                    indexed += added
                    self._waiting_bands.clear()
                    if added < SEARCH_BATCH * 10:
                        break
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF not in _WRITE_FAILURES:
                    raise
                log.error("search index not updated, will retry error=%s", exc)
                return indexed
            self._unindexed, self._caught_up = 0, True
            return indexed

    def _band_rows(self, conn: sqlite3.Connection) -> list[tuple[int, int]]:
        """The story_bands rows of the items not yet indexed, sorted (each page of the
        table is written once for all of them): this store's from memory, any other
        writer's worked out from their titles."""
        pending = set(json.loads(conn.execute(_PENDING_IDS).fetchone()[0]))
        rows = [
            (band, item_id)
            for band, ids in self._waiting_bands.items()
            for item_id in ids
            if item_id in pending  # not indexed by another writer, nor deleted
        ]
        others = sorted(pending - {item_id for _, item_id in rows})
        for item_id, title in _titles(conn, others):
            rows += [(band, item_id) for band in stories.story_bands(stories.title_tokens(title))]
        rows.sort()
        return rows

    def prune_story_bands(self, now: datetime) -> int:
        """Delete the story bands of items first seen before the story window; return
        how many. No new item is compared with those items again, and without them
        ``story_bands`` stays the size of one window instead of growing with the items."""
        self.index_pending()
        with self.transaction() as conn:
            first = _first_in_window(conn, iso(now - STORY_WINDOW))
            if first is None:
                first = int(
                    conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM items").fetchone()[0]
                )
            return conn.execute("DELETE FROM story_bands WHERE item_id < ?", (first,)).rowcount

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
        url = redact_url(feed.url)  # credentials stay in the config file, never in the database
        row = conn.execute(
            "SELECT id, url FROM feeds WHERE url IN (?, ?) OR previous_url = ? "
            "ORDER BY url = ? DESC",
            (url, feed.url, url, url),
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO feeds (url, name, language, configured, interval_seconds, "
                "created_at, next_poll_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
                (url, feed.name, feed.language, feed.interval, iso(now), iso(now)),
            )
            return int(cursor.lastrowid or 0)
        if row["url"] != url and row["url"] == feed.url:  # stored with credentials before
            conn.execute("UPDATE feeds SET url = ? WHERE id = ?", (url, row["id"]))
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
        """The feed with this URL, recorded (unconfigured) if it was not known.

        Like every feed URL in the database, it is stored without credentials.
        """
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO feeds (url, created_at, next_poll_at) VALUES (?, ?, ?)",
                (redact_url(url), iso(now), iso(now)),
            )
        state = self.feed(url)
        assert state is not None
        return state

    def feed(self, url: str) -> FeedState | None:
        url = redact_url(url)
        row = self.conn.execute(
            "SELECT * FROM feeds WHERE url = ? OR previous_url = ? ORDER BY url = ? DESC",
            (url, url, url),
        ).fetchone()
        return _feed_state(row) if row else None

    def feeds(self, *, configured_only: bool = False) -> list[FeedState]:
        where = "WHERE configured = 1" if configured_only else ""
        rows = self.conn.execute(f"SELECT * FROM feeds {where} ORDER BY id").fetchall()
        return [_feed_state(row) for row in rows]

    def due_feeds(self, now: datetime, horizon: float | None = None) -> list[FeedState]:
        """Configured feeds whose next poll has come.

        With ``horizon`` (the furthest ahead, in seconds, that a poll is ever scheduled),
        a feed scheduled beyond ``now + horizon`` is due too: the clock went back since.
        """
        beyond = iso(now + timedelta(seconds=horizon)) if horizon is not None else "9999"
        rows = self.conn.execute(
            "SELECT * FROM feeds WHERE configured = 1 AND (next_poll_at IS NULL OR "
            "next_poll_at <= ? OR next_poll_at > ?) ORDER BY next_poll_at, id",
            (iso(now), beyond),
        ).fetchall()
        return [_feed_state(row) for row in rows]

    def next_due_at(self) -> datetime | None:
        row = self.conn.execute(
            "SELECT MIN(next_poll_at) FROM feeds WHERE configured = 1"
        ).fetchone()
        return parse_iso(row[0])

    # ---- polls -------------------------------------------------------------------

    def last_document_entries(self, feed_id: int) -> dict[str, str]:
        """Entry key -> content hash of the items in the feed's last parsed document."""
        rows = self.conn.execute(
            "SELECT entry_key, content_hash FROM item_feeds WHERE feed_id = ? AND "
            "last_seen_at = (SELECT MAX(last_seen_at) FROM item_feeds WHERE feed_id = ?)",
            (feed_id, feed_id),
        )
        return {str(row[0]): str(row[1]) for row in rows.fetchall()}

    def record_poll(
        self,
        state: FeedState,
        poll: FeedPoll,
        assess: Assessor,
        timing: Callable[[int], tuple[datetime, float]],
        now: datetime,
        *,
        index_when_due: bool = True,
    ) -> PollSummary:
        """Write one feed's poll in one transaction and return what it did.

        ``timing(new_items)`` gives the next poll time and interval. When the database
        cannot take the write (disk full, I/O error, locked too long), the poll is rolled
        back whole and recorded on the feed as a ``store`` error, if that still fits.
        When the new items fill an index batch (``index_due``), it is written here,
        unless ``index_when_due`` is off: the caller then writes it, with
        ``index_pending_aside``, before the next write.
        """
        with self._indexing:  # not while a batch on another thread reads the waiting bands
            if not self._caught_up:
                self.index_pending()
            try:
                summary, bands = self._write_poll(state, poll, assess, timing, now)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF not in _WRITE_FAILURES:
                    raise
                return self._record_unwritten_poll(state, poll, timing, now, exc)
            for band, item_id in bands:
                self._waiting_bands.setdefault(band, []).append(item_id)
            self._unindexed += summary.new_items
        if index_when_due and self.index_due:
            self.index_pending()
        return summary

    def _write_poll(
        self,
        state: FeedState,
        poll: FeedPoll,
        assess: Assessor,
        timing: Callable[[int], tuple[datetime, float]],
        now: datetime,
    ) -> tuple[PollSummary, list[tuple[int, int]]]:
        """The poll's summary, and the story bands of its new items, to be indexed."""
        with self.transaction() as conn:
            write = _FeedWrite(
                conn,
                state,
                assess,
                poll.analyses,
                backlog=not _has_been_polled(conn, state.id),
                feed_title=(poll.parsed.title if poll.parsed else "") or state.name or state.url,
                now=now,
            )
            tally = write.tally
            flags: list[NewFlag] = []
            if poll.parsed is not None and poll.error is None:
                flags = self._store_items(write, poll.parsed.items)
            next_poll_at, interval = timing(tally.new)
            moved_to = self._update_feed(conn, state, poll, next_poll_at, interval, tally, now)
            summary = _summary(state, poll, tally, flags, now, moved_to)
            self._insert_poll(conn, state.id, poll, summary)
        return summary, write.bands

    def _record_unwritten_poll(
        self,
        state: FeedState,
        poll: FeedPoll,
        timing: Callable[[int], tuple[datetime, float]],
        now: datetime,
        exc: sqlite3.Error,
    ) -> PollSummary:
        """Record a poll whose write failed as a ``store`` error in a small transaction;
        when even that fails, log it and leave the feed due, to be polled again."""
        message = f"poll not saved, the database refused the write: {exc}"[:ERROR_MAX]
        failed = replace(poll, parsed=None, error_kind=WRITE_ERROR, error=message)
        summary = _summary(state, failed, _Tally(), [], now, None)
        log.error("poll not saved feed=%s error=%s", redact_url(state.url), exc)
        try:
            with self.transaction() as conn:
                next_poll_at, interval = timing(0)
                self._update_feed(conn, state, failed, next_poll_at, interval, _Tally(), now)
                self._insert_poll(conn, state.id, failed, summary)
        except sqlite3.OperationalError as again:
            log.error("poll failure not recorded feed=%s error=%s", redact_url(state.url), again)
        return summary

    def _store_items(self, write: _FeedWrite, items: Sequence[ParsedItem]) -> list[NewFlag]:
        """Write a document's items with a few batched statements: unchanged items only
        have their last-seen time touched, changed ones are updated and re-assessed,
        new ones are inserted (or linked to the item another feed stored for their URL)."""
        seen = _seen_entries(write.conn, write.state.id, [item.key for item in items])
        unchanged = [i for i in items if i.key in seen and seen[i.key][1] == i.content_hash]
        write.conn.executemany(
            "UPDATE item_feeds SET last_seen_at = ? WHERE feed_id = ? AND entry_key = ?",
            [(write.now_iso, write.state.id, item.key) for item in unchanged],
        )
        flags: list[NewFlag] = []
        for item in items:
            if item.key in seen and seen[item.key][1] != item.content_hash:
                flags += self._refresh_item(write, item, seen[item.key][0])
        fresh = [item for item in items if item.key not in seen]
        return flags + self._insert_items(write, fresh)

    def _refresh_item(self, write: _FeedWrite, item: ParsedItem, item_id: int) -> list[NewFlag]:
        now = write.now_iso
        write.conn.execute(
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
                now,
                item_id,
            ),
        )
        write.conn.execute(
            "UPDATE item_feeds SET last_seen_at = ?, content_hash = ? WHERE "
            "feed_id = ? AND entry_key = ?",
            (now, item.content_hash, write.state.id, item.key),
        )
        if item_id in self._recent:
            self._recent[item_id] = (self._recent[item_id][0], item.title)
        write.tally.updated += 1
        return self._assess(write, item_id, item, backlog=False, fresh=False)

    def _insert_items(self, write: _FeedWrite, fresh: Sequence[ParsedItem]) -> list[NewFlag]:
        """Insert the entries this feed never had: as new items, or as links to the item
        already stored for their URL (from another feed, or earlier in this document)."""
        if not fresh:
            return []
        conn = write.conn
        known_urls = _item_ids_by_url(conn, [item.url for item in fresh if item.url])
        next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM items").fetchone()[0])
        links: list[tuple[ParsedItem, int]] = []
        new: list[tuple[int, ParsedItem]] = []
        for item in fresh:
            linked = known_urls.get(item.url) if item.url else None
            if linked is not None:
                links.append((item, linked))
                continue
            new.append((next_id, item))
            if item.url:
                known_urls[item.url] = next_id
            next_id += 1
        placed = self._place_in_stories(write, new)
        conn.executemany(_INSERT_ITEM, [_item_row(write, row) for row in placed])
        write.bands += [(band, row.item_id) for row in placed for band in row.bands]
        links += [(item, item_id) for item_id, item in new]
        conn.executemany(_LINK_ITEM, [_link_row(write, item, item_id) for item, item_id in links])
        write.tally.new += len(new)
        flags: list[NewFlag] = []
        for item_id, item in new:
            flags += self._assess(write, item_id, item, backlog=write.backlog, fresh=True)
        return flags

    def _place_in_stories(
        self, write: _FeedWrite, new: Sequence[tuple[int, ParsedItem]]
    ) -> list[_NewItem]:
        """Each new item with its story: the closest recent copy's, else its own."""
        fingerprints = [(item_id, item, *_fingerprint(write, item)) for item_id, item in new]
        bands = {band for *_, item_bands in fingerprints for band in item_bands}
        stored = _story_candidates(write.conn, bands, write.now, self._recent, self._waiting_bands)
        this_poll: dict[int, list[tuple[int, str]]] = {}
        placed = []
        for item_id, item, tokens, item_bands in fingerprints:
            candidates = _candidates(item_bands, this_poll, stored)
            story_id = (stories.best_match(tokens, candidates) if candidates else None) or item_id
            for band in item_bands:
                this_poll.setdefault(band, []).append((story_id, item.title))
            placed.append(_NewItem(item_id, item, story_id, item_bands))
            self._recent[item_id] = (story_id, item.title)
        while len(self._recent) > RECENT_ITEMS:
            del self._recent[next(iter(self._recent))]
        return placed

    def _assess(
        self, write: _FeedWrite, item_id: int, item: ParsedItem, *, backlog: bool, fresh: bool
    ) -> list[NewFlag]:
        """Store the item's verdicts (worked out by the parser worker when it could)."""
        analysis = write.analyses.get(item.key)
        decisions: Sequence[FlagDecision] | None = analysis.decisions if analysis else None
        if decisions is None:
            text = ItemText(item.title, item.summary, item.content, item.language)
            decisions = write.assess(text)
        flags: list[NewFlag] = []
        for decision in decisions:
            if _write_decision(write.conn, item_id, decision, backlog, write.now, fresh=fresh):
                flags.append(_new_flag(write.conn, item_id, decision, write.feed_title, backlog))
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
        # A body that was never saved must be fetched whole again: keep the old validators.
        if (200 <= (fetch.status or 0) < 300 or fetch.status == 304) and (
            poll.error_kind != WRITE_ERROR
        ):
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
            "COALESCE(NULLIF(feeds.title, ''), NULLIF(feeds.name, ''), feeds.url) AS feed "
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


_INSERT_ITEM = (
    "INSERT INTO items (id, url, link, title, summary, content, author, language, "
    "published, published_raw, date_estimated, first_seen_at, content_hash, truncated, "
    "feed_id, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINK_ITEM = (
    "INSERT OR IGNORE INTO item_feeds (feed_id, entry_key, item_id, first_seen_at, "
    "last_seen_at, content_hash) VALUES (?, ?, ?, ?, ?, ?)"
)


def _item_row(write: _FeedWrite, new: _NewItem) -> tuple[Any, ...]:
    item = new.item
    return (
        new.item_id,
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
        write.now_iso,
        item.content_hash,
        int(item.truncated),
        write.state.id,
        new.story_id,
    )


def _link_row(write: _FeedWrite, item: ParsedItem, item_id: int) -> tuple[Any, ...]:
    now = write.now_iso
    return (write.state.id, item.key, item_id, now, now, item.content_hash)


# The newest items of each band, read from the band index alone. The bands come as
# one JSON array, so the statement's text never changes and SQLite prepares it once
# (a compound query per document was compiled anew for every feed).
_BAND_ITEMS = """
    SELECT bands.value, (
        SELECT group_concat(item_id) FROM (
            SELECT item_id FROM story_bands WHERE band = bands.value AND item_id >= ?
            ORDER BY item_id DESC LIMIT ?))
    FROM json_each(?) AS bands"""
_INDEX_PENDING = (
    "INSERT INTO items_fts (rowid, title, summary, content) "
    "SELECT id, title, summary, content FROM items "
    f"WHERE id > {schema.FTS_INDEXED_THROUGH} ORDER BY id LIMIT ?"
)
_ANY_PENDING = f"SELECT EXISTS (SELECT 1 FROM items WHERE id > {schema.FTS_INDEXED_THROUGH})"
_PENDING_IDS = f"SELECT json_group_array(id) FROM items WHERE id > {schema.FTS_INDEXED_THROUGH}"
_INSERT_BANDS = (
    "INSERT OR IGNORE INTO story_bands (band, item_id) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)"
)
_ITEM_STORIES = (
    "SELECT id, story_id, title FROM items WHERE id IN (SELECT value FROM json_each(?)) "
    "AND first_seen_at >= ?"
)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite rolls back by itself on some errors (disk full)
            conn.execute("ROLLBACK")
        raise


def _chunks(values: Sequence[str], size: int = SQL_BATCH) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _seen_entries(
    conn: sqlite3.Connection, feed_id: int, keys: Sequence[str]
) -> dict[str, tuple[int, str]]:
    """Entry key -> (item id, content hash) of the keys this feed already has."""
    seen: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(keys):
        rows = conn.execute(
            "SELECT entry_key, item_id, content_hash FROM item_feeds WHERE feed_id = ? "
            f"AND entry_key IN ({','.join('?' * len(chunk))})",
            (feed_id, *chunk),
        )
        seen.update((str(r[0]), (int(r[1]), str(r[2]))) for r in rows.fetchall())
    return seen


def _item_ids_by_url(conn: sqlite3.Connection, urls: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(urls):
        rows = conn.execute(
            f"SELECT url, id FROM items WHERE url IN ({','.join('?' * len(chunk))})", chunk
        )
        found.update((str(r[0]), int(r[1])) for r in rows.fetchall())
    return found


def _fingerprint(write: _FeedWrite, item: ParsedItem) -> tuple[frozenset[str], tuple[int, ...]]:
    """The item's title tokens and story bands, as the parser worker found them."""
    analysis = write.analyses.get(item.key)
    if analysis is not None:
        return analysis.title_tokens, analysis.story_bands
    tokens = stories.title_tokens(item.title)
    return tokens, stories.story_bands(tokens)


def _story_candidates(
    conn: sqlite3.Connection,
    bands: set[int],
    now: datetime,
    recent: Mapping[int, tuple[int, str]],
    waiting: Mapping[int, list[int]],
) -> dict[int, list[tuple[int, str]]]:
    """Band -> (story id, title) of the recent items sharing it, newest first, capped.

    Two queries for a whole document: the newest items of each band, read from the
    band index alone (items are numbered in the order they are first seen, so the
    window starts at an item id) and from ``waiting`` (the writer's items whose bands
    are not in the index yet), then the stories and titles of those items that are
    not in ``recent`` (the writer's newest items, whose rows need no read).
    """
    since = iso(now - STORY_WINDOW)
    first = _first_in_window(conn, since)
    if not bands or first is None:
        return {}
    item_ids: dict[int, list[int]] = {}
    rows = conn.execute(_BAND_ITEMS, (first, STORY_CANDIDATES_PER_BAND, json.dumps(sorted(bands))))
    for band, ids in rows.fetchall():
        if ids:
            item_ids[int(band)] = list(map(int, str(ids).split(",")))
    for band in bands & waiting.keys():
        item_ids[band] = [*item_ids.get(band, ()), *(i for i in waiting[band] if i >= first)]
    for band, ids in item_ids.items():
        item_ids[band] = sorted(set(ids), reverse=True)[:STORY_CANDIDATES_PER_BAND]
    wanted = {i for ids in item_ids.values() for i in ids}
    known = {i: recent[i] for i in wanted if i in recent}
    known.update(_stories_of(conn, sorted(wanted - known.keys()), since))
    return {band: [known[i] for i in ids if i in known] for band, ids in item_ids.items()}


def _band_again(conn: sqlite3.Connection) -> None:
    """Migration 4: the story bands of the items that had some, worked out again from
    their titles (the bands of earlier versions were text digests), a batch of items
    at a time so that a big table never sits in memory whole."""
    old = schema.TEXT_BANDS_TABLE
    item_ids = [row[0] for row in conn.execute(f"SELECT DISTINCT item_id FROM {old} ORDER BY 1")]
    for start in range(0, len(item_ids), UPGRADE_BATCH):
        rows = [
            (band, item_id)
            for item_id, title in _titles(conn, item_ids[start : start + UPGRADE_BATCH])
            for band in stories.story_bands(stories.title_tokens(title))
        ]
        conn.execute(_INSERT_BANDS, (json.dumps(sorted(rows)),))
    conn.execute(f"DROP TABLE {old}")


def _titles(conn: sqlite3.Connection, item_ids: Sequence[int]) -> list[tuple[int, str]]:
    if not item_ids:
        return []
    rows = conn.execute(
        "SELECT id, title FROM items WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(item_ids),),
    )
    return [(int(row[0]), str(row[1])) for row in rows]


def _first_in_window(conn: sqlite3.Connection, since: str) -> int | None:
    """The id of the first item first seen since ``since``: items are numbered in the
    order they are first seen, so the story window starts there."""
    row = conn.execute(
        "SELECT id FROM items WHERE first_seen_at >= ? ORDER BY first_seen_at LIMIT 1", (since,)
    ).fetchone()
    return None if row is None else int(row[0])


def _stories_of(
    conn: sqlite3.Connection, item_ids: Sequence[int], since: str
) -> dict[int, tuple[int, str]]:
    """Item id -> (story id, title) of these items, if first seen since ``since``."""
    if not item_ids:
        return {}
    rows = conn.execute(_ITEM_STORIES, (json.dumps(item_ids), since))
    return {int(r[0]): (int(r[1]), str(r[2])) for r in rows.fetchall()}


def _candidates(
    bands: Sequence[int], *sources: Mapping[int, list[tuple[int, str]]]
) -> list[tuple[int, str]]:
    """Distinct (story id, title) pairs sharing a band, at most STORY_CANDIDATES."""
    found = dict.fromkeys(
        candidate for source in sources for band in bands for candidate in source.get(band, ())
    )
    return list(found)[:STORY_CANDIDATES]


def _write_decision(
    conn: sqlite3.Connection,
    item_id: int,
    decision: FlagDecision,
    backlog: bool,
    now: datetime,
    *,
    fresh: bool = False,
) -> bool:
    """Store one decision; return True when the item became newly flagged.

    A ``fresh`` item was inserted just now, so it has no earlier verdict to replace.
    """
    if not fresh:
        _forget_decision(conn, item_id, decision.topic, matches=True)
    if not decision.relevant and not decision.flagged:
        if not fresh:
            _forget_decision(conn, item_id, decision.topic, assessments=True, flags=True)
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
        if not fresh:
            _forget_decision(conn, item_id, decision.topic, flags=True)
        return False
    existed = (
        not fresh
        and conn.execute(
            "SELECT 1 FROM flags WHERE item_id = ? AND topic = ?", (item_id, decision.topic)
        ).fetchone()
    )
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
    return not existed


def _forget_decision(
    conn: sqlite3.Connection,
    item_id: int,
    topic: str,
    *,
    matches: bool = False,
    assessments: bool = False,
    flags: bool = False,
) -> None:
    chosen = {"matches": matches, "assessments": assessments, "flags": flags}
    for table in (name for name, on in chosen.items() if on):
        conn.execute(f"DELETE FROM {table} WHERE item_id = ? AND topic = ?", (item_id, topic))


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
    if redact_url(target) != target:  # a URL with credentials never goes in the database
        return None
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
