"""Retention in the database: old polls summarised and deleted, unneeded items deleted,
space given back.

Owns ``poll_days`` and the deletion of ``polls`` and ``items`` rows, with each
deleted item's ``item_feeds``, ``story_bands``, not-relevant ``assessments`` and
full-text rows (the ``items_fts_delete`` trigger takes the item's text out of the
index as the row goes, so search stays consistent). A prune works as a ``PrunePlan``
says, in small batches, each in its own short immediate transaction: a poll waits
for one batch at most, and a prune killed midway leaves whole batches done or not
done; the next one goes on where it stopped. A dry run reads the very same batches
and counts what they would delete.

The search index: FTS5 takes a deleted item's words out of ``items_fts`` only when it
merges the segment that holds them with the one that holds the delete marker, which
its automerge does late for the big old segments (a year's run kept 1.6 KB of index an
item against 0.43 KB without deletions). So a prune with merge steps in its plan then
merges the whole index, ``MERGE_PAGES`` at a time, each step its own short
transaction, until nothing is left to merge or the plan's steps are spent; a merge
that is cut short goes on at the next prune. ``vacuum`` runs FTS5's ``optimize`` (the
whole merge at once) before it rewrites the file.

Space: the pages a prune frees are reused by the next writes, so a database under
retention stops growing; ``vacuum`` (``tracker vacuum``) gives them back to the file
system. Incremental auto-vacuum was measured and not kept: its pointer-map pages cost
the all-new poll about a fifth of its speed. A database that has it (set by hand) still
gets its free pages back after each prune.

Must not: decide the cut-off times (``tracker.retention`` does), or delete an item
``ITEM_KEPT`` keeps.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tracker import stories
from tracker.errors import StoreError
from tracker.models import iso
from tracker.retention import PrunePlan, PruneReport
from tracker.store.bands import StoryIndex, titles
from tracker.store.schema import FTS_TABLE

POLL_BATCH = 500  # polls rows summarised and deleted per transaction
ITEM_BATCH = 100  # items deleted per transaction, with their rows elsewhere
# Between two write batches: SQLite's lock is not fair, and a writer that waits (a poll
# of another process) sleeps in its busy handler; without a pause the prune takes the
# lock again first, batch after batch (a poll waited 3.7 s beside 1.1 s batches).
BATCH_PAUSE = 0.05  # seconds
VACUUM_PAGES = 512  # pages given back per transaction (2 MiB of 4 KiB pages)
# Index pages an FTS5 'merge' step writes (about 4 KB each): the step's time holding
# the write lock grows with it (benchmarks/fts_prunes.py measures it).
MERGE_PAGES = 256
INCREMENTAL = 2  # PRAGMA auto_vacuum

# An item is kept, whatever its age, when any of these holds. When a table of reviews
# exists, "reviewed" is one more clause here.
ITEM_KEPT: tuple[str, ...] = (
    "EXISTS (SELECT 1 FROM flags WHERE flags.item_id = items.id)",
    "EXISTS (SELECT 1 FROM assessments "
    "WHERE assessments.item_id = items.id AND assessments.relevant)",
    "EXISTS (SELECT 1 FROM matches WHERE matches.item_id = items.id)",
    # Reviewed by an analyst (the desk, ``tracker review``): what they said is kept.
    "EXISTS (SELECT 1 FROM reviews WHERE reviews.item_id = items.id)",
    # The first copy of a story that later copies still name as theirs.
    "EXISTS (SELECT 1 FROM items AS later "
    "WHERE later.story_id = items.id AND later.id != items.id)",
    # Still in a feed's document: deleted, it would come back as a new item.
    "EXISTS (SELECT 1 FROM item_feeds "
    "WHERE item_feeds.item_id = items.id AND item_feeds.last_seen_at >= :before)",
)
PRUNABLE_ITEM = f"items.first_seen_at < :before AND NOT ({' OR '.join(ITEM_KEPT)})"

# Between two ids, so a batch never reads the items after the last old one.
_ITEM_BATCH = (
    "SELECT id FROM items WHERE id > :after AND id <= :last "
    f"AND {PRUNABLE_ITEM} ORDER BY id LIMIT :limit"
)
_LAST_OLD_ITEM = "SELECT COALESCE(MAX(id), 0) FROM items WHERE first_seen_at < ?"
_STILL_PRUNABLE = (
    f"SELECT id FROM items WHERE id IN (SELECT value FROM json_each(:ids)) AND {PRUNABLE_ITEM}"
)
_IDS = "(SELECT value FROM json_each(?))"
_BANDS = (
    "SELECT json_extract(value, '$[0]') AS band, json_extract(value, '$[1]') AS item_id "
    "FROM json_each(?)"
)
_POLL_BATCH = (
    "SELECT id FROM polls WHERE started_at < ? AND (started_at, id) > (?, ?) "
    "ORDER BY started_at, id LIMIT ?"
)
_POLL_DAYS = f"""
    INSERT INTO poll_days (feed_id, day, polls, errors, not_modified, new_items,
                           updated_items, new_flags, bytes, duration_ms)
    SELECT feed_id, substr(started_at, 1, 10), COUNT(*), SUM(outcome = 'error'),
           SUM(outcome = 'not_modified'), SUM(new_items), SUM(updated_items),
           SUM(new_flags), SUM(bytes), SUM(duration_ms)
    FROM polls WHERE id IN {_IDS} GROUP BY 1, 2
    ON CONFLICT (feed_id, day) DO UPDATE SET
        polls = polls + excluded.polls, errors = errors + excluded.errors,
        not_modified = not_modified + excluded.not_modified,
        new_items = new_items + excluded.new_items,
        updated_items = updated_items + excluded.updated_items,
        new_flags = new_flags + excluded.new_flags, bytes = bytes + excluded.bytes,
        duration_ms = duration_ms + excluded.duration_ms"""
_FEED_DAYS = (
    "SELECT COUNT(*) FROM (SELECT DISTINCT feed_id, substr(started_at, 1, 10) "
    "FROM polls WHERE started_at < ?)"
)


class Pruning(StoryIndex):
    """Retention: a store's prune and vacuum."""

    def prune(
        self, plan: PrunePlan, *, dry_run: bool = False, max_batches: int | None = None
    ) -> PruneReport:
        """Delete what ``plan`` says, a batch at a time (or, with ``dry_run``, count it
        without writing); stop after ``max_batches`` transactions, unfinished."""
        budget = _Budget(max_batches, 0.0 if dry_run else BATCH_PAUSE)
        report = PruneReport()
        if not dry_run:
            self.index_pending()  # an item is deleted from the index only once in it
        if plan.polls_before is not None:
            if max_batches is None:  # a whole prune says how many feed-days it summarises
                report = PruneReport(poll_days=self._feed_days(iso(plan.polls_before)))
            report = report.plus(self._prune_polls(iso(plan.polls_before), dry_run, budget))
        # Each step runs even with no budget left, to say it is unfinished.
        if plan.items_before is not None:
            report = report.plus(self._prune_items(iso(plan.items_before), dry_run, budget))
        if not dry_run:
            report = report.plus(self._merge_search_index(plan, budget))
            report = report.plus(self._give_back_space(budget))
        return report

    def _prune_polls(self, before: str, dry_run: bool, budget: _Budget) -> PruneReport:
        report, last = PruneReport(), ("", 0)
        while budget.take():
            ids = self._poll_batch(before, ("", 0) if not dry_run else last)
            if not ids:
                return report
            last = (self._poll_started(ids[-1]), ids[-1])
            count = PruneReport(polls=len(ids), batches=1) if dry_run else self._delete_polls(ids)
            report = report.plus(count)
        return _unfinished(report)

    def _poll_batch(self, before: str, last: tuple[str, int]) -> list[int]:
        rows = self.conn.execute(_POLL_BATCH, (before, *last, POLL_BATCH)).fetchall()
        return [int(row[0]) for row in rows]

    def _poll_started(self, poll_id: int) -> str:
        row = self.conn.execute("SELECT started_at FROM polls WHERE id = ?", (poll_id,))
        return str(row.fetchone()[0])

    def _delete_polls(self, ids: list[int]) -> PruneReport:
        """Summarise the polls into ``poll_days`` and delete them, in one transaction."""
        batch = json.dumps(ids)
        with self.transaction() as conn:
            conn.execute(_POLL_DAYS, (batch,))
            deleted = conn.execute(f"DELETE FROM polls WHERE id IN {_IDS}", (batch,)).rowcount
        return PruneReport(polls=deleted, batches=1)

    def _feed_days(self, before: str) -> int:
        """The (feed, UTC day) pairs of the polls before ``before``: read, no lock."""
        return int(self.conn.execute(_FEED_DAYS, (before,)).fetchone()[0])

    def _prune_items(self, before: str, dry_run: bool, budget: _Budget) -> PruneReport:
        report, after = PruneReport(), 0
        last = int(self.conn.execute(_LAST_OLD_ITEM, (before,)).fetchone()[0])
        while budget.take():
            rows = self.conn.execute(
                _ITEM_BATCH, {"after": after, "last": last, "before": before, "limit": ITEM_BATCH}
            ).fetchall()
            ids = [int(row[0]) for row in rows]
            if not ids:
                return report
            after = ids[-1]
            count = _count_items(self.conn, ids) if dry_run else self._delete_items(ids, before)
            report = report.plus(count)
        return _unfinished(report)

    def _delete_items(self, candidates: list[int], before: str) -> PruneReport:
        """Delete the items still prunable inside the transaction (a poll may have
        flagged one since the batch was read), with their rows elsewhere."""
        with _without_foreign_keys(self.conn), self.transaction() as conn:
            rows = conn.execute(
                _STILL_PRUNABLE, {"ids": json.dumps(candidates), "before": before}
            ).fetchall()
            ids = [int(row[0]) for row in rows]
            report = _count_items(conn, ids)
            batch = json.dumps(ids)
            conn.execute(_DELETE_BANDS, (json.dumps(_band_rows(conn, ids)),))
            conn.execute(f"DELETE FROM item_feeds WHERE item_id IN {_IDS}", (batch,))
            conn.execute(f"DELETE FROM assessments WHERE item_id IN {_IDS}", (batch,))
            conn.execute(f"DELETE FROM item_entities WHERE item_id IN {_IDS}", (batch,))
            conn.execute(f"DELETE FROM items WHERE id IN {_IDS}", (batch,))
        return report

    def _merge_search_index(self, plan: PrunePlan, budget: _Budget) -> PruneReport:
        """Go on with a merge of the search index under way, else (once a day, as the
        plan says) begin one of the whole index; a step at a time until FTS5 has
        nothing left to merge or the plan's steps are spent. A step that merged
        nothing is not counted and costs no budget."""
        steps, started, pages = 0, 0, MERGE_PAGES
        while steps < plan.merge_steps:
            if not budget.take():
                return _unfinished(PruneReport(merge_steps=steps, merges_started=started))
            if self._merge_step(pages):
                steps, started = steps + 1, started + (pages < 0)
                pages = MERGE_PAGES  # a merge under way goes on with positive steps
                continue
            budget.refund()
            if pages < 0 or started or not plan.merge_start:
                break  # nothing (more) to merge
            pages = -MERGE_PAGES  # every segment to one level, then merge them
        return PruneReport(merge_steps=steps, merges_started=started)

    def _merge_step(self, pages: int) -> bool:
        """One FTS5 'merge' of about ``abs(pages)`` pages in its own transaction; whether
        it merged anything (FTS5's documented test: two or more changes)."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.execute(
                f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('merge', ?)", (pages,)
            )
            return conn.total_changes - before >= 2

    def _give_back_space(self, budget: _Budget) -> PruneReport:
        """With incremental auto-vacuum, return the free pages to the file system in
        steps of ``VACUUM_PAGES``, each its own short write."""
        if self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
            return PruneReport()
        freed = 0
        while (free := _free_pages(self.conn)) and budget.take():
            self.conn.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
            freed += free - _free_pages(self.conn)
        return PruneReport(pages_freed=freed, finished=not _free_pages(self.conn))

    def vacuum(self) -> tuple[int, int]:
        """Merge the search index whole (FTS5 'optimize'), then rewrite the database
        without its free pages; return its size in bytes before and after. Needs free
        disk of the database's size; writers wait while it runs."""
        size = _size(self.path)
        free = shutil.disk_usage(Path(self.path).resolve().parent).free
        if free < size:
            raise StoreError(
                f"{self.path}: vacuum needs {size // 2**20} MiB free beside the "
                f"database, there are {free // 2**20} MiB"
            )
        try:
            self.conn.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('optimize')")
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: vacuum failed: {exc}") from None
        return size, _size(self.path)


_DELETE_BANDS = f"DELETE FROM story_bands WHERE (band, item_id) IN ({_BANDS})"


@contextmanager
def _without_foreign_keys(conn: sqlite3.Connection) -> Iterator[None]:
    """Foreign keys off for an item batch: deleting an item makes SQLite look in every
    table that points to items, and ``story_bands`` has no index by item (its key is the
    band), so each item cost a scan of the whole table (a second or more per batch
    beside a week of bands). The batch deletes the items' rows there itself, and the
    rule, checked inside the transaction, leaves them none in ``flags`` or ``matches``."""
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: this is before
    try:
        yield
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


class _Budget:
    """The transactions a prune may still take (None: no limit)."""

    def __init__(self, batches: int | None, pause: float) -> None:
        self.batches = batches
        self.pause = pause  # seconds before each batch but the first
        self.taken = 0

    @property
    def left(self) -> bool:
        return self.batches is None or self.batches > 0

    def take(self) -> bool:
        if not self.left:
            return False
        if self.batches is not None:
            self.batches -= 1
        if self.taken and self.pause:
            time.sleep(self.pause)  # lets a waiting writer take the lock
        self.taken += 1
        return True

    def refund(self) -> None:
        """Give back the last batch taken: it wrote nothing."""
        if self.batches is not None:
            self.batches += 1


def _unfinished(report: PruneReport) -> PruneReport:
    return report.plus(PruneReport(finished=False))


def _count_items(conn: sqlite3.Connection, ids: Sequence[int]) -> PruneReport:
    """What deleting these items takes with them, counted before it does."""
    batch = json.dumps(list(ids))

    def count(sql: str, *params: str) -> int:
        return int(conn.execute(sql, params).fetchone()[0])

    return PruneReport(
        items=len(ids),
        item_feeds=count(f"SELECT COUNT(*) FROM item_feeds WHERE item_id IN {_IDS}", batch),
        story_bands=count(
            f"SELECT COUNT(*) FROM story_bands WHERE (band, item_id) IN ({_BANDS})",
            json.dumps(_band_rows(conn, ids)),
        ),
        search_rows=count(f"SELECT COUNT(*) FROM items_fts_docsize WHERE id IN {_IDS}", batch),
        assessments=count(f"SELECT COUNT(*) FROM assessments WHERE item_id IN {_IDS}", batch),
        batches=1,
    )


def _band_rows(conn: sqlite3.Connection, ids: Sequence[int]) -> list[tuple[int, int]]:
    """The story-band rows these items can have: their bands are a function of their
    titles (``story_bands`` has no index by item)."""
    return [
        (band, item_id)
        for item_id, title in titles(conn, ids)
        for band in stories.story_bands(stories.title_tokens(title))
    ]


def _free_pages(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA freelist_count").fetchone()[0])


def _size(path: str) -> int:
    return sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )
