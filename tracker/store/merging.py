"""Items stored under an aggregator's link: their article's URL, merging with the item
already stored under it.

Owns the upgrade (``unwrap_aggregator_urls``) that gives items stored before aggregator
links were unwrapped (Bing's ``apiclick.aspx?...&url=...`` click-throughs, older Google
News ids that carry the URL) the URL the parser gives such an item now
(``aggregators.article_url``), and ``merge_item``: one item's rows moved onto another
stored under that URL, so that no feed link, match, verdict, flag, review or story
reference is lost and ``items.url`` stays unique. The merged item's full-text rows
go with it (the delete trigger); its story bands go, the kept item has its own.

Must not: decide what an item's URL is (the parser's function does), open a
transaction (it runs inside the upgrade's), or regroup developments itself (it returns
the topics whose flags moved; the upgrade regroups them).
"""

from __future__ import annotations

import sqlite3

from tracker.urls import canonical_url

# Only these can be an aggregator's link; the parser's function then says whether it is.
_CANDIDATES = (
    "SELECT id, url FROM items WHERE url LIKE '%bing.com/%apiclick.aspx%' "
    "OR url LIKE 'http%://news.google.com/%'"
)


def unwrap_aggregator_urls(conn: sqlite3.Connection) -> set[str]:
    """Every item stored under an aggregator's link moved to its article's URL, merged
    into the item stored there when there is one; the topics whose flags moved."""
    candidates = conn.execute(_CANDIDATES).fetchall()
    if not candidates:
        return set()  # a new database, or none of its items came from an aggregator
    # Imported here (a migration's need), and only for items that may need it:
    # importing the parse package loads feedparser and lxml, which every command's main
    # process would pay for and never use.
    from tracker.parse.aggregators import article_url

    touched: set[str] = set()
    for item_id, old_url in candidates:
        new_url = canonical_url(article_url(str(old_url)))
        if not new_url or new_url == old_url:
            continue
        row = conn.execute("SELECT id FROM items WHERE url = ?", (new_url,)).fetchone()
        if row is None:
            _rename(conn, int(item_id), str(old_url), new_url)
        else:
            touched |= merge_item(conn, int(item_id), int(row[0]), str(old_url))
    return touched


def _rename(conn: sqlite3.Connection, item_id: int, old_url: str, new_url: str) -> None:
    conn.execute("UPDATE items SET url = ? WHERE id = ?", (new_url, item_id))
    _rekey_feeds(conn, item_id, item_id, old_url, new_url)
    conn.execute("UPDATE reviews SET item_url = ? WHERE item_id = ?", (new_url, item_id))


def merge_item(conn: sqlite3.Connection, gone: int, kept: int, old_url: str) -> set[str]:
    """Item ``gone`` (stored under ``old_url``) merged into item ``kept``: its rows moved
    onto ``kept``, then deleted; the topics whose flags moved or merged."""
    new_url = str(conn.execute("SELECT url FROM items WHERE id = ?", (kept,)).fetchone()[0])
    _rekey_feeds(conn, gone, kept, old_url, new_url)
    _merge_verdicts(conn, gone, kept)
    topics = _merge_flags(conn, gone, kept)
    _move_references(conn, gone, kept, new_url)
    _keep_fields(conn, gone, kept)
    conn.execute("DELETE FROM story_bands WHERE item_id = ?", (gone,))
    conn.execute("DELETE FROM items WHERE id = ?", (gone,))
    return topics


def _rekey_feeds(
    conn: sqlite3.Connection, item_id: int, kept: int, old_url: str, new_url: str
) -> None:
    """The feed links of ``item_id`` given to ``kept``; an entry keyed by the old URL is
    keyed by the new one, as the parser keys it now. A link the feed already has under
    that key keeps the earlier first sighting."""
    rows = conn.execute(
        "SELECT feed_id, entry_key, first_seen_at FROM item_feeds WHERE item_id = ?", (item_id,)
    ).fetchall()
    for feed_id, key, first_seen in rows:
        new_key = new_url if key == old_url else key
        taken = conn.execute(
            "SELECT 1 FROM item_feeds WHERE feed_id = ? AND entry_key = ? AND item_id != ?",
            (feed_id, new_key, item_id),
        ).fetchone()
        if taken:
            conn.execute(
                "UPDATE item_feeds SET first_seen_at = MIN(first_seen_at, ?) "
                "WHERE feed_id = ? AND entry_key = ?",
                (first_seen, feed_id, new_key),
            )
            conn.execute(
                "DELETE FROM item_feeds WHERE feed_id = ? AND entry_key = ?", (feed_id, key)
            )
        else:
            conn.execute(
                "UPDATE item_feeds SET item_id = ?, entry_key = ? "
                "WHERE feed_id = ? AND entry_key = ?",
                (kept, new_key, feed_id, key),
            )


def _merge_verdicts(conn: sqlite3.Connection, gone: int, kept: int) -> None:
    """Matches, entities named and assessments: a topic only ``gone`` has moves over;
    for a topic both have, the kept item's stay and say relevant or flagged if either
    did (and the entities either named)."""
    conn.execute(
        "UPDATE matches SET item_id = ? WHERE item_id = ? "
        "AND topic NOT IN (SELECT topic FROM matches WHERE item_id = ?)",
        (kept, gone, kept),
    )
    conn.execute("DELETE FROM matches WHERE item_id = ?", (gone,))
    conn.execute("UPDATE OR IGNORE item_entities SET item_id = ? WHERE item_id = ?", (kept, gone))
    conn.execute("DELETE FROM item_entities WHERE item_id = ?", (gone,))
    conn.execute(
        "UPDATE assessments SET relevant = MAX(assessments.relevant, other.relevant), "
        "flagged = MAX(assessments.flagged, other.flagged), "
        "score = MAX(assessments.score, other.score) "
        "FROM (SELECT topic, relevant, flagged, score FROM assessments WHERE item_id = ?) "
        "AS other WHERE assessments.item_id = ? AND assessments.topic = other.topic",
        (gone, kept),
    )
    conn.execute("UPDATE OR IGNORE assessments SET item_id = ? WHERE item_id = ?", (kept, gone))
    conn.execute("DELETE FROM assessments WHERE item_id = ?", (gone,))


def _merge_flags(conn: sqlite3.Connection, gone: int, kept: int) -> set[str]:
    """A topic only ``gone`` flagged moves over; for a topic both flagged, the earlier
    flag is kept (an alert sent for either counts as sent)."""
    topics = {str(r[0]) for r in conn.execute("SELECT topic FROM flags WHERE item_id = ?", (gone,))}
    conn.execute(
        "UPDATE flags SET notified_at = COALESCE(flags.notified_at, other.notified_at) "
        "FROM (SELECT item_id, topic, notified_at FROM flags WHERE item_id IN (?, ?)) AS other "
        "WHERE flags.item_id IN (?, ?) AND other.item_id != flags.item_id "
        "AND other.topic = flags.topic",
        (gone, kept, gone, kept),
    )
    conn.execute(
        "DELETE FROM flags WHERE item_id = ? AND EXISTS (SELECT 1 FROM flags AS other "
        "WHERE other.item_id = ? AND other.topic = flags.topic "
        "AND other.flagged_at < flags.flagged_at)",
        (kept, gone),
    )
    conn.execute("UPDATE OR IGNORE flags SET item_id = ? WHERE item_id = ?", (kept, gone))
    conn.execute("DELETE FROM flags WHERE item_id = ?", (gone,))
    return topics


def _move_references(conn: sqlite3.Connection, gone: int, kept: int, new_url: str) -> None:
    """Reviews, story ids and developments that named ``gone`` name ``kept``."""
    story = conn.execute("SELECT story_id FROM items WHERE id = ?", (kept,)).fetchone()[0]
    story = kept if story is None else int(story)
    conn.execute(
        "UPDATE reviews SET item_id = ?, item_url = ? WHERE item_id = ?", (kept, new_url, gone)
    )
    conn.execute("UPDATE reviews SET story_id = ? WHERE story_id = ?", (story, gone))
    conn.execute(
        "UPDATE items SET story_id = ? WHERE story_id = ? AND id != ?", (story, gone, gone)
    )
    conn.execute("UPDATE developments SET first_item_id = ? WHERE first_item_id = ?", (kept, gone))


def _keep_fields(conn: sqlite3.Connection, gone: int, kept: int) -> None:
    """What only ``gone`` knew (its publisher, its article's text) stays on ``kept``."""
    conn.execute(
        "UPDATE items SET publisher = COALESCE(NULLIF(items.publisher, ''), other.publisher), "
        "publisher_url = COALESCE(NULLIF(items.publisher_url, ''), other.publisher_url), "
        "article_text = COALESCE(NULLIF(items.article_text, ''), other.article_text), "
        "article_status = CASE WHEN items.article_text = '' AND other.article_text != '' "
        "THEN other.article_status ELSE items.article_status END, "
        "first_seen_at = MIN(items.first_seen_at, other.first_seen_at) "
        "FROM (SELECT * FROM items WHERE id = ?) AS other WHERE items.id = ?",
        (gone, kept),
    )
