"""Reviews: the ``reviews`` and ``desk_marks`` tables.

Owns writing an analyst's review of a flag, of its whole story or of its whole
development (one new row each
time, never an update: two analysts marking one flag at once are both kept and the
latest one decides), the reviewed items with their latest label as ``tracker eval
--reviews`` reads them, and each analyst's "seen through" mark on the desk.

Reviews are not verdicts: a rescore or a topic edit rewrites ``flags`` and
``assessments`` and never touches ``reviews``.

Must not: judge an item (the matcher does) or decide what the desk shows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from tracker.errors import ReviewError
from tracker.models import REVIEW_LABELS, REVIEW_SCOPES, ItemText, Review, ReviewedItem, iso
from tracker.store.connection import StoreBase

_INSERT_REVIEW = (
    "INSERT INTO reviews (item_id, item_url, story_id, scope, topic, label, note, reviewer, "
    "source, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Every (item, topic) a review reaches: the item itself, for a story review every
# flagged copy of the story, for a development review every report of the development
# the item is in now (a regrouping moves the review's reach with the item). Oldest
# first, so the last row of a pair is its label.
_REVIEWED = """
    SELECT items.id, items.url, items.title, items.summary, items.content, items.language,
           items.published, reviews.topic, reviews.label, reviews.note, reviews.reviewed_at
    FROM reviews
    JOIN items ON items.id = reviews.item_id
        OR (reviews.scope = 'story' AND items.story_id = reviews.story_id
            AND items.id IN (SELECT item_id FROM flags))
        OR (reviews.scope = 'development' AND items.id IN (
            SELECT item_id FROM flags WHERE development_id IN (
                SELECT development_id FROM flags AS reviewed
                WHERE reviewed.item_id = reviews.item_id)))
    ORDER BY reviews.reviewed_at, reviews.id
"""
_SEEN = (
    "INSERT INTO desk_marks (analyst, seen_through) VALUES (?, ?) "
    "ON CONFLICT (analyst) DO UPDATE SET seen_through = excluded.seen_through"
)


class Reviews(StoreBase):
    """The analysts' reviews and desk marks."""

    def find_item(self, url: str) -> int | None:
        """The id of the item stored under ``url`` (its canonical URL or its link)."""
        row = self.conn.execute(
            "SELECT id FROM items WHERE url = ? UNION ALL "
            "SELECT id FROM items WHERE link = ? LIMIT 1",
            (url, url),
        ).fetchone()
        return None if row is None else int(row[0])

    def add_review(self, review: Review, now: datetime) -> int:
        """Store ``review`` as a new row; raise ``ReviewError`` for an unknown item or a
        label or scope that is not one of ours. Returns the review's id."""
        _check(review)
        with self.transaction() as conn:
            item = conn.execute(
                "SELECT url, link, story_id FROM items WHERE id = ?", (review.item_id,)
            ).fetchone()
            if item is None:
                raise ReviewError(f"no stored item has id {review.item_id}")
            url = item["url"] or item["link"] or ""
            cursor = conn.execute(_INSERT_REVIEW, _review_row(review, url, item["story_id"], now))
            return int(cursor.lastrowid or 0)

    def reviewed_items(self) -> list[ReviewedItem]:
        """Every reviewed (item, topic) with its latest label, by that review's time."""
        rows = self.conn.execute(_REVIEWED).fetchall()
        return latest_labels(rows)

    def review_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0])

    def seen_through(self, analyst: str) -> str | None:
        row = self.conn.execute(
            "SELECT seen_through FROM desk_marks WHERE analyst = ?", (analyst,)
        ).fetchone()
        return None if row is None else str(row[0])

    def mark_seen(self, analyst: str, through: str) -> None:
        """Remember that ``analyst`` has seen every flag up to ``through``."""
        with self.transaction() as conn:
            conn.execute(_SEEN, (analyst, through))


def _check(review: Review) -> None:
    if review.label not in REVIEW_LABELS:
        raise ReviewError(f"label must be one of {', '.join(REVIEW_LABELS)}, not {review.label!r}")
    if review.scope not in REVIEW_SCOPES:
        raise ReviewError(f"scope must be one of {', '.join(REVIEW_SCOPES)}, not {review.scope!r}")


def _review_row(
    review: Review, url: str, story_id: int | None, now: datetime
) -> tuple[object, ...]:
    return (
        review.item_id,
        url,
        story_id,
        review.scope,
        review.topic,
        review.label,
        review.note,
        review.reviewer,
        review.source,
        iso(now),
    )


def latest_labels(rows: Iterable[sqlite3.Row]) -> list[ReviewedItem]:
    """The last row of each (item, topic) pair, ordered by that latest review."""
    latest: dict[tuple[int, str], ReviewedItem] = {}
    for row in rows:
        key = (int(row["id"]), str(row["topic"]))
        latest.pop(key, None)  # a pair moves to where its latest review is
        latest[key] = ReviewedItem(
            url=str(row["url"] or ""),
            topic=str(row["topic"]),
            label=str(row["label"]),
            note=str(row["note"]),
            reviewed_at=str(row["reviewed_at"]),
            text=ItemText(row["title"], row["summary"], row["content"], row["language"]),
            published=str(row["published"]),
        )
    return list(latest.values())
