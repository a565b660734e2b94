"""Story bands and search: the index batches and the story candidates of new items.

Owns ``story_bands`` and the full-text index of ``items``: both are written in
batches (``SEARCH_BATCH`` new items at a time, or at the end of a cycle), not with
each poll, and the writer's memory of what it inserted last (``_recent``: the story
and title of its newest items; ``_waiting_bands``: the bands of its items not yet
in the index), which story placement reads instead of the database. A batch may run
on a connection of its own, on another thread (``index_aside``).

Must not: place an item in a story (``decide`` and the pure ``tracker.stories`` do)
or write anything but the two indexes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from tracker import stories
from tracker.models import PollWrite, iso
from tracker.store import schema
from tracker.store.connection import StoreBase, connect, is_write_failure, transaction

log = logging.getLogger(__name__)

STORY_WINDOW = timedelta(days=7)
STORY_CANDIDATES_PER_BAND = 10  # recent items, newest first, compared per shared band
RECENT_ITEMS = 8192  # newest items whose story and title the writer keeps for story placement
# New items indexed at once, for search and in ``story_bands``: one feed's items at a
# time cost the writer twice as much for search (each commit writes a small FTS5
# segment that is soon merged again), and each feed's bands dirtied as many pages.
SEARCH_BATCH = 500

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
INSERT_BANDS = (
    "INSERT OR IGNORE INTO story_bands (band, item_id) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)"
)
_ITEM_STORIES = (
    "SELECT id, story_id, title FROM items WHERE id IN (SELECT value FROM json_each(?)) "
    "AND first_seen_at >= ?"
)

Candidates = dict[int, tuple[tuple[int, str], ...]]


class StoryIndex(StoreBase):
    """The index batches of a store, and the memory story placement reads."""

    def _open_index(self) -> None:
        # Item id -> (story id, title) of the items this store inserted last, committed:
        # a new item's story candidates are mostly these, so their rows need no read.
        # (An item deleted by hand, with foreign keys off, may still be a candidate.)
        # Ordered: the oldest leave first, in constant time (deleting a plain dict's
        # first keys leaves holes that every later ``next(iter(...))`` steps over).
        self._recent: OrderedDict[int, tuple[int, str]] = OrderedDict()
        self._unindexed = 0  # items this store inserted that are not yet searchable
        # Band -> ids of the items this store inserted, committed, whose story_bands rows
        # wait for the next batch (oldest first): story placement reads them from here.
        # Another writer (a second process) does not see them until the batch is written.
        self._waiting_bands: dict[int, list[int]] = {}
        self._caught_up = False  # whether a killed writer's items were indexed since opening
        # Held while the waiting bands are read or changed: an index batch may run on
        # another thread (``index_aside``).
        self._indexing = threading.RLock()
        self._aside: sqlite3.Connection | None = None  # the connection of those batches

    def _close_index(self) -> None:
        if self._unindexed or self._waiting_bands:
            self.index_pending()
        if self._aside is not None:
            self._aside.close()

    @property
    def index_due(self) -> bool:
        """Whether this store's new items fill an index batch (``SEARCH_BATCH``)."""
        return self._unindexed >= SEARCH_BATCH

    def index_pending(self) -> int:
        """Index the items not yet indexed, in order; return how many: their story bands
        go into ``story_bands`` and their text into the full-text index.

        Writers call it every ``SEARCH_BATCH`` new items, at the end of a cycle, when
        they close, and before their first write (items a killed writer left unindexed:
        their bands are worked out again from their titles). When the database cannot
        take the write, the items stay pending (logged).
        """
        return self._index_pending(self.conn)

    def index_aside(self) -> int:
        """``index_pending`` on a connection of its own, for a caller that runs it on
        another thread while this store's connection serves reads: the batch's
        statements run inside SQLite, without the GIL, so the caller's own thread goes
        on (fetching, parsing) meanwhile. The caller must not write through this store
        until it returns. An in-memory database has no second connection: the batch
        runs on the store's own."""
        if self.path == ":memory:":
            return self.index_pending()
        if self._aside is None:
            self._aside = connect(self.path, check_same_thread=False)
        return self._index_pending(self._aside)

    def _index_pending(self, conn: sqlite3.Connection) -> int:
        # Each statement is one step with the GIL released (rows go in as one JSON
        # array, not one step each), so a batch on another thread barely holds it.
        with self._indexing:
            if not self._waiting_bands and not conn.execute(_ANY_PENDING).fetchone()[0]:
                self._unindexed, self._caught_up = 0, True
                return 0
            try:
                indexed = self._index_batches(conn)
            except sqlite3.OperationalError as exc:
                if not is_write_failure(exc):
                    raise
                log.error("search index not updated, will retry error=%s", exc)
                return 0
            self._unindexed, self._caught_up = 0, True
            return indexed

    def _index_batches(self, conn: sqlite3.Connection) -> int:
        indexed = 0
        while True:
            with transaction(conn):
                if not indexed:
                    conn.execute(INSERT_BANDS, (json.dumps(self._band_rows(conn)),))
                added = conn.execute(_INDEX_PENDING, (SEARCH_BATCH * 10,)).rowcount
            indexed += added
            self._waiting_bands.clear()
            if added < SEARCH_BATCH * 10:
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
        for item_id, title in titles(conn, others):
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

    def _story_candidates(
        self, conn: sqlite3.Connection, bands: set[int], now: datetime
    ) -> Candidates:
        """Band -> (story id, title) of the recent items sharing it, newest first, capped.

        Two queries for a whole document: the newest items of each band, read from the
        band index alone (items are numbered in the order they are first seen, so the
        window starts at an item id) and from the waiting bands (this writer's items
        not in the index yet), then the stories and titles of those items that are not
        in ``_recent`` (this writer's newest items, whose rows need no read).
        """
        since = iso(now - STORY_WINDOW)
        first = _first_in_window(conn, since) if bands else None
        if first is None:
            return {}
        item_ids = _band_items(conn, bands, first)
        for band in bands & self._waiting_bands.keys():
            waiting = (i for i in self._waiting_bands[band] if i >= first)
            item_ids[band] = [*item_ids.get(band, ()), *waiting]
        for band, ids in item_ids.items():
            item_ids[band] = sorted(set(ids), reverse=True)[:STORY_CANDIDATES_PER_BAND]
        wanted = {i for ids in item_ids.values() for i in ids}
        known = {i: self._recent[i] for i in wanted if i in self._recent}
        known.update(_stories_of(conn, sorted(wanted - known.keys()), since))
        return {  # a list made into a tuple: a generator per band costs more
            band: tuple([known[i] for i in ids if i in known]) for band, ids in item_ids.items()
        }

    def _remember(self, write: PollWrite) -> None:
        """After a poll's commit: its new items wait for the next index batch, and the
        newest items' stories and titles stay in memory for story placement."""
        recent, waiting = self._recent, self._waiting_bands
        for update in write.updated:
            if update.item_id in recent:
                recent[update.item_id] = (recent[update.item_id][0], update.item.title)
        for new in write.inserted:
            item_id = new.item_id
            recent[item_id] = (new.story_id, new.item.title)
            for band in new.bands:
                waiting.setdefault(band, []).append(item_id)
        while len(recent) > RECENT_ITEMS:
            recent.popitem(last=False)
        self._unindexed += len(write.inserted)


def titles(conn: sqlite3.Connection, item_ids: Sequence[int]) -> list[tuple[int, str]]:
    if not item_ids:
        return []
    rows = conn.execute(
        "SELECT id, title FROM items WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(item_ids),),
    )
    return [(int(row[0]), str(row[1])) for row in rows]


def _band_items(conn: sqlite3.Connection, bands: Iterable[int], first: int) -> dict[int, list[int]]:
    """Band -> ids of its newest items from ``first`` on, from the band index."""
    item_ids: dict[int, list[int]] = {}
    rows = conn.execute(_BAND_ITEMS, (first, STORY_CANDIDATES_PER_BAND, json.dumps(sorted(bands))))
    for band, ids in rows.fetchall():
        if ids:
            item_ids[int(band)] = list(map(int, str(ids).split(",")))
    return item_ids


def _first_in_window(conn: sqlite3.Connection, since: str) -> int | None:
    """The id of the first item first seen since ``since``: items are numbered in the
    order they are first seen, so the story window starts there."""
    row = conn.execute(
        "SELECT id FROM items WHERE first_seen_at >= ? ORDER BY first_seen_at LIMIT 1", (since,)
    ).fetchone()
    return None if row is None else int(row[0])


def _stories_of(
    conn: sqlite3.Connection, item_ids: Sequence[int], since: str
) -> Mapping[int, tuple[int, str]]:
    """Item id -> (story id, title) of these items, if first seen since ``since``."""
    if not item_ids:
        return {}
    rows = conn.execute(_ITEM_STORIES, (json.dumps(item_ids), since))
    return {int(r[0]): (int(r[1]), str(r[2])) for r in rows.fetchall()}
