"""Items stored before aggregator links were unwrapped (#19): the upgrade gives them
their article's URL, merging a copy into the item already stored under it.

A database at the schema version before that upgrade (``test_upgrades.build``, with its
feeds, items, flags, verdicts and bands) gains a Bing News feed whose items were stored
under ``apiclick.aspx`` links, as tracker stored them then, and an older Google News id
that carries its URL; ``Store`` then upgrades it.
"""

from __future__ import annotations

import base64
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from test_upgrades import T0, build, read

from tracker.parse import parse_feed
from tracker.store import Store, schema
from tracker.urls import canonical_url

DATA = Path(__file__).resolve().parent / "data" / "aggregators"
BING_FEED = "https://www.bing.com/news/search?q=Taliban&format=rss"
EARLY = "2026-02-28T00:00:00+00:00"  # before T0: the Bing copy was flagged first
REUTERS = (
    "https://www.reuters.com/world/asia-pacific/iskp-claims-attack-near-kabul-airport-2021-09-19/"
)
GOOGLE_ARTICLE = "https://www.pajhwok.com/en/2026/02/20/taliban-talks/"


def bing(url: str) -> str:
    """A Bing click-through to ``url``, as tracker stored it before the unwrapping."""
    link = (
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=614F3E2B"
        f"&url={quote(url, safe='')}&c=11842019386427781736&mkt=en-us"
    )
    return canonical_url(link) or link


def google(url: str) -> str:
    """An older Google News id: a protobuf whose field 4 is the article's URL."""
    data = b"\x08\x13\x22" + bytes([len(url)]) + url.encode()
    token = base64.urlsafe_b64encode(data).decode().rstrip("=")
    return f"https://news.google.com/rss/articles/{token}"


OLD_ITEMS = (
    # id, stored URL, title, story id
    (6, bing("https://news.example/1"), "US envoy meets Taliban officials in Doha", 6),
    (7, "https://herald.example/7", "Envoy and Taliban meet again in Doha", 6),
    (8, bing(REUTERS), "ISKP claims attack near Kabul airport", 8),
    (9, bing("javascript:alert(1)"), "Explainer: who are ISKP?", 9),
    (10, google(GOOGLE_ARTICLE), "Taliban talks in Kabul", 10),
)


def add_bing_rows(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO feeds (id, url, created_at, configured, title) VALUES (5, ?, ?, 1, ?)",
            (BING_FEED, T0, "Taliban - Bing News"),
        )
        for item_id, url, title, story_id in OLD_ITEMS:
            conn.execute(
                "INSERT INTO items (id, url, link, title, summary, published, first_seen_at, "
                "content_hash, feed_id, story_id) VALUES (?, ?, ?, ?, 'doha', ?, ?, ?, 5, ?)",
                (item_id, url, url, title, T0, EARLY, f"h{item_id}", story_id),
            )
            conn.execute(
                "INSERT INTO item_feeds VALUES (5, ?, ?, ?, ?, ?)",
                (url, item_id, EARLY, T0, f"h{item_id}"),
            )
            conn.execute("INSERT INTO story_bands VALUES ('b6', ?)", (item_id,))
        conn.execute(
            "INSERT INTO assessments VALUES (6, 'us-taliban', 1, 1, 0.95, 'v1', ?)", (EARLY,)
        )
        conn.execute(
            "INSERT INTO matches VALUES (6, 'us-taliban', 'us', 'envoy', 'envoy', 'title', 3)"
        )
        conn.execute(
            "INSERT INTO flags (item_id, topic, score, reasons, rule_version, flagged_at, "
            "notified_at, published) VALUES (6, 'us-taliban', 0.95, 'bing', 'v1', ?, ?, ?)",
            (EARLY, EARLY, T0),
        )
        conn.execute(
            "INSERT INTO reviews (item_id, item_url, story_id, scope, topic, label, reviewed_at) "
            "VALUES (6, ?, 6, 'story', 'us-taliban', 'important', ?)",
            (OLD_ITEMS[0][1], T0),
        )
        conn.execute("INSERT INTO items_fts (items_fts) VALUES ('rebuild')")


@pytest.fixture
def upgraded(tmp_path: Path) -> Path:
    path = tmp_path / "tracker.db"
    build(path, schema.AGGREGATOR_URLS - 1)
    add_bing_rows(path)
    with Store(path):
        pass
    return path


def test_a_bing_copy_of_a_stored_article_is_merged_into_it(upgraded: Path) -> None:
    items = dict(read(upgraded, "SELECT id, url FROM items"))
    assert 6 not in items and items[1] == "https://news.example/1"
    # Its feed link, keyed as the parser keys the entry now, is the article's.
    links = read(
        upgraded, "SELECT feed_id, entry_key, first_seen_at FROM item_feeds WHERE item_id = 1"
    )
    assert sorted(links) == [
        (1, "k1", T0),
        (4, "k1", T0),
        (5, "https://news.example/1", EARLY),
    ]
    # The earlier flag is kept, with its alert sent; the verdicts of both are one.
    assert read(
        upgraded,
        "SELECT item_id, flagged_at, notified_at, reasons FROM flags WHERE item_id IN (1, 6)",
    ) == [(1, EARLY, EARLY, "bing")]
    assert read(
        upgraded, "SELECT item_id, flagged, score FROM assessments WHERE item_id IN (1, 6)"
    ) == [(1, 1, 0.95)]
    assert read(upgraded, "SELECT item_id, group_name FROM matches WHERE item_id IN (1, 6)") == [
        (1, "taliban")
    ]
    # The review, the story it led and its development follow the article.
    assert read(upgraded, "SELECT item_id, item_url, story_id, label FROM reviews") == [
        (1, "https://news.example/1", 1, "important")
    ]
    assert read(upgraded, "SELECT story_id FROM items WHERE id = 7") == [(1,)]
    assert read(upgraded, "SELECT COUNT(*) FROM flags WHERE development_id IS NULL") == [(0,)]
    assert read(upgraded, "SELECT COUNT(*) FROM developments WHERE first_item_id = 6") == [(0,)]
    # Nothing of it is left to find.
    assert read(upgraded, "SELECT COUNT(*) FROM story_bands WHERE item_id = 6") == [(0,)]
    found = read(
        upgraded, "SELECT rowid FROM items_fts WHERE items_fts MATCH 'Doha' ORDER BY rowid"
    )
    assert found == [(1,), (2,), (7,), (8,), (9,), (10,)]


def test_other_old_links_get_the_article_url_or_stay(upgraded: Path) -> None:
    items = dict(read(upgraded, "SELECT id, url FROM items"))
    assert items[8] == REUTERS
    assert items[9] == OLD_ITEMS[3][1]  # javascript: is no article URL: kept as it was
    assert items[10] == GOOGLE_ARTICLE
    assert read(upgraded, "SELECT entry_key FROM item_feeds WHERE item_id = 8") == [(REUTERS,)]
    assert read(upgraded, "SELECT link FROM items WHERE id = 8") == [(OLD_ITEMS[2][1],)]


def test_the_next_poll_knows_the_unwrapped_item(upgraded: Path) -> None:
    body = (DATA / "bing-news-search.xml").read_bytes()
    parsed = parse_feed(body, {}, BING_FEED, datetime(2021, 9, 20, tzinfo=UTC))
    [reuters] = [item for item in parsed.items if item.url == REUTERS]
    stored = read(upgraded, "SELECT entry_key, item_id FROM item_feeds WHERE feed_id = 5")
    assert (reuters.key, 8) in stored  # the same entry of the same feed: no new item


def test_a_current_database_is_not_touched_again(upgraded: Path) -> None:
    before = read(upgraded, "SELECT * FROM items ORDER BY id")
    with Store(upgraded):
        pass
    assert read(upgraded, "SELECT * FROM items ORDER BY id") == before
