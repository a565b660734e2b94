"""The desk's unit is the development (#16): its page (timeline with the stories in it,
outlets, languages, coverage over time, surges, first reporter), triage of a whole
development from the page and from ``tracker review --development``, and search
results that name their development; and a development grown to hundreds of reports
(copies of its story carried by one new outlet each): its entry names the first
outlets and how many more, its page shows the timeline a page at a time, reviews still
decide the inbox, and the work of reading the inbox does not grow with its reports.
Built in-process over ``dbfactory``'s database saved as ``news.db``, as
tests/test_desk.py does."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_project
from dbfactory import STORY_ITEM_IDS, STORY_TITLE, TOPIC, XSS_ITEM_ID, populated_db
from test_desk import METADATA, csrf, get, post, review_form

from tracker import browse, desk, desk_development
from tracker.cli import cli
from tracker.models import DevelopmentConfig, Review
from tracker.store import Store
from tracker.store.developments import refresh


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The desk's database, as tests/test_desk.py has it."""
    path = tmp_path / "db" / "news.db"
    path.parent.mkdir()
    populated_db(path)
    return path


@pytest.fixture
def app(db_path: Path) -> Any:
    return browse.make_app(db_path, METADATA)


def development_of(db_path: Path, item_id: int) -> int:
    with Store(db_path) as store:
        row = store.conn.execute("SELECT development_id FROM flags WHERE item_id = ?", (item_id,))
        return int(row.fetchone()[0])


def plain(html: str) -> str:
    return html.replace("<mark>", "").replace("</mark>", "")


def test_the_inbox_lists_developments_with_their_stories_and_links_their_page(
    app: Any, db_path: Path
) -> None:
    development = development_of(db_path, STORY_ITEM_IDS[0])
    page = plain(get(app, "/").text)

    with Store(db_path) as store:
        found = store.development(development)
    assert found is not None
    assert f'id="unit-{development}-{TOPIC}"' in page
    assert f'href="/-/desk/development?id={development}"' in page
    assert f"<li>{STORY_TITLE} - Kabul Wire</li>" in page  # a story inside it
    assert f"{found['reports']} reports, first by {found['first_outlet']}" in page
    assert 'name="scope" value="development"' in page


def test_the_development_page_shows_timeline_outlets_languages_coverage_and_surges(
    app: Any, db_path: Path
) -> None:
    development = development_of(db_path, STORY_ITEM_IDS[0])
    with Store(db_path) as store:
        # Daily Herald's copy came in Russian, in a later cycle than the first report's,
        # from a feed polled before (not a backlog): the development reached Russian.
        store.conn.execute("UPDATE items SET language = 'ru' WHERE id = ?", (STORY_ITEM_IDS[1],))
        store.conn.execute("UPDATE flags SET backlog = 0 WHERE item_id = ?", (STORY_ITEM_IDS[1],))
        store.conn.commit()
        with store.transaction() as conn:
            refresh(conn, [development])  # as a placement does
        store.detect_surges(DevelopmentConfig(), datetime(2026, 3, 10, 12, tzinfo=UTC))
        found = store.development(development)
    assert found is not None

    response = get(app, f"/-/desk/development?id={development}")
    page = plain(response.text)
    assert response.status_code == 200
    assert f"<h1>{found['title']}</h1>" in page
    assert f"First reported by</strong> {found['first_outlet']}" in page
    assert "Languages</strong>: English, Russian" in page
    assert "Coverage over time" in page and "<td>2026-03-06</td>" in page
    assert "first report in Russian: Daily Herald" in page  # a surge
    # the story's copies are shown together, under its first report
    assert page.count(f">{STORY_TITLE} - Kabul Wire</a>") == 1
    assert page.count("copy: ") == len(STORY_ITEM_IDS) - 1
    assert 'name="scope" value="development"' in page


def test_a_development_reviewed_wrong_from_its_page_leaves_the_inbox(
    app: Any, db_path: Path
) -> None:
    development = development_of(db_path, STORY_ITEM_IDS[0])
    path = f"/-/desk/development?id={development}"
    token, cookies = csrf(app, path)
    form = {**review_form(token, "wrong"), "back": path}
    response = post(app, "/-/desk/review", form, cookies=cookies)
    assert response.status_code == 302 and response.headers["location"] == path
    assert f'id="unit-{development}-{TOPIC}"' not in get(app, "/").text
    assert f'id="unit-{development}-{TOPIC}"' in get(app, "/?status=wrong").text


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [("id=9999", 404, "no development 9999"), ("id=twelve", 400, "give a development's id")],
)
def test_a_development_page_that_is_not_there_says_so(
    app: Any, query: str, status: int, message: str
) -> None:
    response = get(app, f"/-/desk/development?{query}")
    assert response.status_code == status and message in response.text


def test_a_feed_text_on_the_development_page_is_escaped(app: Any, db_path: Path) -> None:
    page = get(app, f"/-/desk/development?id={development_of(db_path, XSS_ITEM_ID)}").text
    assert "&lt;b&gt;live&lt;/b&gt;" in page and "<b>live</b>" not in page
    assert "javascript:" not in page


def test_search_results_name_their_development(app: Any, db_path: Path) -> None:
    development = development_of(db_path, STORY_ITEM_IDS[0])
    page = get(app, "/-/desk/search", params={"q": "detainees"}).text
    assert f'in the development <a href="/-/desk/development?id={development}">' in page


def test_stories_are_grouped_in_the_timeline_in_the_order_they_came() -> None:
    timeline = [
        _report(1, story=1, published="2026-03-01T08:00:00+00:00"),
        _report(2, story=2, published="2026-03-01T09:00:00+00:00"),
        _report(3, story=1, published="2026-03-01T10:00:00+00:00"),
    ]
    groups = desk_development.story_groups(timeline)
    assert [(g["item_id"], [c["item_id"] for c in g["copies"]]) for g in groups] == [
        (1, [3]),
        (2, []),
    ]
    assert groups[0]["url"] == "" and groups[0]["language"] == "Pashto"  # not http(s)


def _report(item_id: int, story: int, published: str) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "story_id": story,
        "published": published,
        "role": "new",
        "language": "ps",
        "outlet": "Shamshad",
        "title": "t",
        "url": "javascript:alert(1)",
    }


def test_review_development_from_the_command_line_reaches_every_report(
    db_path: Path, tmp_path: Path
) -> None:
    config = make_project(tmp_path, [])
    base = ["--config", str(config), "--db", str(db_path)]
    url = "https://news.example.org/2026/03/envoy-doha"
    runner = CliRunner()
    both = runner.invoke(cli, [*base, "review", url, "--wrong", "--story", "--development"])
    assert both.exit_code == 2 and "exclude each other" in both.output
    done = runner.invoke(cli, [*base, "review", url, "--right", "--development"])
    assert done.exit_code == 0, done.output
    development = development_of(db_path, STORY_ITEM_IDS[0])
    with Store(db_path) as store:
        reports = store.conn.execute(
            "SELECT COUNT(*) FROM flags WHERE development_id = ?", (development,)
        ).fetchone()[0]
        reached = [r for r in store.reviewed_items() if r.label == "right"]
    assert len(reached) == reports > len(STORY_ITEM_IDS)


def test_reviews_from_before_development_reviews_are_kept_by_the_upgrade(
    tmp_path: Path,
) -> None:
    from test_upgrades import build

    from tracker.store import schema

    surges = next(  # the migration that lets a review reach a development
        number + 1
        for number, statements in enumerate(schema.MIGRATIONS)
        if statements[0].startswith("CREATE TABLE development_surges")
    )
    path = tmp_path / "old.db"
    build(path, surges - 1)
    with closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "INSERT INTO reviews (item_id, item_url, story_id, scope, topic, label, note, "
            "reviewed_at) VALUES (1, 'u', 1, 'story', '', 'wrong', 'kept', '2026-03-02')"
        )
    with Store(path) as store:
        [review] = store.conn.execute("SELECT id, scope, note FROM reviews").fetchall()
        assert tuple(review) == (1, "story", "kept")
        store.add_review(Review(1, "important", "development"), datetime(2026, 3, 3, tzinfo=UTC))
        with pytest.raises(sqlite3.IntegrityError):
            store.conn.execute(
                "INSERT INTO reviews (item_id, item_url, scope, label, reviewed_at) "
                "VALUES (1, 'u', 'everything', 'wrong', 'now')"
            )
        assert store.review_count() == 2


# ---- a development of hundreds of reports (#16, #17: the desk stays fast) ----------

START = datetime(2026, 3, 10, 8, tzinfo=UTC)


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

    params = desk.DeskFilters().params("") | {"scan": 50}  # a window the reports fill
    with closing(sqlite3.connect(db_path)) as conn:
        conn.set_progress_handler(count, 1000)
        rows = conn.execute(desk.DESK_SQL, params).fetchall()
    assert rows
    return steps


def test_an_entry_costs_the_same_for_a_development_ten_times_bigger(db_path: Path) -> None:
    # beyond the first reports an entry reads (its stories and outlets), then ten times
    grow(db_path, desk.STORIES_SCAN + 50)
    small = desk_steps(db_path)
    grow(db_path, 9 * (desk.STORIES_SCAN + 50), first=desk.STORIES_SCAN + 50)
    big = desk_steps(db_path)

    assert big <= small + 2, (small, big)  # reading every report: several times the work


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
