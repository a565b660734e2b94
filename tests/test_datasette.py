"""Browsing with Datasette: the metadata, canned queries, Atom feed, dashboard and plugin.

Every page is fetched through Datasette's own test client from the app that
``tracker browse`` serves (``browse.make_app``), over the database ``dbfactory``
writes.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import feedparser
import pytest
from dbfactory import (
    DEAD_ERROR,
    SHARED_ITEM_ID,
    STORY_ITEM_IDS,
    STORY_TITLE,
    TOPIC,
    XSS_ITEM_ID,
    populated_db,
)

from tracker import browse
from tracker.datasette_plugin import highlight, is_web_url, link_html, reasons_html, terms_pattern
from tracker.errors import ConfigError, StoreError
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[1]
METADATA = ROOT / "config" / "datasette.yml"
OUTLETS = {"Kabul Wire", "Daily Herald", "Radio Asia"}
FLAGGED_IDS = {1, 2, 4, 8, 9, 14, 16}
TESTED_QUERIES = {
    "flagged_followups",
    "latest_matches",
    "story",
    "development",
    "coverage",
    "feed_health",
    "flags_per_day",
    "flags_per_outlet",
    "search_flagged",
    "search_items",
    "flagged_atom",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db_path = tmp_path_factory.mktemp("browse") / "tracker.db"
    populated_db(db_path)
    return browse.make_app(db_path, METADATA)


def get(app: Any, path: str, **params: str) -> Any:
    """GET ``path`` from the app; fail on anything but 200."""
    url = f"{path}?{urlencode(params)}" if params else path
    response = asyncio.run(app.client.get(url))
    assert response.status_code == 200, (url, response.text[:2000])
    return response


def rows(app: Any, query: str, **params: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = get(app, f"/tracker/{query}.json", _shape="array", **params).json()
    return data


def html(app: Any, path: str, **params: str) -> str:
    text: str = get(app, path, **params).text
    return text


# ---- canned queries ----------------------------------------------------------------


def test_every_canned_query_has_a_test(app: Any) -> None:
    queries = get(app, "/tracker.json").json()["queries"]
    assert {query["name"] for query in queries} == TESTED_QUERIES


def test_flagged_followups_has_one_row_per_story_with_its_outlets(app: Any) -> None:
    found = rows(app, "flagged_followups", topic="", since="")
    assert [row["story_id"] for row in found] == [1, 2, 4, 9, 16]  # newest first
    story = found[0]
    assert story["title"] == f"{STORY_TITLE} - Kabul Wire"  # the first copy published
    assert story["url"] == "https://news.example.org/2026/03/envoy-doha"
    assert story["outlets"] == 3
    assert set(story["feeds"].split(",")) == OUTLETS
    assert "Washington" in story["reasons"]  # from the best-scoring copy (Radio Asia's)
    assert story["score"] == 1.1
    assert found[1]["outlets"] == 2  # one URL carried by two feeds


def test_flagged_followups_filters_by_topic_and_since(app: Any) -> None:
    assert len(rows(app, "flagged_followups", topic=TOPIC)) == 5
    assert rows(app, "flagged_followups", topic="another-topic") == []
    recent = rows(app, "flagged_followups", since="2026-03-08")
    assert [row["story_id"] for row in recent] == [1, 2]


def test_latest_matches_lists_flagged_and_unflagged_items_newest_first(app: Any) -> None:
    found = rows(app, "latest_matches", topic="")
    published = [row["published"] for row in found]
    assert published == sorted(published, reverse=True)
    by_item = {row["item_id"]: row for row in found}
    assert by_item[15]["flagged"] == 0  # Pakistan and Taliban: relevant, no flag
    assert by_item[15]["matched"] == "Taliban"
    assert by_item[1]["flagged"] == 1
    assert set(by_item[1]["matched"].split(",")) == {"Taliban", "US", "envoy"}
    assert by_item[1]["groups"] in ("taliban,us", "us,taliban")
    assert rows(app, "latest_matches", topic=TOPIC) == found
    assert rows(app, "latest_matches", topic="another-topic") == []


def test_development_shows_its_timeline_with_outlets_languages_and_roles(app: Any) -> None:
    [first] = rows(app, "developments", _sort_desc="reports", _size="1")
    found = rows(app, "development", id=str(first["id"]))

    assert len(found) == first["reports"] >= 2
    assert [row["published"] for row in found] == sorted(row["published"] for row in found)
    assert found[0]["role"] == "new"
    assert {row["role"] for row in found[1:]} <= {"update", "repeat"}
    assert {row["outlet"] for row in found} == set(json.loads(first["outlets"]))
    assert rows(app, "development", id="") == []


def test_coverage_gives_each_day_the_outlets_and_languages_first_reached(app: Any) -> None:
    [first] = rows(app, "developments", _sort_desc="reports", _size="1")
    days = rows(app, "coverage", id=str(first["id"]))

    assert [d["day"] for d in days] == sorted({d["day"] for d in days})
    reached = [o for d in days for o in (d["new_outlets"] or "").split(", ") if o]
    assert reached == json.loads(first["outlets"])  # each once, in the order they came
    assert reached[0] == first["first_outlet"]
    assert days[-1]["outlets_by_then"] == first["outlet_count"]
    assert sum(d["reports"] for d in days) == first["reports"]
    assert rows(app, "coverage", id="") == []
    assert "Coverage over time" in html(app, "/tracker/development_coverage")


def test_developments_table_page_and_flagged_view_name_developments(app: Any) -> None:
    page = html(app, "/tracker/developments")
    assert "The developments an analyst follows" in page
    flagged = rows(app, "flagged", _size="max")
    assert all(isinstance(row["development_id"], int) for row in flagged)


def test_story_lists_every_outlet_that_carried_it(app: Any) -> None:
    found = rows(app, "story", story_id=str(STORY_ITEM_IDS[0]))
    assert [row["item_id"] for row in found] == list(STORY_ITEM_IDS)  # by publication
    assert [row["feed"] for row in found] == ["Kabul Wire", "Daily Herald", "Radio Asia"]
    assert all(row["flagged_topics"] == TOPIC for row in found)
    shared = rows(app, "story", story_id=str(SHARED_ITEM_ID))
    assert {row["feed"] for row in shared} == {"Kabul Wire", "Daily Herald"}
    assert {row["item_id"] for row in shared} == {SHARED_ITEM_ID}
    assert rows(app, "story", story_id="") == []


def test_feed_health_puts_dead_and_failing_feeds_first_then_the_slowest(app: Any) -> None:
    found = rows(app, "feed_health")
    assert [(row["feed"], row["state"]) for row in found] == [
        ("https://dead.example.org/rss", "dead"),
        ("Radio Asia", "failing"),
        ("Daily Herald", "ok"),
        ("Kabul Wire", "ok"),
    ]
    dead, failing, slow, fast = found
    assert dead["last_error"] == DEAD_ERROR
    assert dead["failures"] == 3
    assert dead["last_success_at"] is None
    assert failing["last_error_kind"] == "timeout"
    assert failing["last_success_at"] == "2026-03-10T09:00:00+00:00"
    assert slow["avg_duration_ms"] == 2500
    assert fast["avg_duration_ms"] == 105
    assert fast["items"] == 7


def test_flags_per_day_counts_stories_on_their_first_publication_day(app: Any) -> None:
    found = rows(app, "flags_per_day")
    assert {row["day"]: row["stories"] for row in found} == {
        "2026-03-09": 1,
        "2026-03-08": 1,
        "2026-03-07": 1,
        "2026-03-06": 2,
    }
    assert {row["topic"] for row in found} == {TOPIC}
    assert [row["day"] for row in rows(app, "flags_per_day", since="2026-03-08")] == [
        "2026-03-09",
        "2026-03-08",
    ]
    assert rows(app, "flags_per_day", topic="another-topic") == []


def test_flags_per_outlet_counts_stories_per_feed(app: Any) -> None:
    found = rows(app, "flags_per_outlet", topic=TOPIC)
    assert [(row["feed"], row["stories"]) for row in found] == [
        ("Daily Herald", 3),
        ("Kabul Wire", 3),
        ("Radio Asia", 2),
    ]
    assert rows(app, "flags_per_outlet", topic="another-topic") == []


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Kabul", {1, 16}),  # items 6, 13 and 15 mention Kabul but are not flagged
        ('"embassy in Kabul"', {1, 16}),
        ("Taliban AND Doha", {1, 2, 8, 9, 14}),
        ("Taliban NOT Doha", {4}),
        ("", FLAGGED_IDS),
    ],
)
def test_search_flagged_searches_only_flagged_items(app: Any, q: str, expected: set[int]) -> None:
    assert {row["item_id"] for row in rows(app, "search_flagged", q=q)} == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Kabul", [16, 15, 13, 6, 1]),  # flagged or not, the items stored last first
        ("Taliban NOT Doha", None),
        ("", []),  # no words, no items (the query asks for some)
    ],
)
def test_search_items_searches_every_item_stored_last_first(
    app: Any, q: str, expected: list[int] | None
) -> None:
    found = [row["item_id"] for row in rows(app, "search_items", q=q)]
    if expected is None:  # the same items as the items table's own search
        table = get(app, "/tracker/items.json", _search=q, _shape="array", _size="max").json()
        expected = sorted((row["id"] for row in table), reverse=True)
        assert 4 in expected
    assert found == expected


# ---- the Atom feed -----------------------------------------------------------------


def development_of(app: Any, item_id: int) -> int:
    [flag] = get(app, "/tracker/flags.json", item_id=str(item_id), _shape="array").json()
    return int(flag["development_id"])


def test_atom_feed_has_one_entry_per_development_linking_to_its_first_report(app: Any) -> None:
    response = get(app, "/tracker/flagged_atom.atom")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "tracker flagged follow-ups"
    entries = {entry.id: entry for entry in feed.entries}
    developments = get(app, "/tracker/developments.json", _shape="array").json()
    assert set(entries) == {f"urn:tracker:development:{TOPIC}:{d['id']}" for d in developments}
    story = development_of(app, STORY_ITEM_IDS[0])
    entry = entries[f"urn:tracker:development:{TOPIC}:{story}"]
    [listed] = [d for d in developments if d["id"] == story]
    assert entry.title == listed["title"]  # its first report's
    assert entry.link.startswith("https://")
    assert "Carried by: Radio Asia, Kabul Wire, Daily Herald" in entry.content[0].value
    assert f"Reports: {listed['reports']}" in entry.content[0].value
    assert entry.content[0].type == "text/plain"


def test_atom_feed_keeps_text_plain_and_links_only_to_web_urls(app: Any) -> None:
    body = get(app, "/tracker/flagged_atom.atom").text
    assert "javascript:" not in body
    assert "<b>live</b>" not in body  # the title's markup is escaped text
    xss = development_of(app, XSS_ITEM_ID)
    entry = next(e for e in feedparser.parse(body.encode()).entries if e.id.endswith(f":{xss}"))
    assert entry.link == f"development?id={xss}"  # relative: this development's page
    for link in (e.link for e in feedparser.parse(body.encode()).entries):
        assert link.startswith(("https://", "development?"))


def test_atom_feed_filters_by_topic(app: Any) -> None:
    feed = feedparser.parse(get(app, "/tracker/flagged_atom.atom", topic=TOPIC).content)
    developments = get(app, "/tracker/developments.json", _shape="array").json()
    assert len(feed.entries) == len(developments) == 4
    assert {entry.title for entry in feed.entries} == {d["title"] for d in developments}


def test_atom_feed_with_nothing_flagged_is_a_feed_that_says_so(app: Any) -> None:
    feed = feedparser.parse(get(app, "/tracker/flagged_atom.atom", topic="another-topic").content)
    assert not feed.bozo
    [entry] = feed.entries
    assert entry.title == "No follow-ups flagged yet"
    assert "for topic another-topic" in entry.content[0].value
    assert entry.updated == "2026-03-04T12:00:00+00:00"  # when the first feed was added


def test_every_canned_query_runs_on_an_empty_database(tmp_path: Path) -> None:
    db_path = tmp_path / "tracker.db"
    Store(db_path).close()
    empty = browse.make_app(db_path, METADATA)
    for query in TESTED_QUERIES - {"flagged_atom"}:
        assert rows(empty, query) == [], query
    feed = feedparser.parse(get(empty, "/tracker/flagged_atom.atom").content)
    assert [entry.title for entry in feed.entries] == ["No follow-ups flagged yet"]
    assert html(empty, "/-/dashboards/flags")


# ---- tables, search and facets -----------------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("Taliban AND Doha", {1, 2, 8, 9, 14}),
        ('"embassy in Kabul"', {1, 16}),
        ("Kabul NOT embassy", {6, 13, 15}),
    ],
)
def test_items_search_takes_raw_fts5_syntax(app: Any, search: str, expected: set[int]) -> None:
    found = get(app, "/tracker/items.json", _search=search, _shape="array").json()
    assert {row["id"] for row in found} == expected
    page = html(app, "/tracker/items", _search=search)
    assert f"{len(expected)} rows where search matches" in page


def test_items_are_sorted_newest_first(app: Any) -> None:
    found = get(app, "/tracker/items.json", _shape="array").json()
    published = [row["published"] for row in found]
    assert len(found) == 20
    assert published == sorted(published, reverse=True)


def test_feed_ids_show_feed_titles_and_facets_are_on(app: Any) -> None:
    data = get(app, "/tracker/items.json", _labels="on").json()
    assert {row["feed_id"]["label"] for row in data["rows"]} == OUTLETS
    facets = data["facet_results"]
    assert {facet["label"] for facet in facets["feed_id"]["results"]} == OUTLETS
    assert {facet["value"] for facet in facets["language"]["results"]} == {"en", "ru"}
    flagged = get(app, "/tracker/flagged.json").json()["facet_results"]
    assert {"topic", "feed", "language"} <= set(flagged)
    relevant = get(app, "/tracker/relevant.json").json()["facet_results"]
    assert {facet["value"] for facet in relevant["flagged"]["results"]} == {0, 1}


def test_noisy_tables_are_hidden_and_tables_described(app: Any) -> None:
    tables = {table["name"]: table for table in get(app, "/tracker.json").json()["tables"]}
    assert tables["story_bands"]["hidden"]
    assert tables["items_fts"]["hidden"]
    assert not tables["items"]["hidden"]
    assert "Follow-ups, with the reasons" in html(app, "/tracker/flags")


# ---- rendering: reasons, links, escaping --------------------------------------------


def test_reasons_render_as_a_list_with_matched_terms_marked(app: Any) -> None:
    page = html(app, "/tracker/flagged_followups")
    cells = re.findall(r'<ul class="tracker-reasons".*?</ul>', page, re.S)
    assert len(cells) == 5
    story = cells[0]
    assert story.count("<li>") == 2
    assert "<li>taliban group matched: <mark>Taliban</mark></li>" in story
    assert "<mark>Washington</mark>, <mark>envoy</mark>" in story
    assert "<mark>us</mark>" not in page  # case-sensitive: the group name is not a match
    flags_page = html(app, "/tracker/flags")
    assert flags_page.count('<ul class="tracker-reasons"') == 7
    assert "<mark>Islamic Emirate</mark>" in flags_page


def test_story_ids_link_to_the_story_query(app: Any) -> None:
    page = html(app, "/tracker/flagged_followups")
    assert '<a href="/tracker/story?story_id=1">1</a>' in page
    story_page = html(app, "/tracker/story", story_id="1")
    assert story_page.count("<mark>Taliban</mark>") == 3


@pytest.mark.parametrize(
    ("path", "shows_summary"),
    [
        (f"/tracker/items/{XSS_ITEM_ID}", True),
        ("/tracker/items?_search=spokesman", True),
        ("/tracker/flagged", True),
        ("/tracker/search_flagged?q=spokesman", True),
        ("/tracker/search_items?q=spokesman", True),
        ("/tracker/flagged_followups", False),
        (f"/tracker/story?story_id={XSS_ITEM_ID}", False),
        ("/tracker/latest_matches", False),
        ("/tracker/flags", False),  # the item's title as the label of item_id
    ],
)
def test_item_markup_and_javascript_urls_are_inert(
    app: Any, path: str, shows_summary: bool
) -> None:
    page = html(app, path)
    assert "&lt;b&gt;live&lt;/b&gt;" in page  # the item's title, as text
    assert "<b>live</b>" not in page
    assert "<script>alert" not in page
    assert not re.search(r"href=[\"']?\s*javascript:", page, re.I)
    if shows_summary:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_urls_are_links_only_when_http(app: Any) -> None:
    page = html(app, "/tracker/flagged_followups")
    assert '<a href="https://news.example.org/2026/03/envoy-doha" rel="nofollow' in page
    assert "javascript:alert(1)" in page  # shown as text
    assert not re.search(r"href=[\"']?javascript:", page, re.I)


def test_link_html_links_web_urls_and_escapes_the_rest() -> None:
    assert link_html("https://example.org/a?b=1&c=2") == (
        '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">'
        "https://example.org/a?b=1&amp;c=2</a>"
    )
    assert link_html('javascript:alert("x")') == "javascript:alert(&#34;x&#34;)"
    for value in ("data:text/html,<b>", " https://x.org", "https://", "http://a b", "ftp://x.org"):
        assert not is_web_url(value)
        assert "<a " not in link_html(value)


def test_highlight_escapes_text_and_marks_whole_terms() -> None:
    pattern = terms_pattern(["US", "Islamic Emirate", "negotiat*", ""])
    assert highlight("US <b>and</b> USA discuss", pattern) == (
        "<mark>US</mark> &lt;b&gt;and&lt;/b&gt; USA discuss"
    )
    assert highlight("the Islamic Emirate", pattern) == "the <mark>Islamic Emirate</mark>"
    assert highlight("matched negotiat* twice", pattern) == "matched <mark>negotiat*</mark> twice"
    assert highlight("<i>x</i>", None) == "&lt;i&gt;x&lt;/i&gt;"


def test_reasons_html_accepts_lines_or_a_json_list() -> None:
    from_lines = reasons_html("first: <US>\n\nsecond", ["US"])
    assert "<li>first: &lt;<mark>US</mark>&gt;</li><li>second</li>" in from_lines
    from_json = reasons_html('["one", {"group": "us", "term": "US"}]', ["US"])
    assert "<li>one</li><li>group: us, term: <mark>US</mark></li>" in from_json


# ---- the dashboard -----------------------------------------------------------------


def test_dashboard_page_uses_only_local_scripts(app: Any) -> None:
    page = html(app, "/-/dashboards/flags")
    assert "Flagged stories per day" in page
    assert "Flagged stories per outlet" in page
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert any(src.endswith("vega-lite.min.js") for src in scripts)
    for src in scripts:
        assert src.startswith("/"), src
        assert get(app, src).text


def test_dashboard_charts_query_the_canned_sql(app: Any) -> None:
    config = app.plugin_config("datasette-dashboards")["flags"]
    queries = {query["name"]: query["sql"] for query in get(app, "/tracker.json").json()["queries"]}
    charts = config["charts"]
    assert charts["per-day"]["query"] == queries["flags_per_day"]
    assert charts["per-outlet"]["query"] == queries["flags_per_outlet"]
    # The dashboard fetches each chart as arbitrary SQL with the filters as parameters.
    per_day = get(
        app, "/tracker.json", sql=charts["per-day"]["query"], topic=TOPIC, _shape="array"
    ).json()
    assert sum(row["stories"] for row in per_day) == 5
    per_outlet = get(app, "/tracker.json", sql=charts["per-outlet"]["query"], _shape="array").json()
    assert {row["feed"]: row["stories"] for row in per_outlet} == {
        "Daily Herald": 3,
        "Kabul Wire": 3,
        "Radio Asia": 2,
    }


# ---- browse ------------------------------------------------------------------------


def test_datasette_command_serves_the_live_file_with_metadata_and_plugin(tmp_path: Path) -> None:
    command = browse.datasette_command(tmp_path / "tracker.db", METADATA, "127.0.0.1", 8001)
    assert command[1:4] == ["-m", "tracker.browse", "serve"]
    assert command[4] == str(tmp_path / "tracker.db")
    assert "-i" not in command and "--immutable" not in command
    served = json.loads(Path(command[command.index("--metadata") + 1]).read_text())
    assert "tracker" in served["databases"] and "queries" in served["databases"]["tracker"]
    assert command[command.index("--template-dir") + 1] == str(browse.TEMPLATES)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8001"
    assert "sql_time_limit_ms" in command


def test_datasette_command_serves_a_file_in_a_read_only_folder_immutable(tmp_path: Path) -> None:
    command = browse.datasette_command(
        tmp_path / "tracker.db", METADATA, "127.0.0.1", 8001, immutable=True
    )
    assert command[4:6] == ["-i", str(tmp_path / "tracker.db")]


def test_serve_refuses_missing_files_with_our_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="tracker poll"):
        browse.serve(tmp_path / "tracker.db", METADATA, "127.0.0.1", 8001)
    db_path = tmp_path / "tracker.db"
    db_path.write_bytes(b"")
    with pytest.raises(ConfigError, match="metadata"):
        browse.serve(db_path, tmp_path / "missing.yml", "127.0.0.1", 8001)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("::", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert browse.is_loopback(host) is loopback
