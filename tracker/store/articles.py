"""Article text: the ``items`` columns ``article_text``, ``article_status``,
``article_error`` and ``article_fetched_at``.

Owns reading the items that may need their article page (never tried, with short feed
text, among the newest items; those relevant to a topic first) and writing what the fetches
found with the verdicts decided with it, in one transaction.

Must not: decide which items need a page or what their verdicts are (``articletext``
and ``decide`` do), or fetch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from tracker.models import ArticleCandidate, ArticleResult, ItemText, VerdictWrite, iso
from tracker.store.connection import StoreBase
from tracker.store.verdicts import apply_verdicts

# Only the newest items are looked at: an item relevant a week ago and still without
# its page is not worth a fetch, and the bound keeps the read small on big databases.
RECENT_ITEMS = 5000
# Relevant items first: the others are read (and those not near a seed marked skipped,
# so that each is read once) only when no relevant item waits.
_CANDIDATES = """
    SELECT items.id, items.url, items.title, items.summary, items.content, items.language,
           (SELECT json_group_array(feeds.url) FROM item_feeds
             JOIN feeds ON feeds.id = item_feeds.feed_id
             WHERE item_feeds.item_id = items.id) AS feed_urls,
           EXISTS (SELECT 1 FROM assessments
                   WHERE assessments.item_id = items.id AND assessments.relevant) AS relevant
    FROM items
    WHERE items.id > (SELECT COALESCE(MAX(id), 0) FROM items) - ?
      AND items.article_status = '' AND items.url IS NOT NULL
      AND length(items.title) + length(items.summary) + length(items.content) < ?
    ORDER BY relevant DESC, items.id DESC
    LIMIT ?"""
_RECORD = (
    "UPDATE items SET article_text = ?, article_status = ?, article_error = ?, "
    "article_fetched_at = ? WHERE id = ?"
)


class ArticleTexts(StoreBase):
    """The store's article texts."""

    def article_candidates(self, max_chars: int, limit: int) -> list[ArticleCandidate]:
        """The newest items never tried whose feed text is under ``max_chars``
        characters (a cheap bound: the caller counts words): those relevant to a topic
        first, newest first."""
        rows = self.conn.execute(_CANDIDATES, (RECENT_ITEMS, max_chars, limit)).fetchall()
        return [
            ArticleCandidate(
                int(r["id"]),
                str(r["url"]),
                ItemText(r["title"], r["summary"], r["content"], r["language"]),
                tuple(json.loads(r["feed_urls"] or "[]")),
                relevant=bool(r["relevant"]),
            )
            for r in rows
        ]

    def flags_of_items(self, item_ids: Sequence[int]) -> frozenset[tuple[int, str]]:
        rows = self.conn.execute(
            "SELECT item_id, topic FROM flags WHERE item_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(item_ids)),),
        ).fetchall()
        return frozenset((int(r[0]), str(r[1])) for r in rows)

    def record_articles(
        self, results: Sequence[ArticleResult], verdicts: VerdictWrite, now: datetime
    ) -> None:
        """Write what the fetches found and the verdicts decided with it."""
        with self.transaction() as conn:
            conn.executemany(
                _RECORD, [(r.text, r.status, r.error, iso(now), r.item_id) for r in results]
            )
            apply_verdicts(conn, verdicts)
