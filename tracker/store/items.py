"""A feed's poll written: the snapshot read before it, then one transaction.

Owns ``items``, ``item_feeds`` and ``polls``, and the ``feeds`` columns a poll
sets. ``record_poll`` reads a ``FeedSnapshot`` (what the feed's document already
has: entries, items by URL, the changed items' stories and flags, story
candidates, the next item id), hands it to the caller's plan (the decider, with
the matcher and the scheduler, run before the transaction), and applies the
``PollWrite`` the plan returns in one ``BEGIN IMMEDIATE`` transaction. If another
connection committed since the snapshot, it is read and planned again inside the
transaction. When the database refuses the write, the plan decides the failed poll
and that is recorded instead, if it still fits.

Must not: decide what to write (it applies the plan's ``PollWrite``), call the
matcher or the scheduler itself, or read the clock. It uses
``decide.compare_entries`` only to know which rows to read.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from tracker import decide
from tracker.models import (
    KEEP,
    FeedColumns,
    FeedPoll,
    FeedSnapshot,
    FeedState,
    ItemUpdate,
    KnownEntry,
    NewItem,
    PollPlan,
    PollSummary,
    PollWrite,
    StoredItem,
    iso,
)
from tracker.store.bands import StoryIndex
from tracker.store.connection import chunks, data_version, is_write_failure
from tracker.store.verdicts import apply_verdicts
from tracker.urls import redact_url

log = logging.getLogger(__name__)

_TOUCH = "UPDATE item_feeds SET last_seen_at = ? WHERE feed_id = ? AND entry_key = ?"
_UPDATE_ITEM = (
    "UPDATE items SET title = ?, summary = ?, content = ?, author = ?, "
    "content_hash = ?, truncated = ?, updated_at = ?, update_count = update_count + 1, "
    # a publisher filled in from an aggregator's copy stays when the own feed's entry changes
    "publisher = COALESCE(NULLIF(?, ''), publisher), "
    "publisher_url = COALESCE(NULLIF(?, ''), publisher_url) WHERE id = ?"
)
_FILL_PUBLISHER = (
    "UPDATE items SET publisher = ?, publisher_url = ? WHERE id = ? AND publisher = ''"
)
_UPDATE_ENTRY = (
    "UPDATE item_feeds SET last_seen_at = ?, content_hash = ? WHERE feed_id = ? AND entry_key = ?"
)
_INSERT_ITEM = (
    "INSERT INTO items (id, url, link, title, summary, content, author, language, "
    "published, published_raw, date_estimated, first_seen_at, content_hash, truncated, "
    "feed_id, story_id, publisher, publisher_url) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINK_ITEM = (
    "INSERT OR IGNORE INTO item_feeds (feed_id, entry_key, item_id, first_seen_at, "
    "last_seen_at, content_hash) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_POLL = (
    "INSERT INTO polls (feed_id, started_at, duration_ms, status, outcome, bytes, "
    "items_seen, new_items, updated_items, new_flags, error_kind, error, warnings) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CHANGED_ITEMS = "SELECT id, story_id, url FROM items WHERE id IN (SELECT value FROM json_each(?))"
_FLAGS_OF = "SELECT item_id, topic FROM flags WHERE item_id IN (SELECT value FROM json_each(?))"


class PollWriter(StoryIndex):
    """Writes feeds' polls, as their plans say."""

    def record_poll(
        self,
        state: FeedState,
        poll: FeedPoll,
        plan: PollPlan,
        now: datetime,
        *,
        index_when_due: bool = True,
    ) -> PollSummary:
        """Write one feed's poll as ``plan`` decides it; return what it did.

        When the new items fill an index batch (``index_due``), it is written here,
        unless ``index_when_due`` is off: the caller then writes it, with
        ``index_aside``, before the next write.
        """
        with self._indexing:  # not while a batch on another thread reads the waiting bands
            if not self._caught_up:
                self.index_pending()
            snapshot = self._snapshot(state, poll, now)
            write = plan(snapshot, None)
            try:
                write = self._apply(state, poll, plan, now, snapshot, write)
            except sqlite3.OperationalError as exc:
                if not is_write_failure(exc):
                    raise
                return self._record_refused(state, plan, snapshot, exc)
            self._remember(write)
        if index_when_due and self.index_due:
            self.index_pending()
        return write.summary

    def _apply(
        self,
        state: FeedState,
        poll: FeedPoll,
        plan: PollPlan,
        now: datetime,
        snapshot: FeedSnapshot,
        write: PollWrite,
    ) -> PollWrite:
        with self.transaction() as conn:
            if data_version(conn) != snapshot.version:  # another connection committed
                write = plan(self._snapshot(state, poll, now), None)
            _write_items(conn, write)
            _write_feed(conn, write)
        return write

    def _record_refused(
        self, state: FeedState, plan: PollPlan, snapshot: FeedSnapshot, exc: sqlite3.Error
    ) -> PollSummary:
        """Record a poll whose write failed as its plan decides a refused write, in a
        small transaction; when even that fails, log it and leave the feed due."""
        log.error("poll not saved feed=%s error=%s", redact_url(state.url), exc)
        write = plan(snapshot, str(exc))
        try:
            with self.transaction() as conn:
                _write_feed(conn, write)
        except sqlite3.OperationalError as again:
            log.error("poll failure not recorded feed=%s error=%s", redact_url(state.url), again)
        return write.summary

    def _snapshot(self, state: FeedState, poll: FeedPoll, now: datetime) -> FeedSnapshot:
        """What the store holds for this poll's document, read in a few queries."""
        conn = self.conn
        version = data_version(conn)  # first: a commit during the reads changes it
        items = poll.parsed.items if poll.parsed is not None and poll.error is None else ()
        entries = _known_entries(conn, state.id, [item.key for item in items])
        changes = decide.compare_entries(items, {k: e.content_hash for k, e in entries.items()})
        by_url = _item_ids_by_url(conn, [item.url for item in changes.new if item.url])
        changed_ids = [entries[item.key].item_id for item in changes.changed]
        bands = {
            band
            for item in changes.new
            if item.url not in by_url
            for band in decide.fingerprint(item, poll.analyses)[1]
        }
        target = poll.fetch.permanent_redirect
        return FeedSnapshot(
            entries=entries,
            item_ids_by_url=by_url,
            changed_items=_changed_items(conn, changed_ids),
            flags=_flags_of(conn, changed_ids),
            polled_before=bool(changes.new) and _has_been_polled(conn, state.id),
            next_item_id=_next_item_id(conn) if changes.new else 0,
            story_candidates=self._story_candidates(conn, bands, now),
            redirect_taken=bool(target) and _is_other_feed(conn, target or "", state.id),
            version=version,
        )


def _write_items(conn: sqlite3.Connection, write: PollWrite) -> None:
    """The document's entries and items, with a few batched statements."""
    now, feed_id = write.now, write.feed_id
    conn.executemany(_TOUCH, [(now, feed_id, key) for key in write.touched])
    conn.executemany(_UPDATE_ITEM, [_update_row(update, now) for update in write.updated])
    conn.executemany(
        _UPDATE_ENTRY,
        [(now, u.item.content_hash, feed_id, u.item.key) for u in write.updated],
    )
    conn.executemany(_INSERT_ITEM, [_item_row(new, feed_id, now) for new in write.inserted])
    conn.executemany(
        _LINK_ITEM,
        [(feed_id, link.key, link.item_id, now, now, link.content_hash) for link in write.links],
    )
    conn.executemany(
        _FILL_PUBLISHER,
        [(ln.publisher, ln.publisher_url, ln.item_id) for ln in write.links if ln.publisher],
    )
    apply_verdicts(conn, write.verdicts)


def _write_feed(conn: sqlite3.Connection, write: PollWrite) -> None:
    """The feed's new columns and the ``polls`` row."""
    values = _columns(write.feed)
    assignments = ", ".join(f"{column} = ?" for column in values)
    conn.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", (*values.values(), write.feed_id))
    conn.execute(_INSERT_POLL, write.poll)


def _columns(feed: FeedColumns) -> dict[str, Any]:
    values = {column.name: getattr(feed, column.name) for column in fields(feed)}
    return {name: value for name, value in values.items() if value is not KEEP}


def _update_row(update: ItemUpdate, now: str) -> tuple[Any, ...]:
    item = update.item
    return (
        item.title,
        item.summary,
        item.content,
        item.author,
        item.content_hash,
        int(item.truncated),
        now,
        item.publisher,
        item.publisher_url,
        update.item_id,
    )


def _item_row(new: NewItem, feed_id: int, now: str) -> tuple[Any, ...]:
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
        now,
        item.content_hash,
        int(item.truncated),
        feed_id,
        new.story_id,
        item.publisher,
        item.publisher_url,
    )


def _known_entries(
    conn: sqlite3.Connection, feed_id: int, keys: Sequence[str]
) -> dict[str, KnownEntry]:
    """The entries this feed already has, of these keys."""
    seen: dict[str, KnownEntry] = {}
    for chunk in chunks(keys):
        rows = conn.execute(
            "SELECT entry_key, item_id, content_hash FROM item_feeds WHERE feed_id = ? "
            f"AND entry_key IN ({','.join('?' * len(chunk))})",
            (feed_id, *chunk),
        )
        seen.update((str(r[0]), KnownEntry(int(r[1]), str(r[2]))) for r in rows.fetchall())
    return seen


def _item_ids_by_url(conn: sqlite3.Connection, urls: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(urls):
        rows = conn.execute(
            f"SELECT url, id FROM items WHERE url IN ({','.join('?' * len(chunk))})", chunk
        )
        found.update((str(r[0]), int(r[1])) for r in rows.fetchall())
    return found


def _changed_items(conn: sqlite3.Connection, item_ids: Sequence[int]) -> dict[int, StoredItem]:
    if not item_ids:
        return {}
    rows = conn.execute(_CHANGED_ITEMS, (json.dumps(item_ids),)).fetchall()
    return {int(r[0]): StoredItem(int(r[1]), r[2]) for r in rows}


def _flags_of(conn: sqlite3.Connection, item_ids: Sequence[int]) -> frozenset[tuple[int, str]]:
    if not item_ids:
        return frozenset()
    rows = conn.execute(_FLAGS_OF, (json.dumps(item_ids),)).fetchall()
    return frozenset((int(r[0]), str(r[1])) for r in rows)


def _has_been_polled(conn: sqlite3.Connection, feed_id: int) -> bool:
    """Whether a poll of this feed ever succeeded: in ``polls``, or in ``poll_days``
    once retention pruned those polls."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM polls WHERE feed_id = :feed AND outcome != 'error') "
        "OR EXISTS (SELECT 1 FROM poll_days WHERE feed_id = :feed AND polls > errors)",
        {"feed": feed_id},
    )
    return bool(row.fetchone()[0])


def _next_item_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM items").fetchone()[0])


def _is_other_feed(conn: sqlite3.Connection, url: str, feed_id: int) -> bool:
    taken = conn.execute("SELECT 1 FROM feeds WHERE url = ? AND id != ?", (url, feed_id))
    return taken.fetchone() is not None
