"""A permanent redirect confirmed by the store is offered to the config: ``feeds list``
shows it, ``feeds apply-redirects`` writes the new URL into the config keeping its
comments and layout (``--dry-run`` writes nothing), and the next poll goes to the new
URL with the feed's history kept."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Run, make_project
from httpserver import LocalServer, Reply

from tracker import config
from tracker.errors import ConfigError
from tracker.models import FeedConfig
from tracker.store import Store

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Moved Outlet</title>
<item><guid>a</guid><title>Taliban officials meet US envoy</title></item></channel></rss>"""
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CONFIG = """# My feeds, hand-kept.
[settings]
db_path = "db/tracker.db"   # where the items go
deadline = "10s"

# The wire, checked every half hour.
[[feeds]]
url = "{old}"   # moved last spring?
name = "Wire"
interval = "30m"

[[feeds]]
url = "{other}"
"""


def moved_db(path: Path, old: str, new: str) -> None:
    """A database in which the feed at ``old`` moved to ``new`` (as a confirmed
    redirect leaves it: ``url`` is the new one, ``previous_url`` the old)."""
    with Store(path) as store:
        store.sync_feeds([FeedConfig(old), FeedConfig("http://127.0.0.1:9/other.xml")], T0)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE feeds SET url = ?, previous_url = ? WHERE url = ?", (new, old, old))


def test_moved_feeds_are_found_by_their_config_url(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    moved_db(db, "http://127.0.0.1:9/old.xml", "http://127.0.0.1:9/new.xml")
    with Store(db) as store:
        moved = store.moved_feeds(["http://127.0.0.1:9/old.xml", "http://127.0.0.1:9/other.xml"])
    assert moved == {"http://127.0.0.1:9/old.xml": "http://127.0.0.1:9/new.xml"}


def test_move_feeds_keeps_comments_and_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "tracker.toml"
    old, other = "http://127.0.0.1:9/old.xml", "http://127.0.0.1:9/other.xml"
    path.write_text(CONFIG.format(old=old, other=other), encoding="utf-8")
    config.move_feeds(path, {old: "http://127.0.0.1:9/new.xml"})
    expected = CONFIG.format(old="http://127.0.0.1:9/new.xml", other=other)
    assert path.read_text(encoding="utf-8") == expected
    with pytest.raises(ConfigError, match="no such feed"):
        config.move_feeds(path, {old: "http://127.0.0.1:9/elsewhere.xml"})
    assert path.read_text(encoding="utf-8") == expected


# ---- as a user runs it, against a server that moved the feed ---------------------------


@pytest.mark.slow
def test_a_confirmed_redirect_is_listed_and_applied(tmp_path: Path, run_tracker: Run) -> None:
    with LocalServer() as server:
        old, new = server.url("/old.xml"), server.url("/new.xml")
        other = server.url("/other.xml")
        server.route("/old.xml", Reply(status=301, headers={"Location": new}))
        server.route("/new.xml", Reply(body=FEED))
        server.route("/other.xml", Reply(body=FEED.replace(b"<guid>a", b"<guid>b")))
        make_project(tmp_path, [])
        path = tmp_path / "config" / "tracker.toml"
        path.write_text(CONFIG.format(old=old, other=other), encoding="utf-8")
        run_tracker("poll", "--once")
        first = run_tracker("feeds", "list").stdout
        run_tracker("poll", "--once")  # the second sighting confirms the move
        listed = json.loads(run_tracker("feeds", "list", "--json").stdout)
        text = run_tracker("feeds", "list").stdout
        dry = run_tracker("feeds", "apply-redirects", "--dry-run").stdout
        after_dry = path.read_text(encoding="utf-8")
        applied = run_tracker("feeds", "apply-redirects").stdout
        again = run_tracker("feeds", "apply-redirects").stdout
        run_tracker("poll", "--once")
        last = server.received[-2:]
    assert "moved to" not in first  # one sighting is not a move
    assert [row["moved_to"] for row in listed] == [new, None]
    assert f"{old}  (Wire)  moved to {new}" in text and "apply-redirects" in text
    assert f"{old} -> {new}" in dry and "the config was not written" in dry
    assert after_dry == CONFIG.format(old=old, other=other)
    assert f"{old} -> {new}" in applied and "updated 1 feeds" in applied
    assert path.read_text(encoding="utf-8") == CONFIG.format(old=new, other=other)
    assert "nothing to apply" in again
    assert {request.path for request in last} == {"/new.xml", "/other.xml"}
    with closing(sqlite3.connect(tmp_path / "db" / "tracker.db")) as conn:
        feeds = conn.execute("SELECT url, previous_url, configured FROM feeds").fetchall()
    assert sorted(feeds) == sorted([(new, old, 1), (other, None, 1)])  # no new feed row


@pytest.mark.slow
def test_apply_redirects_with_nothing_to_apply(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, ["http://127.0.0.1:9/a.xml"])
    before = (tmp_path / "config" / "tracker.toml").read_text(encoding="utf-8")
    for args in (("feeds", "apply-redirects"), ("feeds", "apply-redirects", "--dry-run")):
        result = run_tracker(*args)  # exit 0: nothing to do is not an error
        assert "nothing to apply: no configured feed has a confirmed redirect" in result.stdout
    assert (tmp_path / "config" / "tracker.toml").read_text(encoding="utf-8") == before
    assert not (tmp_path / "db").exists()  # no database is created to find that out


@pytest.mark.slow
def test_redirects_that_cannot_be_applied_are_skipped_with_a_note(
    tmp_path: Path, run_tracker: Run
) -> None:
    secret = "http://user:pw@127.0.0.1:9/private.xml"
    old, taken = "http://127.0.0.1:9/old.xml", "http://127.0.0.1:9/taken.xml"
    make_project(tmp_path, [secret, old, taken])
    db = tmp_path / "db" / "tracker.db"
    with Store(db) as store:  # the database knows the secret URL without its credentials
        store.sync_feeds([FeedConfig(secret), FeedConfig(old)], T0)
    with closing(sqlite3.connect(db)) as conn, conn:
        moves = [("http://127.0.0.1:9/public.xml", "http://***@127.0.0.1:9/private.xml")]
        moves.append((taken, old))  # the new URL was added to the config after the move
        for new, previous in moves:
            conn.execute(
                "UPDATE feeds SET url = ?, previous_url = ? WHERE url = ?",
                (new, previous, previous),
            )
    before = (tmp_path / "config" / "tracker.toml").read_text(encoding="utf-8")
    result = run_tracker("feeds", "apply-redirects")
    assert "skipped http://***@127.0.0.1:9/private.xml: it has credentials" in result.stdout
    assert f"skipped {old}: {taken} is configured already" in result.stdout
    assert "nothing to apply" in result.stdout
    assert (tmp_path / "config" / "tracker.toml").read_text(encoding="utf-8") == before
