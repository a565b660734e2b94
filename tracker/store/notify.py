"""Notifications: which flags are still to be alerted, and marking them alerted.

Owns ``flags.notified_at``: the flags no alert went out for yet (backlog flags
never go out), and marking a story and a development notified for a topic once any
of their reports was.

Must not: send anything (``alerts`` and the sinks do) or write verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tracker.models import NewFlag, iso
from tracker.store.connection import StoreBase
from tracker.store.schema import OUTLET


class Notifications(StoreBase):
    """The store's record of alerts sent."""

    def unnotified_flags(self) -> list[NewFlag]:
        rows = self.conn.execute(
            "SELECT flags.*, items.title, items.url, items.story_id, items.summary, "
            f"items.published, {OUTLET} AS feed "
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
                row["summary"],
                row["published"],
                row["development_id"],
                row["development_role"],
            )
            for row in rows
        ]

    def mark_notified(self, flags: Sequence[NewFlag], now: datetime) -> None:
        """Mark these flags, and every other copy of their stories and every other
        report of their developments, as notified."""
        with self.transaction() as conn:
            for flag in flags:
                conn.execute(
                    "UPDATE flags SET notified_at = ? WHERE topic = ? AND notified_at IS NULL "
                    "AND (item_id IN (SELECT id FROM items WHERE story_id = ?) "
                    "OR development_id = ?)",
                    (iso(now), flag.topic, flag.story_id, flag.development_id),
                )

    def already_alerted(self, flag: NewFlag) -> bool:
        """True when an alert went out for the flag's development (or, for a flag not in
        one, its story): later reports of a development never alert again."""
        if flag.development_id is None:
            return self.story_notified(flag.story_id, flag.topic)
        row = self.conn.execute(
            "SELECT 1 FROM flags WHERE development_id = ? AND notified_at IS NOT NULL LIMIT 1",
            (flag.development_id,),
        )
        return row.fetchone() is not None

    def story_notified(self, story_id: int, topic: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM flags JOIN items ON items.id = flags.item_id WHERE items.story_id = ? "
            "AND flags.topic = ? AND flags.notified_at IS NOT NULL LIMIT 1",
            (story_id, topic),
        )
        return row.fetchone() is not None
