"""Retention decisions: what a prune deletes and when the service prunes.

Owns the records of a prune (``PrunePlan``, ``PruneReport``). Pure functions of the
``[retention]`` config and ``now``: the times before which
``polls`` rows are summarised and deleted and unneeded items deleted (a
``PrunePlan``), how much of the day's search-index merging is left, and whether the
daily prune is due. Which items are "unneeded" is the store's rule
(``tracker.store.retention``), next to the SQL it is written in.

Must not: read the clock, touch the database or the config file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from tracker.models import Retention

PRUNE_EVERY = timedelta(days=1)
# Deleting an item leaves its words in the full-text index, marked deleted, until FTS5
# merges the segment that holds them with the marker's: a prune that deletes items then
# merges the index in steps (``tracker.store.retention.MERGE_PAGES`` pages each, one
# short transaction a step). A day's prune takes at most this many steps; an index too
# big to merge in one day's steps goes on the next day. 250 steps of 256 pages is
# about 260 MB written, past the index of 1,000 feeds' 30 days of items.
MERGE_STEPS_PER_DAY = 250


@dataclass(frozen=True)
class PrunePlan:
    """What a prune deletes: rows from before these times (None: keep them)."""

    polls_before: datetime | None
    items_before: datetime | None
    merge_steps: int = 0  # search-index merge steps this prune may take
    merge_start: bool = True  # it may begin a merge of the whole index (once a day)


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or, in a dry run, would remove).

    ``finished`` is False when it stopped at its batch budget with more to delete."""

    polls: int = 0  # ``polls`` rows deleted
    poll_days: int = 0  # feed-days those rows cover in ``poll_days`` (a whole prune only)
    items: int = 0
    item_feeds: int = 0
    story_bands: int = 0
    search_rows: int = 0  # rows of the full-text index
    assessments: int = 0  # not-relevant assessments of the deleted items
    pages_freed: int = 0  # pages given back to the file system (incremental vacuum)
    merge_steps: int = 0  # search-index merge steps (transactions) taken
    merges_started: int = 0  # merges of the whole search index begun
    batches: int = 0
    finished: bool = True

    def plus(self, other: PruneReport) -> PruneReport:
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "finished"
        }
        return PruneReport(**counts, finished=self.finished and other.finished)


def prune_plan(retention: Retention, now: datetime, today: PruneReport | None = None) -> PrunePlan:
    """The rows older than the retention periods, counted back from ``now``; with item
    retention, the search-index merging the day has left after what ``today`` (the
    day's prune so far, when it runs in parts) did."""

    def before(seconds: float | None) -> datetime | None:
        return None if seconds is None else now - timedelta(seconds=seconds)

    done = today or PruneReport()
    steps = 0 if retention.items is None else max(0, MERGE_STEPS_PER_DAY - done.merge_steps)
    return PrunePlan(
        polls_before=before(retention.polls),
        items_before=before(retention.items),
        merge_steps=steps,
        merge_start=not done.merges_started,
    )


def prune_due(last_finished: datetime | None, now: datetime) -> bool:
    """Whether the daily prune should start: never done in this run, a day since the
    last one finished, or the clock went back."""
    if last_finished is None:
        return True
    return not timedelta(0) <= now - last_finished < PRUNE_EVERY
