"""The analyst's desk (#17) through Datasette as ``tracker browse`` serves it.

The app is built in-process (``browse.make_app``) over the populated database of
``dbfactory``, saved as ``news.db`` (not ``tracker.db``), so every test also checks
that the metadata follows the file's name. Writes go through the real CSRF check:
a test first GETs the desk for the token and its cookie, as a browser does.
"""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_project
from dbfactory import STORY_ITEM_IDS, STORY_TITLE, TOPIC, populated_db

from tracker import browse, desk
from tracker.cli import cli
from tracker.datasette_plugin import reason_line_html, terms_pattern
from tracker.evaluate import load_labeled
from tracker.models import Review
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[1]
METADATA = ROOT / "config" / "datasette.yml"
TOKEN = "s3cret-desk-token"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "db" / "news.db"
    path.parent.mkdir()
    populated_db(path)
    return path


@pytest.fixture
def app(db_path: Path) -> Any:
    return browse.make_app(db_path, METADATA)


def get(app: Any, path: str, **kwargs: Any) -> Any:
    return asyncio.run(app.client.get(path, **kwargs))


def post(app: Any, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    return asyncio.run(app.client.post(path, data=data, **kwargs))


def csrf(app: Any, path: str = "/") -> tuple[str, dict[str, str]]:
    """The form's CSRF token and the cookie it must come with, as a browser gets them."""
    page = get(app, path)
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert token, page.text[:2000]
    return token.group(1), {"ds_csrftoken": page.cookies["ds_csrftoken"]}


def review_form(token: str, label: str, item_id: int = STORY_ITEM_IDS[0]) -> dict[str, str]:
    return {
        "csrftoken": token,
        "item_id": str(item_id),
        "topic": TOPIC,
        "scope": "development",  # as the desk's form says
        "label": label,
        "note": "old news",
        "back": "/",
    }


def reviews(db_path: Path) -> int:
    with Store(db_path) as store:
        return store.review_count()


def test_the_desk_is_the_landing_page_with_highlighted_flags(app: Any) -> None:
    page = get(app, "/")
    assert page.status_code == 200
    assert "Flagged follow-ups" in page.text
    assert "<mark>envoy</mark>" in page.text  # in the title
    assert "<mark>Taliban</mark>" in page.text
    assert 'href="/news"' in page.text  # the raw tables, one click away
    assert "taliban group matched: Taliban" in page.text  # the short reason
    assert "Kabul Wire" in page.text and "Daily Herald" in page.text  # outlets


def test_the_metadata_follows_the_database_name(app: Any) -> None:
    for path in ("/news/flagged_followups", "/news/story?story_id=1", "/-/dashboards/flags"):
        assert get(app, path).status_code == 200, path
    assert "Follow-ups, with the reasons" in get(app, "/news/flags").text


def test_marking_a_development_wrong_takes_it_off_the_inbox(app: Any, db_path: Path) -> None:
    token, cookies = csrf(app)
    response = post(app, "/-/desk/review", review_form(token, "wrong"), cookies=cookies)
    assert response.status_code == 302
    assert STORY_TITLE not in get(app, "/").text.replace("<mark>", "").replace("</mark>", "")
    shown = get(app, "/?status=wrong").text.replace("<mark>", "").replace("</mark>", "")
    assert STORY_TITLE in shown and "wrong</span>" in shown
    with Store(db_path) as store:
        (reviewed,) = {item.url for item in store.reviewed_items()} & {
            "https://news.example.org/2026/03/envoy-doha"
        }
        assert reviewed
        in_development = store.conn.execute(
            "SELECT COUNT(*) FROM flags WHERE development_id = "
            "(SELECT development_id FROM flags WHERE item_id = ?)",
            (STORY_ITEM_IDS[0],),
        ).fetchone()[0]
        # every report of the development is reviewed, for eval --reviews too
        assert len([r for r in store.reviewed_items() if r.label == "wrong"]) == in_development


def test_a_story_reviewed_wrong_leaves_its_development_on_the_desk_with_its_others(
    app: Any, db_path: Path
) -> None:
    token, cookies = csrf(app)
    form = {**review_form(token, "wrong"), "scope": "story"}  # as `tracker review --story`
    post(app, "/-/desk/review", form, cookies=cookies)
    page = get(app, "/").text.replace("<mark>", "").replace("</mark>", "")
    with Store(db_path) as store:
        found = store.development(_development_of(store, STORY_ITEM_IDS[0]))
    assert found is not None and found["title"] in page  # its other stories are still open


def _development_of(store: Store, item_id: int) -> int:
    row = store.conn.execute("SELECT development_id FROM flags WHERE item_id = ?", (item_id,))
    return int(row.fetchone()[0])


def test_a_forged_post_without_the_csrf_token_writes_nothing(app: Any, db_path: Path) -> None:
    response = post(app, "/-/desk/review", review_form("forged", "wrong"))
    assert response.status_code == 403
    assert reviews(db_path) == 0


def test_beyond_loopback_only_a_logged_in_analyst_writes(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(browse.TOKEN_ENV, TOKEN)
    app = browse.make_app(db_path, METADATA, open_writes=False)
    assert 'action="/-/desk/review"' not in get(app, "/").text
    token, cookies = csrf(app, "/-/desk/login")
    refused = post(app, "/-/desk/review", review_form(token, "wrong"), cookies=cookies)
    assert refused.status_code == 403 and reviews(db_path) == 0
    wrong = {"csrftoken": token, "token": "guess", "analyst": "ann"}
    assert "not the configured one" in post(app, "/-/desk/login", wrong, cookies=cookies).text
    login = {"csrftoken": token, "token": TOKEN, "analyst": "ann"}
    logged = post(app, "/-/desk/login", login, cookies=cookies)
    assert logged.status_code == 302
    cookies["ds_actor"] = logged.cookies["ds_actor"]
    accepted = post(app, "/-/desk/review", review_form(token, "right"), cookies=cookies)
    assert accepted.status_code == 302 and reviews(db_path) == 1
    bearer = {"authorization": f"Bearer {TOKEN}"}
    by_token = post(app, "/-/desk/review", review_form("", "important"), headers=bearer)
    assert by_token.status_code == 302 and reviews(db_path) == 2


@pytest.mark.parametrize("query", ['"', "NEAR(", "*", "Taliban AND", "x" * 10_000])
def test_a_query_fts5_cannot_parse_is_no_error_page(app: Any, query: str) -> None:
    for path in ("/", "/-/desk/search"):
        page = get(app, path, params={"q": query})
        assert page.status_code == 200, (path, page.text[:1000])
        assert 'type="search"' in page.text


def test_search_shows_highlighted_snippets_newest_first(app: Any) -> None:
    page = get(app, "/-/desk/search", params={"q": '"embassy in Kabul"'}).text
    assert "the <mark>embassy in Kabul</mark>" in page
    assert page.count('class="desk-entry"') == 2
    assert "Kabul residents face long power cuts" not in page


def test_the_desk_search_box_filters_the_flags(app: Any) -> None:
    page = get(app, "/", params={"q": "detainees"}).text
    assert page.count('class="desk-entry"') == 1


def test_seen_flags_are_no_longer_new(app: Any) -> None:
    page = get(app, "/").text
    assert 'class="desk-new">new<' in page
    token, cookies = csrf(app)
    through = re.search(r'name="through" value="([^"]+)"', page)
    assert through
    form = {"csrftoken": token, "through": through.group(1), "back": "/"}
    assert post(app, "/-/desk/seen", form, cookies=cookies).status_code == 302
    assert 'class="desk-new">new<' not in get(app, "/").text


def test_two_analysts_marking_one_flag_at_once_are_both_kept(db_path: Path) -> None:
    now = datetime(2026, 3, 11, tzinfo=UTC)
    labels = {"ann": ("wrong", now), "bob": ("important", now + timedelta(seconds=1))}

    def mark(who: str) -> None:
        label, at = labels[who]
        with Store(db_path) as store:
            store.add_review(Review(STORY_ITEM_IDS[0], label, "flag", TOPIC, "", who), at)

    threads = [threading.Thread(target=mark, args=(who,)) for who in labels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Store(db_path) as store:
        assert store.review_count() == 2
        (latest,) = [r for r in store.reviewed_items() if r.topic == TOPIC]
    assert latest.label == "important"  # the later review decides


def test_a_review_of_a_rescored_flag_survives(db_path: Path) -> None:
    with Store(db_path) as store:
        store.add_review(Review(STORY_ITEM_IDS[0], "wrong"), datetime(2026, 3, 11, tzinfo=UTC))
        store.conn.execute("DELETE FROM flags")  # as a rescore that unflags everything
        store.conn.commit()
        assert [r.label for r in store.reviewed_items()] == ["wrong"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/desk?x=1", "/desk?x=1"), ("//evil.example/", "/"), ("https://evil.example", "/")],
)
def test_after_a_write_the_desk_goes_back_to_its_own_pages_only(path: str, expected: str) -> None:
    assert desk.safe_back(path) == expected


def test_a_broken_review_form_is_refused(app: Any, db_path: Path) -> None:
    token, cookies = csrf(app)
    for bad in ({"item_id": "x"}, {"label": "maybe"}, {"item_id": "999999"}):
        form = {**review_form(token, "wrong"), **bad}
        assert post(app, "/-/desk/review", form, cookies=cookies).status_code == 400
    assert reviews(db_path) == 0


def test_a_wrong_development_leaves_the_atom_feed_which_carries_summary_and_page(
    db_path: Path,
) -> None:
    app = browse.make_app(db_path, METADATA, browse_url="https://desk.example.org/")
    with Store(db_path) as store:
        development = _development_of(store, STORY_ITEM_IDS[0])
        others = len(store.developments()) - 1
    entry = f"urn:tracker:development:{TOPIC}:{development}<"
    feed = get(app, "/news/flagged_atom.atom").text
    assert entry in feed and feed.count("<entry>") == others + 1  # one per development
    assert "Officials met in Doha to discuss a mechanism" in feed  # a summary
    assert "Published: 2026-03-08" in feed and "Languages: en" in feed
    assert f"Every report: https://desk.example.org/news/development?id={development}" in feed
    token, cookies = csrf(app)
    post(app, "/-/desk/review", review_form(token, "wrong"), cookies=cookies)
    left = get(app, "/news/flagged_atom.atom").text
    assert entry not in left and left.count("<entry>") == others


def test_the_desk_names_feeds_as_the_config_does(db_path: Path, app: Any) -> None:
    with Store(db_path) as store:
        store.conn.execute("UPDATE feeds SET name = 'Wire (English)' WHERE title = 'Kabul Wire'")
        store.conn.commit()
    assert "Wire (English)" in get(app, "/").text
    rows = get(app, "/news/flagged.json", params={"_shape": "array"}).json()
    assert "Wire (English)" in {row["feed"] for row in rows}


def test_review_and_eval_reviews_from_the_command_line(db_path: Path, tmp_path: Path) -> None:
    config = make_project(tmp_path, [])
    base = ["--config", str(config), "--db", str(db_path)]
    url = "https://news.example.org/2026/03/envoy-doha"
    runner = CliRunner()
    unknown = runner.invoke(cli, [*base, "review", "https://nowhere.test/x", "--wrong"])
    assert unknown.exit_code == 2 and "no stored item has the URL" in unknown.output
    done = runner.invoke(cli, [*base, "review", url, "--wrong", "--note", "old news"])
    assert done.exit_code == 0, done.output
    export = tmp_path / "reviewed.yaml"
    report = runner.invoke(cli, [*base, "eval", "--reviews", "--export", str(export)])
    assert report.exit_code == 0, report.output
    assert "us-taliban: 1 reviewed items" in report.output
    assert f"false flags (labeled 0, flagged): 1\n- {url}" in report.output
    (item,) = load_labeled(export)
    assert (item.id, item.flag, item.title) == (url, False, f"{STORY_TITLE} - Kabul Wire")
    again = runner.invoke(cli, [*base, "eval", str(export)])
    assert "fp 1" in again.output


def test_the_item_page_marks_the_matched_terms(app: Any) -> None:
    page = get(app, "/news/items/1").text
    assert "<mark>envoy</mark>" in page
    assert "<mark>Taliban</mark>" in page


def test_a_reasons_group_name_is_not_marked() -> None:
    line = reason_line_html('US actors: "US" in title', terms_pattern(["US"]))
    assert str(line) == "US actors: &#34;<mark>US</mark>&#34; in title"


@pytest.mark.parametrize(
    ("found", "scanned", "scan", "expected"),
    [
        (desk.PAGE_SIZE, 500, 500, None),  # a full page
        (3, 120, 500, None),  # every flag was read
        (3, 500, 500, 4000),  # more flags may hold more units
        (0, None, 500, 4000),  # nothing came back: read further
    ],
)
def test_the_desk_reads_further_only_while_a_page_is_not_full(
    found: int, scanned: int | None, scan: int, expected: int | None
) -> None:
    assert desk.wider_scan(found, scanned, scan) == expected


def test_units_beyond_the_first_window_of_flags_still_reach_the_desk(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk, "FIRST_SCAN", 1)
    app = browse.make_app(db_path, METADATA)
    with Store(db_path) as store:
        developments = len(store.developments())
    assert get(app, "/").text.count('class="desk-entry"') == developments == 4


def test_the_metadata_is_renamed_for_the_file_and_keeps_the_token_out(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = browse.Site("news", open_writes=False, browse_url="https://desk.example.org/it's")
    served = browse.metadata_for(browse.load_metadata(METADATA), site)
    assert set(served["databases"]) == {"news"}
    charts = served["plugins"]["datasette-dashboards"]["flags"]["charts"]
    assert {chart["db"] for chart in charts.values()} == {"news"}
    assert served["plugins"]["tracker"] == {"writes": "login", "token": {"$env": browse.TOKEN_ENV}}
    atom = served["databases"]["news"]["queries"]["flagged_atom"]["sql"]
    assert "SELECT 'https://desk.example.org/it''s/news/story' AS story_pages" in atom
    monkeypatch.setenv(browse.TOKEN_ENV, TOKEN)
    app = browse.make_app(db_path, METADATA, open_writes=False)
    for path in ("/-/metadata.json", "/-/plugins.json", "/-/settings.json"):
        assert TOKEN not in get(app, path).text, path
