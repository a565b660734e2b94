"""Verdicts: the ``matches``, ``item_entities``, ``assessments``, ``flags`` and ``topics``
tables.

Owns writing the verdict rows a decision says (``apply_verdicts``, for a poll and a
rescore alike), rescoring every stored item when topics change (or working out what
that would change, writing nothing: ``preview_rescore``), forgetting removed
topics, the topics in force, and the flagged stories as reports read them.

Must not: decide which flags are new or what a verdict replaces (``decide`` does),
or call the matcher inside a transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tracker import decide
from tracker.articletext import decide_with_article
from tracker.models import Assessor, ItemText, RescoreChange, VerdictWrite, iso
from tracker.store.connection import StoreBase, data_version

_FORGET = "DELETE FROM {} WHERE item_id = ? AND topic = ?"
# An adaptive flag is not the rules' to take back: developments work it out again.
_FORGET_FLAG = _FORGET.format("flags") + " AND adaptive = 0"
_INSERT_MATCH = (
    "INSERT INTO matches (item_id, topic, group_name, term, matched_text, field, char_offset) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ENTITY = "INSERT OR IGNORE INTO item_entities (item_id, topic, entity) VALUES (?, ?, ?)"
_PUT_ASSESSMENT = (
    "INSERT OR REPLACE INTO assessments (item_id, topic, relevant, flagged, score, "
    "rule_version, assessed_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_PUT_FLAG = (
    "INSERT INTO flags (item_id, topic, score, reasons, seed_terms, rule_version, flagged_at, "
    "backlog) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, topic) DO UPDATE SET "
    "score = excluded.score, reasons = excluded.reasons, seed_terms = excluded.seed_terms, "
    "rule_version = excluded.rule_version, adaptive = 0"  # the rules flag it now
)


def apply_verdicts(conn: sqlite3.Connection, verdicts: VerdictWrite) -> None:
    """Write verdict rows, old ones deleted first (one batch per statement)."""
    conn.executemany(_FORGET.format("matches"), verdicts.forget_matches)
    conn.executemany(_FORGET.format("item_entities"), verdicts.forget_matches)
    conn.executemany(_FORGET.format("assessments"), verdicts.forget_verdicts)
    conn.executemany(_FORGET_FLAG, verdicts.forget_verdicts)
    conn.executemany(_FORGET_FLAG, verdicts.forget_flags)
    conn.executemany(_INSERT_MATCH, verdicts.matches)
    conn.executemany(_INSERT_ENTITY, verdicts.entities)
    conn.executemany(_PUT_ASSESSMENT, verdicts.assessments)
    conn.executemany(_PUT_FLAG, verdicts.flags)


class _Rescore:
    """Every stored item's text, and the flags, as a rescore read them."""

    def __init__(self, conn: sqlite3.Connection, since: datetime | None = None) -> None:
        self.version = data_version(conn)
        rows = conn.execute(
            "SELECT id, title, summary, content, language, article_text FROM items "
            "WHERE first_seen_at >= ?",
            (iso(since) if since else "",),
        )
        self.items: list[tuple[int, ItemText]] = []
        self.articles: dict[int, str] = {}  # item id -> its article text, when it has one
        for r in rows.fetchall():
            self.items.append(
                (int(r["id"]), ItemText(r["title"], r["summary"], r["content"], r["language"]))
            )
            if r["article_text"]:
                self.articles[int(r["id"])] = r["article_text"]
        flags = conn.execute("SELECT item_id, topic FROM flags").fetchall()
        self.flagged = frozenset((int(r[0]), str(r[1])) for r in flags)

    def verdicts(self, assess: Assessor, now: datetime) -> VerdictWrite:
        targets = (
            decide.VerdictTarget(
                item_id,
                decide_with_article(assess, text, self.articles.get(item_id, "")),
                fresh=False,
                backlog=True,
            )
            for item_id, text in self.items
        )
        return decide.verdict_write(targets, self.flagged, now)

    def changes(self, verdicts: VerdictWrite, topics: Sequence[str]) -> list[RescoreChange]:
        def chosen(pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
            return {pair for pair in pairs if not topics or pair[1] in topics}

        before = chosen(set(self.flagged))
        after = chosen(decide.flagged_after(self.flagged, verdicts))
        titles = dict((item_id, text.title) for item_id, text in self.items)
        return [
            RescoreChange(item_id, topic, titles[item_id], (item_id, topic) in after)
            for item_id, topic in sorted(after ^ before)
        ]


class Verdicts(StoreBase):
    """The store's verdicts and topics."""

    def rescore(
        self, assess: Assessor, topics: Sequence[str], now: datetime
    ) -> list[RescoreChange]:
        """Re-match every stored item; return what became flagged or stopped being.

        Items are matched before the transaction; if another connection wrote
        meanwhile, they are read and matched again inside it.
        """
        read = _Rescore(self.conn)
        verdicts = read.verdicts(assess, now)
        with self.transaction() as conn:
            if data_version(conn) != read.version:
                read = _Rescore(conn)
                verdicts = read.verdicts(assess, now)
            apply_verdicts(conn, verdicts)
        return read.changes(verdicts, topics)

    def preview_rescore(
        self, assess: Assessor, topics: Sequence[str], now: datetime, since: datetime | None = None
    ) -> list[RescoreChange]:
        """What ``rescore`` would change among the items first seen ``since`` (all items
        when None), without writing anything."""
        read = _Rescore(self.conn, since)
        return read.changes(read.verdicts(assess, now), topics)

    def items_seen_since(self, since: datetime) -> int:
        """How many stored items were first seen at or after ``since``."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM items WHERE first_seen_at >= ?", (iso(since),)
        )
        return int(row.fetchone()[0])

    def term_item_counts(
        self, topic: str, since: datetime
    ) -> tuple[dict[Any, int], dict[Any, int]]:
        """Items each ``(group, term)`` of ``topic`` matched, first seen since ``since``
        and before it (from the stored matches)."""
        rows = self.conn.execute(
            "SELECT matches.group_name, matches.term, items.first_seen_at >= ? AS recent, "
            "COUNT(DISTINCT matches.item_id) FROM matches JOIN items ON items.id = matches.item_id "
            "WHERE matches.topic = ? GROUP BY 1, 2, 3",
            (iso(since), topic),
        ).fetchall()
        recent: dict[tuple[str, str], int] = {}
        older: dict[tuple[str, str], int] = {}
        for group, term, is_recent, count in rows:
            (recent if is_recent else older)[(str(group), str(term))] = int(count)
        return recent, older

    def forget_topics(self, topics: Sequence[str]) -> None:
        """Topics no longer configured keep no matches or flags."""
        marks = ",".join("?" * len(topics))
        with self.transaction() as conn:
            for table in ("matches", "item_entities", "assessments", "flags"):
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
