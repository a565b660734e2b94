"""Developments: the ``developments`` table and each flag's ``development_id`` and
``development_role``.

Owns reading what grouping needs (flags not placed yet, a topic's developments
still open, a topic's every flag for a regrouping), writing what
``tracker.developments`` decided (new developments numbered, flags placed, each
touched development's counts, outlets and languages worked out again from its
flags, developments left without a flag removed), and the developments as the CLI
reads them.

Must not: decide which development an item joins (``tracker.developments`` does) or
write anything but developments and the two development columns of ``flags``.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker import developments
from tracker.developments import DevelopmentItem, OpenDevelopment, Placement, Pool
from tracker.models import iso
from tracker.store.connection import StoreBase, data_version
from tracker.store.schema import LANGUAGE, OUTLET

_OUTLET = f"COALESCE({OUTLET}, '')"  # the publisher, else the feed, as everywhere
_LANGUAGE = LANGUAGE
_FLAGS = (
    "SELECT flags.item_id, flags.published, flags.development_id, items.story_id, "
    f"items.title, items.summary, {_OUTLET} AS outlet, {_LANGUAGE} AS language, "
    "(SELECT GROUP_CONCAT(matched_text, ' ') FROM matches WHERE matches.item_id = "
    "flags.item_id AND matches.topic = flags.topic) AS matched "
    "FROM flags JOIN items ON items.id = flags.item_id "
    "LEFT JOIN feeds ON feeds.id = items.feed_id WHERE flags.topic = ? {} "
    "ORDER BY flags.published, flags.item_id"
)
_IDS = "SELECT value FROM json_each(?)"
_PER_DEV = "FROM flags WHERE flags.development_id = developments.id"
_COUNTS = f"""UPDATE developments SET
    reports = (SELECT COUNT(*) {_PER_DEV}),
    updates = (SELECT COUNT(*) {_PER_DEV} AND development_role = 'update'),
    first_seen = COALESCE((SELECT MIN(published) {_PER_DEV}), first_seen),
    last_seen = COALESCE((SELECT MAX(published) {_PER_DEV}), last_seen),
    first_item_id = (SELECT item_id {_PER_DEV} ORDER BY published, item_id LIMIT 1)
    WHERE id IN ({_IDS})"""
_CARRIERS = (
    "SELECT {0} AS carrier, MIN(flags.published) AS at FROM flags "
    "JOIN items ON items.id = flags.item_id JOIN item_feeds ON item_feeds.item_id = items.id "
    "JOIN feeds ON feeds.id = item_feeds.feed_id WHERE flags.development_id = developments.id "
    "AND {0} != '' GROUP BY carrier ORDER BY at, carrier"
)
_COVERAGE = f"""UPDATE developments SET
    title = COALESCE((SELECT NULLIF(title, '') FROM items WHERE id = first_item_id),
                     '(untitled)'),
    first_outlet = COALESCE((SELECT {_OUTLET} FROM items LEFT JOIN feeds
                             ON feeds.id = items.feed_id WHERE items.id = first_item_id), ''),
    outlets = (SELECT json_group_array(carrier) FROM ({_CARRIERS.format(_OUTLET)})),
    languages = (SELECT json_group_array(carrier) FROM ({_CARRIERS.format(_LANGUAGE)}))
    WHERE id IN ({_IDS})"""
_OUTLET_COUNT = (
    f"UPDATE developments SET outlet_count = json_array_length(outlets) WHERE id IN ({_IDS})"
)


@dataclass(frozen=True)
class _Read:
    """A topic's flags to place and the developments they may join, as read."""

    items: tuple[DevelopmentItem, ...]
    old: Mapping[int, int]  # item -> development it had (a regrouping keeps ids)
    pool: Pool


def _item(row: sqlite3.Row) -> DevelopmentItem:
    keys, terms = developments.item_keys(row["title"], row["summary"], [row["matched"] or ""])
    return DevelopmentItem(
        item_id=int(row["item_id"]),
        story_id=int(row["story_id"] or row["item_id"]),
        published=datetime.fromisoformat(row["published"]),
        outlet=str(row["outlet"] or ""),
        language=str(row["language"] or ""),
        keys=keys,
        term_keys=terms,
    )


def _open(conn: sqlite3.Connection, topic: str, since: datetime) -> list[OpenDevelopment]:
    rows = conn.execute(
        "SELECT id, last_seen, keys, reports, (SELECT json_group_array(DISTINCT "
        "items.story_id) FROM flags JOIN items ON items.id = flags.item_id "
        "WHERE flags.development_id = developments.id) AS stories "
        "FROM developments WHERE topic = ? AND last_seen >= ?",
        (topic, iso(since)),
    ).fetchall()
    return [
        OpenDevelopment(
            id=int(row["id"]),
            last_seen=datetime.fromisoformat(row["last_seen"]),
            keys=Counter(json.loads(row["keys"])),
            stories={s for s in json.loads(row["stories"]) if s is not None},
            items=int(row["reports"]),
        )
        for row in rows
    ]


def read_unplaced(conn: sqlite3.Connection, topic: str) -> _Read:
    """The topic's flags without a development, and the developments they may join
    or that weigh their keys."""
    rows = conn.execute(_FLAGS.format("AND flags.development_id IS NULL"), (topic,)).fetchall()
    items = tuple(_item(row) for row in rows)
    since = min((item.published for item in items), default=None)
    opened = _open(conn, topic, since - developments.BACKGROUND) if since else []
    return _Read(items, {}, developments.open_pool(opened))


def read_all(conn: sqlite3.Connection, topic: str) -> _Read:
    """Every flag of the topic, to group from scratch keeping the ids it had."""
    rows = conn.execute(_FLAGS.format(""), (topic,)).fetchall()
    old = {int(r["item_id"]): int(r["development_id"]) for r in rows if r["development_id"]}
    return _Read(tuple(_item(row) for row in rows), old, Pool())


def _number(
    conn: sqlite3.Connection,
    topic: str,
    placements: Sequence[Placement],
    old: Mapping[int, int],
    pool: Pool,
) -> dict[int, int]:
    """Provisional ids -> stored ids: an id kept from before, or a new row."""
    groups: dict[int, list[int]] = {}
    for placement in placements:
        groups.setdefault(placement.development_id, []).append(placement.item_id)
    provisional = [dev for dev in groups if dev < 0]
    kept = developments.keep_ids([groups[dev] for dev in provisional], old)
    ids = {dev: dev for dev in groups if dev >= 0}
    for dev, keep in zip(provisional, kept, strict=True):
        first = pool.developments[dev].last_seen
        ids[dev] = keep or int(
            conn.execute(
                "INSERT INTO developments (topic, first_seen, last_seen) VALUES (?, ?, ?)",
                (topic, iso(first), iso(first)),
            ).lastrowid
            or 0
        )
    return ids


def write_placements(
    conn: sqlite3.Connection, topic: str, read: _Read, placements: Sequence[Placement]
) -> list[int]:
    """Write the placements; return the ids of the developments they touched."""
    ids = _number(conn, topic, placements, read.old, read.pool)
    conn.executemany(
        "UPDATE flags SET development_id = ?, development_role = ? WHERE item_id = ? AND topic = ?",
        [(ids[p.development_id], p.role, p.item_id, topic) for p in placements],
    )
    conn.executemany(
        "UPDATE developments SET keys = ? WHERE id = ?",
        [
            (json.dumps(dict(read.pool.developments[dev].keys)), ids[dev])
            for dev in ids
            if dev in read.pool.developments
        ],
    )
    touched = sorted(set(ids.values()))
    refresh(conn, touched)
    return touched


def refresh(conn: sqlite3.Connection, ids: Iterable[int]) -> None:
    """Work the developments' counts, outlets and languages out again from their flags."""
    batch = json.dumps(list(ids))
    for statement in (_COUNTS, _COVERAGE, _OUTLET_COUNT):
        conn.execute(statement, (batch,))


def regroup(conn: sqlite3.Connection, topic: str) -> list[int]:
    """Group every flag of ``topic`` again (a migration, a rescore), keeping ids."""
    read = read_all(conn, topic)
    grouped = developments.group_all(read.items)
    placements = [p for group in grouped for p in group]
    keyed = _Read(read.items, read.old, _keyed(grouped, read.items))
    touched = write_placements(conn, topic, keyed, placements)
    conn.execute(
        "DELETE FROM developments WHERE topic = ? AND id NOT IN (SELECT development_id "
        "FROM flags WHERE topic = ? AND development_id IS NOT NULL)",
        (topic, topic),
    )
    return touched


def _keyed(grouped: Sequence[Sequence[Placement]], items: Sequence[DevelopmentItem]) -> Pool:
    """Every development of a regrouping with its keys, closed or not."""
    by_id = {item.item_id: item for item in items}
    pool = Pool()
    for group in grouped:
        mine = [by_id[placement.item_id] for placement in group]
        development = OpenDevelopment(group[0].development_id, min(i.published for i in mine))
        for item in mine:
            development.keys.update(item.keys)
        pool.developments[development.id] = development
    return pool


def regroup_all(conn: sqlite3.Connection) -> None:
    """Every topic's flags grouped (the migration that adds developments)."""
    for (topic,) in conn.execute("SELECT DISTINCT topic FROM flags").fetchall():
        regroup(conn, str(topic))


class DevelopmentTable(StoreBase):
    """The store's developments."""

    def place_new_flags(self) -> dict[str, list[Placement]]:
        """Place every flag not in a development yet; return the placements per topic.

        Decided before the transaction; if another connection wrote meanwhile, read
        and decided again inside it."""
        topics = [
            str(r[0])
            for r in self.conn.execute(
                "SELECT DISTINCT topic FROM flags WHERE development_id IS NULL"
            )
        ]
        placed: dict[str, list[Placement]] = {}
        for topic in topics:
            version = data_version(self.conn)
            read = read_unplaced(self.conn, topic)
            placements = developments.place(read.items, read.pool)
            with self.transaction() as conn:
                if data_version(conn) != version:
                    read = read_unplaced(conn, topic)
                    placements = developments.place(read.items, read.pool)
                write_placements(conn, topic, read, placements)
            placed[topic] = placements
        return placed

    def regroup_developments(self, topics: Sequence[str]) -> None:
        """Group the flags of these topics again (after a rescore changed them)."""
        with self.transaction() as conn:
            for topic in topics:
                regroup(conn, topic)

    def developments(
        self, topic: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Developments, newest report first."""
        clauses, params = ["1"], []
        if topic:
            clauses.append("topic = ?")
            params.append(topic)
        if since:
            clauses.append("last_seen >= ?")
            params.append(iso(since))
        rows = self.conn.execute(
            "SELECT id, topic, title, first_seen, last_seen, reports, updates, outlet_count, "
            "outlets, languages, first_outlet FROM developments "
            f"WHERE {' AND '.join(clauses)} ORDER BY last_seen DESC, id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_listed(row) for row in rows]

    def development(self, development_id: int) -> dict[str, Any] | None:
        """One development with its timeline (every report, oldest first)."""
        row = self.conn.execute(
            "SELECT id, topic, title, first_seen, last_seen, reports, updates, outlet_count, "
            "outlets, languages, first_outlet FROM developments WHERE id = ?",
            (development_id,),
        ).fetchone()
        if row is None:
            return None
        timeline = self.conn.execute(
            f"SELECT flags.published, flags.development_role AS role, items.id AS item_id, "
            f"items.title, items.url, {_OUTLET} AS outlet, {_LANGUAGE} AS language, "
            "COALESCE(items.story_id, items.id) AS story_id "
            "FROM flags JOIN items ON items.id = flags.item_id LEFT JOIN feeds ON "
            "feeds.id = items.feed_id WHERE flags.development_id = ? "
            "ORDER BY flags.published, flags.item_id",
            (development_id,),
        ).fetchall()
        return _listed(row) | {"timeline": [dict(r) for r in timeline]}


def _listed(row: sqlite3.Row) -> dict[str, Any]:
    found = dict(row)
    found["outlets"] = json.loads(found["outlets"])
    found["languages"] = json.loads(found["languages"])
    return found
