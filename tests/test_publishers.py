"""Aggregator publishers stored and shown as the outlet (#19), through the real poll path:
a loopback server serves a Google News–shaped feed and the publisher's own feed, and
``tracker poll --once`` writes a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import Run, make_project
from feedserver import static
from httpserver import LocalServer

DATA = Path(__file__).parent / "data" / "aggregators"
REUTERS_ARTICLE = (
    "https://www.reuters.com/world/asia-pacific/us-envoy-meets-taliban-doha-2021-09-19/"
)
REUTERS_FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Reuters World</title>
<link>https://www.reuters.com/world/</link><description>World news</description>
<item><title>US envoy meets Taliban in Doha</title><link>{REUTERS_ARTICLE}</link>
<guid>reuters-us-envoy-doha</guid><pubDate>Sun, 19 Sep 2021 18:00:00 GMT</pubDate>
<description>The US special envoy met Taliban officials in Doha.</description></item>
</channel></rss>""".encode()

pytestmark = pytest.mark.slow  # spawns tracker


def rows(db: Path, sql: str) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql).fetchall()


def test_publisher_is_stored_and_is_the_outlet(tmp_path: Path, run_tracker: Run) -> None:
    with LocalServer() as server:
        server.route("/reuters.xml", static(REUTERS_FEED))  # type: ignore[arg-type]
        google = (DATA / "google-news-search.xml").read_bytes()
        server.route("/google.xml", static(google))  # type: ignore[arg-type]
        own, aggregator = server.url("/reuters.xml"), server.url("/google.xml")
        make_project(tmp_path, [own, aggregator])
        # The publisher's own feed first: its item has no publisher until Google's copy.
        run_tracker("poll", "--once", own)
        db = tmp_path / "db" / "tracker.db"
        assert [r["publisher"] for r in rows(db, "SELECT publisher FROM items")] == [""]
        run_tracker("poll", "--once")
        flagged = json.loads(run_tracker("flagged", "--json").stdout)
        # The own feed's entry changes: the item is refreshed, its publisher stays.
        edited = REUTERS_FEED.replace(b"met Taliban officials", b"met senior Taliban officials")
        server.route("/reuters.xml", static(edited))  # type: ignore[arg-type]
        run_tracker("poll", "--once", own)

    items = {r["title"]: r for r in rows(db, "SELECT * FROM items")}
    reuters = items["US envoy meets Taliban in Doha"]
    # One item for the article from both feeds (URL match), its publisher filled in.
    assert reuters["url"] == REUTERS_ARTICLE
    assert "senior Taliban officials" in reuters["summary"]  # refreshed
    assert (reuters["publisher"], reuters["publisher_url"]) == (
        "Reuters",
        "https://www.reuters.com/",
    )
    carried = rows(db, f"SELECT feed_id FROM item_feeds WHERE item_id = {reuters['id']}")
    assert len(carried) == 2
    assert items["Taliban hold talks on aid in Kabul"]["publisher"] == "Voice of America"
    assert items["Taliban name acting ministers"]["publisher"] == "BBC News"

    view = rows(db, "SELECT feed, publisher, title FROM flagged")
    by_feed = {(r["feed"], r["publisher"]) for r in view if r["title"] == reuters["title"]}
    # One row per feed that carried it; the outlet is the publisher in both.
    assert by_feed == {
        ("Reuters World", "Reuters"),
        ('"Taliban "United States"" - Google News', "Reuters"),
    }
    assert not [r for r in view if "Washington Times" in r["publisher"] or "Qatar" in r["title"]]
    assert not [r for r in view if "Radio Free Europe" in r["publisher"]]
    story = next(s for s in flagged if s["title"] == reuters["title"])
    assert story["publishers"] == "Reuters"
