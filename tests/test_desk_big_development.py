"""The desk stays fast whatever a development's size (#16, #17): an entry names the
first outlets and says how many more, the development page shows its timeline a page
at a time, reviews still decide what the inbox shows, and the work of rendering a
development's entry does not grow with its reports. Built over ``dbfactory``'s
database, whose story development grows here to hundreds of reports (copies of its
story carried by one new outlet each), written as the service writes them and counted
again by ``store.developments.refresh``."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbfactory import STORY_ITEM_IDS, TOPIC, populated_db
from test_desk import METADATA, csrf, get, post, review_form
from test_desk_development import development_of, plain

from tracker import browse, desk, desk_development
from tracker.store import Store
from tracker.store.developments import refresh

START = datetime(2026, 3, 10, 8, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "db" / "news.db"
    path.parent.mkdir()
    populated_db(path)
    return path


@pytest.fixture
def app(db_path: Path) -> Any:
    return browse.make_app(db_path, METADATA)


def grow(db_path: Path, reports: int, first: int = 0) -> int:
    """Add ``reports`` copies of the story development's story, one new outlet each,
    flagged in that development; its id."""
    development = development_of(db_path, STORY_ITEM_IDS[0])
    with Store(db_path) as store, store.conn:
        conn = store.conn
        story = conn.execute("SELECT story_id FROM items WHERE id = ?", (STORY_ITEM_IDS[0],))
        story_id = story.fetchone()[0]
        for n in range(first, first + reports):
            at = (START + timedelta(minutes=n)).isoformat()
            url = f"https://outlet{n}.example.org/news/talks"
            feed = conn.execute(
                "INSERT INTO feeds (url, name, created_at) VALUES (?, ?, ?)",
                (f"{url}/feed", f"Outlet {n:04}", at),
            ).lastrowid
            item = conn.execute(
                "INSERT INTO items (url, link, title, published, first_seen_at, content_hash, "
                "feed_id, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (url, url, f"Copy {n} of the talks", at, at, f"{n:064x}", feed, story_id),
            ).lastrowid
            conn.execute(
                "INSERT INTO item_feeds VALUES (?, ?, ?, ?, ?, ?)",
                (feed, url, item, at, at, f"{n:064x}"),
            )
            conn.execute(
                "INSERT INTO flags (item_id, topic, score, reasons, rule_version, flagged_at, "
                "development_id, development_role) VALUES (?, ?, 1, 'flagged: copy', 'v1', ?, "
                "?, 'repeat')",
                (item, TOPIC, at, development),
            )
        refresh(conn, [development])
    return development


def test_an_entry_names_the_first_outlets_and_how_many_more(app: Any, db_path: Path) -> None:
    development = grow(db_path, 40)
    with Store(db_path) as store:
        found = store.development(development, limit=0)
    assert found is not None and found["outlet_count"] > desk.OUTLETS_SHOWN
    page = plain(get(app, "/").text)

    more = found["outlet_count"] - desk.OUTLETS_SHOWN
    assert f" and {more} more" in page
    assert "Outlet 0039" not in page  # the last to carry it: counted, not named
    assert f"{found['reports']} reports, first by {found['first_outlet']}" in page


def timeline(app: Any, path: str) -> str:
    """The timeline part of a development's page (its outlets are named above it)."""
    return plain(get(app, path).text).split("<h2>Timeline</h2>", 1)[1]


def test_the_development_page_shows_its_timeline_a_page_at_a_time(app: Any, db_path: Path) -> None:
    development = grow(db_path, 2 * desk_development.TIMELINE_PAGE)
    first = timeline(app, f"/-/desk/development?id={development}")
    with Store(db_path) as store:
        found = store.development(development, limit=0)
    assert found is not None
    reports = found["reports"]
    last = -(-reports // desk_development.TIMELINE_PAGE)

    assert f"Reports 1–{desk_development.TIMELINE_PAGE} of {reports}" in first
    assert f"page 1 of {last}" in first and f"page={last}" in first
    assert "Outlet 0000" in first and "Outlet 0199" not in first
    final = timeline(app, f"/-/desk/development?id={development}&page={last}")
    assert f"of {reports}" in final and "Outlet 0199" in final and "Outlet 0000" not in final
    beyond = timeline(app, f"/-/desk/development?id={development}&page=999")
    assert f"page {last} of {last}" in beyond  # the last page, not an empty one
    assert get(app, f"/-/desk/development?id={development}&page=x").status_code == 200


def test_timeline_pages_say_where_they_are() -> None:
    pages = desk_development.timeline_pages(250, 3)
    assert pages | {} == {
        "page": 3,
        "last": 3,
        "first_report": 201,
        "last_report": 250,
        "previous": 2,
        "next": None,
    }
    assert desk_development.timeline_pages(0, 5)["page"] == 1
    assert desk_development.timeline_pages(100, 0)["next"] is None


def test_reviews_decide_a_big_developments_place_in_the_inbox(app: Any, db_path: Path) -> None:
    development = grow(db_path, 60)
    anchor = f'id="unit-{development}-{TOPIC}"'
    assert anchor in get(app, "/").text
    token, cookies = csrf(app)
    post(app, "/-/desk/review", review_form(token, "wrong"), cookies=cookies)
    assert anchor not in get(app, "/").text  # every report wrong: off the inbox
    assert anchor in get(app, "/?status=wrong").text

    with Store(db_path) as store:  # one report reviewed right after the whole
        copy = store.conn.execute(
            "SELECT item_id FROM flags WHERE development_id = ? AND reasons = 'flagged: copy' "
            "LIMIT 1",
            (development,),
        ).fetchone()[0]
    form = review_form(token, "important", copy) | {"scope": "flag"}
    assert post(app, "/-/desk/review", form, cookies=cookies).status_code == 302
    assert anchor in get(app, "/").text  # an open report brings it back
    assert anchor in get(app, "/?status=important").text


def desk_steps(db_path: Path) -> int:
    """SQLite's virtual-machine steps (in thousands) to read the desk's inbox."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    params = desk.DeskFilters().params("") | {"scan": desk.FIRST_SCAN}
    with closing(sqlite3.connect(db_path)) as conn:
        conn.set_progress_handler(count, 1000)
        rows = conn.execute(desk.DESK_SQL, params).fetchall()
    assert rows
    return steps


def test_an_entry_costs_the_same_for_a_development_ten_times_bigger(db_path: Path) -> None:
    grow(db_path, 100)
    small = desk_steps(db_path)
    grow(db_path, 900, first=100)
    big = desk_steps(db_path)

    assert big < small * 1.5 + 20, (small, big)  # reading every report: ten times the work


def test_the_atom_feed_names_the_first_outlets_of_a_big_development(
    app: Any, db_path: Path
) -> None:
    development = grow(db_path, 40)
    with Store(db_path) as store:
        found = store.development(development, limit=0)
    assert found is not None
    feed = get(app, "/news/flagged_atom.atom").text

    assert f"urn:tracker:development:{TOPIC}:{development}" in feed
    assert f" and {found['outlet_count'] - 12} more" in feed
    assert "Outlet 0000" in feed and "Outlet 0039" not in feed
