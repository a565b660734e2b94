"""Safe topic edits: a running service holds back an edit that would flag too many
recent items, says why in its log and in ``tracker status``, and takes it up only
after ``tracker rescore --confirm``; ``rescore --dry-run`` and ``topics check
--preview`` list the changes and write nothing."""

from __future__ import annotations

import json
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import Run
from dbfactory import NOW, populated_db
from hostile import (
    WATCH_TOPIC,
    Entry,
    RawServer,
    kill_service,
    query,
    respond,
    rss,
    start_service,
    wait_for,
    watch_project,
)

from tracker.models import RescoreChange, Settings
from tracker.store import Store
from tracker.topicset import (
    check_topic_edit,
    edit_check,
    load_topic_set,
    preview_changed_topics,
)

PLACES = "Lisbon Oslo Quito Hanoi Lima Accra Riga Baku Doha Suva".split()
SUBJECTS = "school bridge clinic market harbour library stadium museum".split()


def everyday_news(count: int) -> list[Entry]:
    """Stories that say "a" and nothing about the Taliban, with varied titles."""
    return [
        Entry(
            f"e-{n}",
            f"{PLACES[n % len(PLACES)]} opens a {SUBJECTS[n % len(SUBJECTS)]} ({n})",
            f"http://outlet.example/e/{n}",
            summary=f"The city council approved a plan for district {n}.",
        )
        for n in range(count)
    ]


def flag_count(db: Path) -> int:
    return int(query(db, "SELECT COUNT(*) FROM flags")[0][0])


def held_back(db: Path) -> str | None:
    rows = query(db, "SELECT topics_held_back FROM service_runs ORDER BY id DESC LIMIT 1")
    return str(rows[0][0]) if rows and rows[0][0] else None


@pytest.mark.slow
def test_the_service_holds_back_an_edit_adding_a_until_confirmed(
    tmp_path: Path, run_tracker: Run
) -> None:
    entries = [
        Entry("t-1", "Taliban talks resume", "http://outlet.example/t/1"),
        *everyday_news(30),
    ]
    with RawServer() as server:
        server.route("/feed.xml", respond(rss(entries)))
        watch_project(tmp_path, [server.url("/feed.xml")], extra_settings='interval = "10m"')
        topic = tmp_path / "config" / "topics" / "watch.toml"
        db = tmp_path / "db" / "tracker.db"
        service = start_service(tmp_path)
        try:
            wait_for(lambda: flag_count(db) == 1, 30, "the Taliban story to be flagged")
            topic.write_text(WATCH_TOPIC.replace('["Taliban"]', '["Taliban", "a"]'))
            reason = wait_for(lambda: held_back(db), 20, "the edit to be held back")
            assert "would flag 30 of the 31 items" in str(reason)
            assert flag_count(db) == 1

            status = run_tracker("status")
            assert "topic edit held back" in status.stdout and "rescore --confirm" in status.stdout
            assert json.loads(run_tracker("status", "--json").stdout)["service"][
                "topics_held_back"
            ] == str(reason)

            refused = run_tracker("rescore", check=False)
            assert refused.returncode == 1 and "not rescored" in refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1

            dry = run_tracker("rescore", "--dry-run")
            assert dry.stdout.count("+ flagged") == 30
            assert "30 would be flagged, 0 would stop being flagged" in dry.stdout
            assert "nothing written" in dry.stdout

            check = run_tracker("topics", "check", "--preview")
            assert "term 'a'" in check.stdout and "30 would be flagged" in check.stdout
            assert "a running service would hold this edit back" in check.stdout
            assert flag_count(db) == 1, "a preview wrote flags"

            confirmed = run_tracker("rescore", "--confirm")
            assert "30 became flagged" in confirmed.stdout
            assert flag_count(db) == 31
            wait_for(lambda: held_back(db) is None, 20, "the service to take up the edit")
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                code = service.wait(timeout=45)
            finally:
                kill_service(service)
    log = (tmp_path / "service.log").read_text()
    assert code == 0, log
    assert "topic edit held back, keeping the last good topics" in log
    assert "held-back topic edit confirmed" in log
    assert "flagged topic=watch feed=Outlet title=Taliban talks resume" in log
    assert log.count("stopping") == 1
    assert "Traceback" not in log
    assert "config applied" not in log.split("topic edit held back")[1].split("confirmed")[0]


def change(item_id: int, flagged: bool = True) -> RescoreChange:
    return RescoreChange(item_id, "watch", f"story {item_id}", flagged)


def test_an_edit_may_flag_its_share_of_recent_items_or_the_floor() -> None:
    settings = Settings(topic_guard_share=0.05, topic_guard_min=10)
    small = edit_check([change(n) for n in range(10)], 40, settings)
    assert not small.hold and small.limit == 10
    too_many = edit_check([change(n) for n in range(11)], 40, settings)
    assert too_many.hold and "would flag 11 of the 40 items of the last 7 days" in (
        too_many.reason()
    )
    big_database = edit_check([change(n) for n in range(40)], 1000, settings)
    assert not big_database.hold and big_database.limit == 50
    unflagging = edit_check([change(n, flagged=False) for n in range(500)], 1000, settings)
    assert not unflagging.hold and unflagging.would_unflag == 500
    never = edit_check([change(n) for n in range(1000)], 1000, Settings(topic_guard_share=1))
    assert not never.hold


SPLIT = timedelta(hours=2, minutes=30)
BROAD_TOPIC = """name = "us-taliban"
[groups.anything]
terms = ["a", "the", "Taliban"]
[rule]
all_of = ["anything"]
"""


def test_a_preview_lists_the_changes_and_writes_nothing(tmp_path: Path) -> None:
    populated_db(tmp_path / "tracker.db")
    (tmp_path / "topics").mkdir()
    (tmp_path / "topics" / "us-taliban.toml").write_text(BROAD_TOPIC, encoding="utf-8")
    topics = load_topic_set(tmp_path / "topics", tmp_path)
    with Store(tmp_path / "tracker.db") as store:
        before = store.conn.execute("SELECT * FROM flags ORDER BY item_id").fetchall()
        written = store.conn.total_changes
        items = store.counts()["items"]
        changes = preview_changed_topics(store, topics, NOW)
        # 7 items were first seen at 09:00, 13 at 10:00; NOW is 12:00
        recent = preview_changed_topics(store, topics, NOW, since=NOW - SPLIT)
        settings = Settings(topic_guard_min=1, topic_guard_window=SPLIT.total_seconds())
        check = check_topic_edit(store, topics, NOW, settings)
        after = store.conn.execute("SELECT * FROM flags ORDER BY item_id").fetchall()
        assert store.conn.total_changes == written, "a preview wrote"
    flagged = {c.item_id for c in changes if c.became_flagged}
    assert len(flagged) > len(before) and len(changes) < items
    assert {c.item_id for c in recent} < {c.item_id for c in changes}
    assert check.would_flag == sum(c.became_flagged for c in recent)
    assert check.recent_items == 13 and check.hold
    assert [tuple(r) for r in after] == [tuple(r) for r in before]


def test_term_counts_split_recent_items_from_older_ones(tmp_path: Path) -> None:
    populated_db(tmp_path / "tracker.db")
    with Store(tmp_path / "tracker.db") as store:
        everything = store.term_item_counts("us-taliban", NOW - timedelta(days=30))[0]
        recent, older = store.term_item_counts("us-taliban", NOW - SPLIT)
        assert store.term_item_counts("nope", NOW) == ({}, {})
    assert everything[("taliban", "Taliban")] >= 3
    for key, count in everything.items():
        assert recent.get(key, 0) + older.get(key, 0) == count
    assert older and recent
