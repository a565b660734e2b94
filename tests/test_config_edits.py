"""Bad edits to the config and topic files while ``tracker run`` is running.

Files saved empty, half-written, invalid, or by rename (an editor writing a temporary
file and moving it over, or moving the old file away first): the service must never
apply them, keep polling with the last good config and topics, and show the error in
``service_runs.config_error`` and ``tracker status``; a valid edit applies and clears
it. A file is applied only once it has stayed unchanged for a moment
(``service.SETTLE``), so a half-written file that happens to be valid is never applied.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Run
from hostile import (
    WATCH_TOPIC,
    Entry,
    RawServer,
    kill_service,
    news,
    query,
    respond,
    rss,
    start_service,
    wait_for,
    watch_project,
)

# Every test here runs the service as a subprocess: the slow tier.
pytestmark = pytest.mark.slow

DETECT = 10.0  # seconds allowed for the service to notice an edit (tick 0.2 s, settle 1 s)


def rename_save(path: Path, text: str) -> None:
    """How many editors save: write a temporary file beside it, then move it over."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def latest_error(db: Path) -> str | None:
    rows = query(db, "SELECT config_error FROM service_runs ORDER BY id DESC LIMIT 1")
    return str(rows[0][0]) if rows and rows[0][0] else None


def feeds_in_force(db: Path) -> set[str]:
    return {str(row[0]) for row in query(db, "SELECT url FROM feeds WHERE configured = 1")}


def in_force(db: Path) -> tuple[set[str], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """What the service is working with: configured feeds, topics, flags."""
    return (
        feeds_in_force(db),
        query(db, "SELECT name, rule_version FROM topics"),
        query(db, "SELECT item_id, topic, flagged_at FROM flags ORDER BY item_id"),
    )


def test_bad_edits_are_never_applied_and_are_shown_until_fixed(
    tmp_path: Path, run_tracker: Run
) -> None:
    with RawServer() as server:
        server.route("/a.xml", respond(rss([Entry("t1", "Taliban talks", "http://o.example/1")])))
        server.route("/b.xml", respond(rss(news(3, "b"))))
        urls = [server.url("/a.xml"), server.url("/b.xml")]
        config = watch_project(tmp_path, urls, extra_settings='interval = "10s"')
        topic = tmp_path / "config" / "topics" / "watch.toml"
        good = config.read_text()
        db = tmp_path / "db" / "tracker.db"
        service = start_service(tmp_path)
        try:
            wait_for(lambda: query(db, "SELECT COUNT(*) FROM flags") == [(1,)], 20, "a flag")
            before = in_force(db)
            half = good[: good.index(urls[1]) + 9]  # cut inside a URL
            bad_value = good.replace('"10s"', '"soon"')
            bad_rule = WATCH_TOPIC.replace("all_of", "all_off")
            edits: list[tuple[str, Callable[[], object], str]] = [
                ("config saved empty", lambda: config.write_text(""), "empty"),
                ("config half-written", lambda: config.write_text(half), "invalid TOML"),
                ("config with a bad value", lambda: config.write_text(bad_value), "soon"),
                ("config rename-saved", lambda: rename_save(config, good + "[feedz]\n"), "feedz"),
                ("topic saved empty", lambda: topic.write_text(""), "watch.toml"),
                ("topic half-written", lambda: topic.write_text(WATCH_TOPIC[:60]), "watch.toml"),
                ("topic rename-saved", lambda: rename_save(topic, bad_rule), "all_off"),
            ]
            seen: list[str] = []
            for name, edit, fragment in edits:
                if name.startswith("topic"):
                    config.write_text(good)
                edit()
                error = wait_for(
                    lambda fragment=fragment: (e := latest_error(db)) and fragment in e and e,
                    DETECT,
                    f"the error of: {name}",
                )
                seen.append(str(error))
                assert in_force(db) == before, f"{name} was applied"
            assert all(len(error) <= 1024 for error in seen)

            polls = query(db, "SELECT COUNT(*) FROM polls")[0][0]
            with sqlite3.connect(db) as conn:
                conn.execute("UPDATE feeds SET next_poll_at = NULL")
            wait_for(
                lambda: query(db, "SELECT COUNT(*) FROM polls")[0][0] >= polls + 2,
                DETECT,
                "polling to go on with the last good config",
            )
            status = run_tracker("status")
            assert "config error (last good config in force)" in status.stdout
            assert "all_off" in status.stdout

            topic.write_text(WATCH_TOPIC)
            wait_for(lambda: latest_error(db) is None, DETECT, "the fixed files to clear the error")
            assert in_force(db) == before
        finally:
            service.send_signal(signal.SIGTERM)
            code = service.wait(timeout=30)
    log = (tmp_path / "service.log").read_text()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log
    applied = [
        line.split("config applied ")[1] for line in log.splitlines() if "config applied" in line
    ]
    assert set(applied) == {"feeds=2 topics=1"}, "a bad edit was applied"


def test_files_are_applied_only_once_they_stop_changing(tmp_path: Path) -> None:
    with RawServer() as server:
        for path in ("/a.xml", "/b.xml", "/c.xml"):
            server.route(path, respond(rss([Entry(path, f"Taliban {path}", f"http://o{path}")])))
        a, b, c = (server.url(path) for path in ("/a.xml", "/b.xml", "/c.xml"))
        config = watch_project(tmp_path, [a, b], extra_settings='interval = "10s"')
        topic = tmp_path / "config" / "topics" / "watch.toml"
        db = tmp_path / "db" / "tracker.db"
        service = start_service(tmp_path)
        try:
            wait_for(lambda: query(db, "SELECT COUNT(*) FROM flags") == [(2,)], 20, "two flags")
            flags = query(db, "SELECT item_id, flagged_at, backlog FROM flags ORDER BY item_id")
            full = config.read_text() + f'\n[[feeds]]\nurl = "{c}"\n'

            # half-written yet valid (feed b not written yet) for less than the settle time
            config.write_text(full[: full.index(b) - len('url = "') - 11])
            time.sleep(0.3)
            config.write_text(full)
            wait_for(lambda: c in feeds_in_force(db), DETECT, "the finished config")
            assert b in feeds_in_force(db)

            # an editor that moves the old topic file away, then writes the new one
            backup = topic.with_name("watch.toml~")
            os.replace(topic, backup)
            time.sleep(0.3)
            topic.write_text(WATCH_TOPIC.replace("Anything about", "All about"))
            wait_for(lambda: query(db, "SELECT title FROM topics") == [("All about the Taliban",)],
                     DETECT, "the edited topic")  # fmt: skip
            wait_for(lambda: query(db, "SELECT COUNT(*) FROM flags") == [(3,)], DETECT, "c flagged")
        finally:
            service.send_signal(signal.SIGTERM)
            code = service.wait(timeout=30)
            if code is None:
                kill_service(service)
    log = (tmp_path / "service.log").read_text()
    assert code == 0, log[-3000:]
    assert "config applied feeds=1 " not in log, "the half-written config was applied"
    assert "topics=0" not in log, "the topic was dropped while its file was moved"
    kept = query(db, "SELECT item_id, flagged_at, backlog FROM flags ORDER BY item_id")[:2]
    assert kept == flags, "flags were deleted and made again"
