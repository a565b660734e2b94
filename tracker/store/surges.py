"""Surges: the ``development_surges`` table and the coverage the desk and CLI show.

Owns reading what surge detection needs (each development's carriages: every
outlet of every report, with its language and times, and the outlets and languages
its surges already named), writing the surges ``tracker.surges`` found, the surges
still to alert and marking them alerted, and a development's coverage over time
(the ``development_coverage`` view) and surges as the CLI and desk read them.

Must not: decide what is a surge (``tracker.surges`` does), or send anything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from tracker import surges
from tracker.models import DevelopmentConfig, iso
from tracker.store.connection import StoreBase, data_version
from tracker.store.schema import LANGUAGE, OUTLET
from tracker.surges import Carriage, Coverage, Surge, SurgeAlertRow

LOOKBACK = timedelta(days=1)  # developments flagged this recently (or the window) are looked at
_IDS = "SELECT value FROM json_each(?)"
_CARRIAGES = f"""SELECT flags.development_id, developments.topic, flags.item_id,
    COALESCE({OUTLET}, '') AS outlet, {LANGUAGE} AS language, flags.published,
    flags.flagged_at, flags.backlog
    FROM flags JOIN developments ON developments.id = flags.development_id
    JOIN items ON items.id = flags.item_id
    JOIN item_feeds ON item_feeds.item_id = items.id
    JOIN feeds ON feeds.id = item_feeds.feed_id
    WHERE flags.development_id IN ({_IDS})"""
_INSERT = """INSERT INTO development_surges (development_id, topic, kind, language, outlets,
    first_at, last_at, item_id, reason, detected_at, notified_at, quiet)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_UNNOTIFIED = """SELECT development_surges.id, development_surges.development_id,
    development_surges.topic, developments.title, development_surges.reason,
    development_surges.outlets, development_surges.last_at, items.url,
    COALESCE(items.story_id, items.id, 0) AS story_id, COALESCE(items.summary, '') AS summary
    FROM development_surges
    JOIN developments ON developments.id = development_surges.development_id
    LEFT JOIN items ON items.id = development_surges.item_id
    WHERE development_surges.notified_at IS NULL ORDER BY development_surges.id"""


def _carriage(row: sqlite3.Row) -> Carriage:
    return Carriage(
        item_id=int(row["item_id"]),
        outlet=str(row["outlet"]),
        language=str(row["language"]),
        published=datetime.fromisoformat(row["published"]),
        flagged_at=datetime.fromisoformat(row["flagged_at"]),
        backlog=bool(row["backlog"]),
    )


def read_coverage(conn: sqlite3.Connection, ids: Sequence[int]) -> list[Coverage]:
    """The carriages of these developments and what their surges already named."""
    batch = json.dumps(list(ids))
    carriages: dict[int, list[Carriage]] = {}
    topics: dict[int, str] = {}
    for row in conn.execute(_CARRIAGES, (batch,)):
        carriages.setdefault(int(row["development_id"]), []).append(_carriage(row))
        topics[int(row["development_id"])] = str(row["topic"])
    outlets: dict[int, set[str]] = {}
    languages: dict[int, set[str]] = {}
    for row in conn.execute(
        f"SELECT development_id, kind, outlets, language FROM development_surges "
        f"WHERE development_id IN ({_IDS})",
        (batch,),
    ):
        if row["kind"] == "language":
            languages.setdefault(row["development_id"], set()).add(row["language"])
        else:
            outlets.setdefault(row["development_id"], set()).update(json.loads(row["outlets"]))
    return [
        Coverage(dev, topics[dev], tuple(found), frozenset(outlets.get(dev, ())),
                 frozenset(languages.get(dev, ())))
        for dev, found in carriages.items()
    ]  # fmt: skip


def write_surges(
    conn: sqlite3.Connection, found: Iterable[Surge], now: datetime, *, quiet: bool
) -> int:
    """Store the surges found; ``quiet`` ones (history) count as alerted already."""
    rows = [
        (s.development_id, s.topic, s.kind, s.language, json.dumps(list(s.outlets)),
         iso(s.first_at), iso(s.last_at), s.item_id, s.reason, iso(now),
         iso(now) if quiet else None, int(quiet))
        for s in found
    ]  # fmt: skip
    conn.executemany(_INSERT, rows)
    return len(rows)


class SurgeTable(StoreBase):
    """The store's surges and the coverage of developments over time."""

    def detect_surges(
        self,
        rule: DevelopmentConfig,
        now: datetime,
        *,
        topics: Sequence[str] | None = None,
        quiet: bool = False,
    ) -> int:
        """Find and store the surges of the developments flagged lately (or, with
        ``topics``, of every development of these topics: quietly after a rescore,
        which also drops the surges of developments that are gone). Decided before
        the transaction, and again inside it if another connection wrote meanwhile."""
        version = data_version(self.conn)
        found = self._decide(rule, now, topics)
        if not found and topics is None:
            return 0  # most cycles: nothing to write, no write lock taken
        with self.transaction() as conn:
            if data_version(conn) != version:
                found = self._decide(rule, now, topics)
            conn.execute(
                "DELETE FROM development_surges WHERE development_id NOT IN "
                "(SELECT development_id FROM flags WHERE development_id IS NOT NULL)"
            )
            return write_surges(conn, found, now, quiet=quiet)

    def _decide(
        self, rule: DevelopmentConfig, now: datetime, topics: Sequence[str] | None
    ) -> list[Surge]:
        ids = self._developments_to_check(rule, now, topics)
        found: list[Surge] = []
        for coverage in read_coverage(self.conn, ids):
            found += surges.detect(coverage, rule)
        return found

    def _developments_to_check(
        self, rule: DevelopmentConfig, now: datetime, topics: Sequence[str] | None
    ) -> list[int]:
        if topics is not None:
            query = f"SELECT id FROM developments WHERE topic IN ({_IDS})"
            return [int(r[0]) for r in self.conn.execute(query, (json.dumps(list(topics)),))]
        since = now - max(LOOKBACK, timedelta(seconds=rule.surge_window))
        rows = self.conn.execute(
            "SELECT DISTINCT development_id FROM flags WHERE flagged_at >= ? "
            "AND development_id IS NOT NULL",
            (iso(since),),
        )
        return [int(r[0]) for r in rows]

    def unnotified_surges(self) -> list[SurgeAlertRow]:
        return [
            SurgeAlertRow(
                id=int(row["id"]),
                development_id=int(row["development_id"]),
                topic=str(row["topic"]),
                title=str(row["title"]),
                url=row["url"],
                story_id=int(row["story_id"]),
                reason=str(row["reason"]),
                outlets=tuple(json.loads(row["outlets"])),
                published=str(row["last_at"]),
                summary=str(row["summary"]),
            )
            for row in self.conn.execute(_UNNOTIFIED)
        ]

    def mark_surges_notified(self, ids: Iterable[int], now: datetime) -> None:
        ids = list(ids)
        if not ids:
            return
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE development_surges SET notified_at = ? WHERE id IN ({_IDS}) "
                "AND notified_at IS NULL",
                (iso(now), json.dumps(list(ids))),
            )

    def development_surges(self, development_id: int) -> list[dict[str, Any]]:
        """A development's surges, oldest first."""
        rows = self.conn.execute(
            "SELECT id, kind, language, outlets, first_at, last_at, reason, detected_at, "
            "notified_at, quiet FROM development_surges WHERE development_id = ? "
            "ORDER BY last_at, id",
            (development_id,),
        )
        return [dict(row) | {"outlets": json.loads(row["outlets"])} for row in rows]

    def development_coverage(self, development_id: int) -> list[dict[str, Any]]:
        """A development's coverage day by day (the ``development_coverage`` view)."""
        rows = self.conn.execute(
            "SELECT day, reports, new_outlets, new_languages, outlets_by_then, "
            "languages_by_then FROM development_coverage WHERE development_id = ?",
            (development_id,),
        )
        return [dict(row) for row in rows]
