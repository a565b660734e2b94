"""Developments: the ``developments`` table and each flag's ``development_id`` and
``development_role``.

Owns reading what grouping needs (flags not placed yet, a topic's developments
still open, a topic's every flag for a regrouping, and the reports the rules did not
flag that adaptive tracking weighs: a cycle's new items, or for a
regrouping the items in the developments' windows), writing what
``tracker.developments`` decided (adopted reports flagged with their reason and
``flags.adaptive = 1``, new developments numbered, flags placed, each
touched development's counts, outlets and languages worked out again from its
flags, developments left without a flag removed), and the developments as the CLI
reads them.

Must not: decide which development an item joins (``tracker.developments`` does) or
write anything but developments, the development columns of ``flags`` and the
adaptive flags.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracker import developments
from tracker.developments import DevelopmentItem, OpenDevelopment, Placement, Pool
from tracker.entities import NO_ENTITIES, EntityIndex
from tracker.models import iso
from tracker.store.connection import StoreBase, data_version
from tracker.store.schema import LANGUAGE, OUTLET

_OUTLET = f"COALESCE({OUTLET}, '')"  # the publisher, else the feed, as everywhere
_LANGUAGE = LANGUAGE
_FLAGS = (
    "SELECT flags.item_id, flags.published, flags.development_id, items.story_id, "
    f"items.title, items.summary, {_OUTLET} AS outlet, {_LANGUAGE} AS language, "
    "(SELECT GROUP_CONCAT(matched_text, ' ') FROM matches WHERE matches.item_id = "
    "flags.item_id AND matches.topic = flags.topic) AS matched, 1 AS flagged "
    "FROM flags JOIN items ON items.id = flags.item_id "
    "LEFT JOIN feeds ON feeds.id = items.feed_id WHERE flags.topic = ? {} "
    "ORDER BY flags.published, flags.item_id"
)
# Reports adaptive tracking weighs: the topic's items without a flag, in a range
_UNFLAGGED = (
    "SELECT items.id AS item_id, items.published, NULL AS development_id, items.story_id, "
    f"items.title, items.summary, {_OUTLET} AS outlet, {_LANGUAGE} AS language, "
    "(SELECT GROUP_CONCAT(matched_text, ' ') FROM matches WHERE matches.item_id = "
    "items.id AND matches.topic = :topic) AS matched, 0 AS flagged "
    "FROM items LEFT JOIN feeds ON feeds.id = items.feed_id WHERE {} AND NOT EXISTS "
    "(SELECT 1 FROM flags WHERE flags.item_id = items.id AND flags.topic = :topic)"
)
# A cycle's new reports naming an entity, as the matcher recorded them with their
# verdicts (``item_entities``): the many that name none are never read.
_SEEN_SINCE = (
    "items.id IN (SELECT item_id FROM item_entities WHERE topic = :topic) "
    "AND items.first_seen_at >= :since"
)
_PUBLISHED_IN = "items.published >= :start AND items.published <= :end"
# A report first seen on its feed's first successful poll is backlog: never alerted.
_BACKLOG = (
    "NOT EXISTS (SELECT 1 FROM polls WHERE polls.feed_id = items.feed_id AND "
    "polls.outcome != 'error' AND polls.started_at < items.first_seen_at) AND NOT EXISTS "
    "(SELECT 1 FROM poll_days WHERE poll_days.feed_id = items.feed_id AND "
    "poll_days.polls > poll_days.errors AND poll_days.day < SUBSTR(items.first_seen_at, 1, 10))"
)
_ADOPT = (
    "INSERT INTO flags (item_id, topic, score, reasons, seed_terms, rule_version, "
    "flagged_at, backlog, adaptive) SELECT items.id, :topic, COALESCE((SELECT score FROM "
    "assessments WHERE item_id = items.id AND topic = :topic), 0), :reasons, '', "
    "COALESCE((SELECT rule_version FROM topics WHERE name = :topic), ''), :now, "
    f"CASE WHEN :backlog THEN 1 ELSE {_BACKLOG} END, 1 FROM items WHERE items.id = :item"
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


_Named = tuple[frozenset[str], str]  # the entity keys a text names, and the words naming them


@dataclass(frozen=True)
class _Read:
    """A topic's flags to place and the developments they may join, as read."""

    items: tuple[DevelopmentItem, ...]
    old: Mapping[int, int]  # item -> development it had (a regrouping keeps ids)
    pool: Pool
    entities: EntityIndex = NO_ENTITIES
    texts: Mapping[int, str] = field(default_factory=dict)  # unflagged item -> its text


def _named(row: sqlite3.Row, entities: EntityIndex) -> _Named:
    return entities.named(row["title"] or "", row["summary"] or "")


def _item(row: sqlite3.Row, named: _Named) -> DevelopmentItem:
    """The row's item as grouping sees it; ``named``: the entities its text names."""
    matched = [row["matched"] or ""]
    keys, terms = developments.item_keys(row["title"], row["summary"], matched, named)
    return DevelopmentItem(
        item_id=int(row["item_id"]),
        story_id=int(row["story_id"] or row["item_id"]),
        published=datetime.fromisoformat(row["published"]),
        outlet=str(row["outlet"] or ""),
        language=str(row["language"] or ""),
        keys=keys,
        term_keys=terms,
        flagged=bool(row["flagged"]),
    )


def _open(conn: sqlite3.Connection, topic: str, since: datetime) -> list[OpenDevelopment]:
    """The developments an item may join, as the flags the rules made left them
    (adopted reports neither extend a development's window nor add to it)."""
    rows = conn.execute(
        "SELECT developments.id, developments.keys, MAX(flags.published) AS last_seen, "
        "COUNT(*) AS reports, json_group_array(DISTINCT items.story_id) AS stories "
        "FROM developments JOIN flags ON flags.development_id = developments.id "
        "AND flags.adaptive = 0 JOIN items ON items.id = flags.item_id "
        "WHERE developments.topic = ? AND developments.last_seen >= ? GROUP BY developments.id",
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


def _unflagged(
    conn: sqlite3.Connection,
    topic: str,
    where: str,
    params: Mapping[str, str],
    entities: EntityIndex,
) -> list[tuple[sqlite3.Row, _Named]]:
    """The reports without a flag that name an entity of the topic (no other can join
    a development), read row by row: the reports in a regrouping's windows, all but a
    few of them dropped, would otherwise be held in memory at once (some 35 MB for
    34,000). Named again here: the alias sets in force decide."""
    if entities.terms is None:
        return []
    rows = conn.execute(_UNFLAGGED.format(where), {"topic": topic, **params})
    return [(row, named) for row in rows if (named := _named(row, entities))[0]]


def _merged(
    flagged: Sequence[DevelopmentItem], unflagged: Sequence[tuple[sqlite3.Row, _Named]]
) -> tuple[tuple[DevelopmentItem, ...], dict[int, str]]:
    """Flags and the unflagged reports weighed beside them, oldest first; the texts of
    the unflagged ones (an adopted report's reason quotes its words)."""
    items = [*flagged, *(_item(row, named) for row, named in unflagged)]
    items.sort(key=lambda item: (item.published, item.item_id))
    texts = {int(r["item_id"]): f"{r['title']}\n{r['summary']}" for r, _ in unflagged}
    return tuple(items), texts


def read_unplaced(
    conn: sqlite3.Connection,
    topic: str,
    entities: EntityIndex = NO_ENTITIES,
    seen_since: datetime | None = None,
) -> _Read:
    """The topic's flags without a development, the reports without a flag first seen
    ``seen_since`` (None: none), and the developments they may join or that weigh
    their keys."""
    rows = conn.execute(_FLAGS.format("AND flags.development_id IS NULL"), (topic,)).fetchall()
    flagged = [_item(row, _named(row, entities)) for row in rows]
    unflagged = (
        _unflagged(conn, topic, _SEEN_SINCE, {"since": iso(seen_since)}, entities)
        if seen_since
        else []
    )
    items, texts = _merged(flagged, unflagged)
    if not items:
        return _Read((), {}, Pool(), entities)  # nothing to place, nothing can join
    since = min((item.published for item in items), default=None)
    opened = _open(conn, topic, since - developments.BACKGROUND) if since else []
    return _Read(items, {}, developments.open_pool(opened), entities, texts)


def read_all(conn: sqlite3.Connection, topic: str, entities: EntityIndex = NO_ENTITIES) -> _Read:
    """Every flag of the topic the rules made, to group from scratch keeping the ids it
    had, with the unflagged reports published in the developments' windows."""
    rows = conn.execute(_FLAGS.format("AND flags.adaptive = 0"), (topic,)).fetchall()
    old = {int(r["item_id"]): int(r["development_id"]) for r in rows if r["development_id"]}
    flagged = [_item(row, _named(row, entities)) for row in rows]
    unflagged: list[tuple[sqlite3.Row, _Named]] = []
    if entities.terms is not None:  # without alias sets no report can join
        for start, end in _windows(developments.group_all(flagged), flagged):
            window = {"start": start, "end": end}
            unflagged += _unflagged(conn, topic, _PUBLISHED_IN, window, entities)
    items, texts = _merged(flagged, unflagged)
    return _Read(items, old, Pool(), entities, texts)


def _windows(
    grouped: Sequence[Sequence[Placement]], items: Sequence[DevelopmentItem]
) -> list[tuple[str, str]]:
    """The time ranges a report may join a development in: from its first report to
    the window after its last, overlapping ranges merged."""
    published = {item.item_id: item.published for item in items}
    spans = sorted(
        (min(published[p.item_id] for p in group), max(published[p.item_id] for p in group))
        for group in grouped
    )
    merged: list[list[datetime]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + developments.WINDOW:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(iso(first), iso(last + developments.WINDOW)) for first, last in merged]


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
    conn: sqlite3.Connection,
    topic: str,
    read: _Read,
    placements: Sequence[Placement],
    adopted_at: datetime | None = None,
) -> list[int]:
    """Write the placements, flagging the adopted reports first (at ``adopted_at``, a
    cycle's time, alerted like its other flags; None: a regrouping's, as backlog at
    the time they were first seen); return the ids of the developments touched."""
    ids = _number(conn, topic, placements, read.old, read.pool)
    _flag_adopted(conn, topic, read, [p for p in placements if p.adopted], ids, adopted_at)
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


def _flag_adopted(
    conn: sqlite3.Connection,
    topic: str,
    read: _Read,
    adopted: Sequence[Placement],
    ids: Mapping[int, int],
    at: datetime | None,
) -> None:
    titles = read.entities.titles
    conn.executemany(
        _ADOPT.replace(":now", "COALESCE(:now, items.first_seen_at)"),
        [
            {
                "item": p.item_id,
                "topic": topic,
                "now": iso(at) if at else None,
                "backlog": at is None,
                "reasons": developments.joins_reason(
                    ids[p.development_id], p.shared, read.texts.get(p.item_id, ""), titles
                ),
            }
            for p in adopted
        ],
    )


def refresh(conn: sqlite3.Connection, ids: Iterable[int]) -> None:
    """Work the developments' counts, outlets and languages out again from their flags."""
    batch = json.dumps(list(ids))
    for statement in (_COUNTS, _COVERAGE, _OUTLET_COUNT):
        conn.execute(statement, (batch,))


def regroup(conn: sqlite3.Connection, topic: str, entities: EntityIndex = NO_ENTITIES) -> list[int]:
    """Group every flag of ``topic`` again (a migration, a rescore), keeping ids; the
    adaptive flags are worked out again with them."""
    conn.execute("DELETE FROM flags WHERE topic = ? AND adaptive = 1", (topic,))
    read = read_all(conn, topic, entities)
    grouped = developments.group_all(read.items)
    placements = [p for group in grouped for p in group]
    keyed = _Read(read.items, read.old, _keyed(grouped, read.items), entities, read.texts)
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
        mine = [by_id[placement.item_id] for placement in group if not placement.adopted]
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

    def place_new_flags(
        self,
        entities: Mapping[str, EntityIndex] | None = None,
        seen_since: datetime | None = None,
        now: datetime | None = None,
    ) -> dict[str, list[Placement]]:
        """Place every flag not in a development yet, and flag the reports first seen
        ``seen_since`` (a cycle's start) that clearly belong to a flagged
        development (adaptive tracking; flagged at ``now``); return the placements per
        topic. ``entities``: each topic's alias sets (none: no adaptive tracking).

        Decided before the transaction; if another connection wrote meanwhile, read
        and decided again inside it."""
        named = {name: index for name, index in (entities or {}).items() if index.terms}
        unplaced = self.conn.execute(
            "SELECT DISTINCT topic FROM flags WHERE development_id IS NULL"
        ).fetchall()
        topics = sorted({str(r[0]) for r in unplaced} | (set(named) if seen_since else set()))
        placed: dict[str, list[Placement]] = {}
        for topic in topics:
            placements = self._place(topic, named.get(topic, NO_ENTITIES), seen_since, now)
            if placements:
                placed[topic] = placements
        return placed

    def _place(
        self, topic: str, entities: EntityIndex, seen_since: datetime | None, now: datetime | None
    ) -> list[Placement]:
        version = data_version(self.conn)
        read = read_unplaced(self.conn, topic, entities, seen_since)
        placements = developments.place(read.items, read.pool)
        with self.transaction() as conn:
            if data_version(conn) != version:
                read = read_unplaced(conn, topic, entities, seen_since)
                placements = developments.place(read.items, read.pool)
            write_placements(conn, topic, read, placements, now or seen_since)
        return placements

    def regroup_developments(
        self, topics: Sequence[str], entities: Mapping[str, EntityIndex] | None = None
    ) -> None:
        """Group the flags of these topics again (after a rescore changed them)."""
        with self.transaction() as conn:
            for topic in topics:
                regroup(conn, topic, (entities or {}).get(topic, NO_ENTITIES))

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

    def development(
        self, development_id: int, *, limit: int = -1, offset: int = 0
    ) -> dict[str, Any] | None:
        """One development with its timeline (its reports, oldest first: ``limit`` of
        them from ``offset`` on; every one by default), read from an index."""
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
            "ORDER BY flags.published, flags.item_id LIMIT ? OFFSET ?",
            (development_id, limit, offset),
        ).fetchall()
        return _listed(row) | {"timeline": [dict(r) for r in timeline]}


def _listed(row: sqlite3.Row) -> dict[str, Any]:
    found = dict(row)
    found["outlets"] = json.loads(found["outlets"])
    found["languages"] = json.loads(found["languages"])
    return found
