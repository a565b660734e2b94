"""The ``feeds`` table: following the config, and the feeds as the poll cycle sees them.

Owns adding, updating and un-configuring feeds (``sync_feeds``), recording a feed
polled by URL (``ensure_feed``), resuming a gone feed (``resume_feed``), and reading
feeds as ``FeedState`` records (all, configured, due, gone, moved). Feed URLs are
stored without credentials.

Must not: decide when a feed is polled (the caller passes first poll times; the
decider sets the next ones) or write a poll's outcome (``store.polls`` does).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from tracker.models import FeedConfig, FeedState, iso
from tracker.store.connection import StoreBase
from tracker.urls import redact_url


class FeedTable(StoreBase):
    """The store's feeds."""

    def sync_feeds(
        self,
        feeds: Sequence[FeedConfig],
        now: datetime,
        first_polls: Mapping[str, datetime] | None = None,
    ) -> None:
        """Make the ``feeds`` table follow the config: add, update, un-configure.

        A feed added is due at ``first_polls[its config URL]``, else at ``now``.
        """
        with self.transaction() as conn:
            configured: set[int] = set()
            for feed in feeds:
                first = (first_polls or {}).get(feed.url, now)
                configured.add(_upsert_configured(conn, feed, now, first))
            rows = conn.execute("SELECT id FROM feeds WHERE configured = 1").fetchall()
            for row in rows:
                if row["id"] not in configured:
                    conn.execute("UPDATE feeds SET configured = 0 WHERE id = ?", (row["id"],))

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
        return feed_state(row) if row else None

    def feeds(self, *, configured_only: bool = False) -> list[FeedState]:
        where = "WHERE configured = 1" if configured_only else ""
        rows = self.conn.execute(f"SELECT * FROM feeds {where} ORDER BY id").fetchall()
        return [feed_state(row) for row in rows]

    def due_feeds(self, now: datetime, horizon: float | None = None) -> list[FeedState]:
        """Configured feeds whose next poll has come; a gone feed never is (until resumed).

        With ``horizon`` (the furthest ahead, in seconds, that a poll is ever scheduled),
        a feed scheduled beyond ``now + horizon`` is due too: the clock went back since.
        """
        beyond = iso(now + timedelta(seconds=horizon)) if horizon is not None else "9999"
        rows = self.conn.execute(
            "SELECT * FROM feeds WHERE configured = 1 AND gone = 0 AND (next_poll_at IS NULL OR "
            "next_poll_at <= ? OR next_poll_at > ?) ORDER BY next_poll_at, id",
            (iso(now), beyond),
        ).fetchall()
        return [feed_state(row) for row in rows]

    def resume_feed(self, feed_id: int, now: datetime) -> None:
        """Poll a gone feed again, at ``now``; its failures count afresh (a feed that
        still fails goes again after a 410, or after ``gone_after`` more)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE feeds SET gone = 0, next_poll_at = ?, failing_since = NULL, "
                "consecutive_failures = 0 WHERE id = ?",
                (iso(now), feed_id),
            )

    def moved_feeds(self, urls: Iterable[str]) -> dict[str, str]:
        """Of these URLs, the ones a feed moved away from (a confirmed permanent
        redirect), with the URL it has now; a URL that is a feed's own is not moved."""
        moved: dict[str, str] = {}
        for url in urls:
            row = self.conn.execute(
                "SELECT url FROM feeds WHERE previous_url = ? AND NOT EXISTS "
                "(SELECT 1 FROM feeds WHERE url = ?)",
                (redact_url(url), redact_url(url)),
            ).fetchone()
            if row is not None:
                moved[url] = str(row["url"])
        return moved

    def gone_feeds(self) -> list[FeedState]:
        rows = self.conn.execute("SELECT * FROM feeds WHERE gone = 1 ORDER BY id").fetchall()
        return [feed_state(row) for row in rows]

    def last_document_entries(self, feed_id: int) -> dict[str, str]:
        """Entry key -> content hash of the items in the feed's last parsed document."""
        rows = self.conn.execute(
            "SELECT entry_key, content_hash FROM item_feeds WHERE feed_id = ? AND "
            "last_seen_at = (SELECT MAX(last_seen_at) FROM item_feeds WHERE feed_id = ?)",
            (feed_id, feed_id),
        )
        return {str(row[0]): str(row[1]) for row in rows.fetchall()}


def _upsert_configured(
    conn: sqlite3.Connection, feed: FeedConfig, now: datetime, first_poll: datetime
) -> int:
    url = redact_url(feed.url)  # credentials stay in the config file, never in the database
    row = conn.execute(
        "SELECT id, url FROM feeds WHERE url IN (?, ?) OR previous_url = ? ORDER BY url = ? DESC",
        (url, feed.url, url, url),
    ).fetchone()
    if row is None:
        cursor = conn.execute(
            "INSERT INTO feeds (url, name, language, configured, interval_seconds, "
            "created_at, next_poll_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
            (url, feed.name, feed.language, feed.interval, iso(now), iso(first_poll)),
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


def feed_state(row: sqlite3.Row) -> FeedState:
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
        previous_url=row["previous_url"],
        language=row["language"] or "",
    )
