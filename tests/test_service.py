"""``tracker run`` for real: a service process polling feeds on 127.0.0.1 on schedule,
applying live edits, sending an alert to a local webhook, stopping cleanly."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from conftest import Run, make_project
from httpserver import LocalServer, Reply

# Every test here runs the service as a subprocess: the slow tier.
pytestmark = pytest.mark.slow

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>http://example.org/</link>
{items}</channel></rss>"""
ITEM = (
    "<item><guid>{guid}</guid><title>{title}</title><link>http://example.org/{guid}</link>"
    "<description>{summary}</description></item>"
)

CRICKET = (
    "Afghanistan beat Bangladesh to reach the cricket semi-final",
    "Rashid Khan took three wickets.",
)
BACKLOG = (
    "US and Taliban officials hold talks in Doha on detained Americans",
    "The State Department envoy met the Taliban foreign minister.",
)
FOLLOW_UP = (
    "Taliban say talks with Washington on prisoner exchange will continue",
    "A Taliban spokesman said the Islamic Emirate and US envoys met in Doha.",
)
CRICKET_TOPIC = """name = "cricket"
title = "Afghan cricket"
[groups.sport]
terms = ["cricket"]
[rule]
all_of = ["sport"]
"""


def rss(title: str, *items: tuple[str, str]) -> bytes:
    body = "".join(ITEM.format(guid=abs(hash(t)), title=t, summary=s) for t, s in items)
    return RSS.format(title=title, items=body).encode()


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except sqlite3.OperationalError:  # the service is still creating the database
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def test_service_polls_on_schedule_applies_edits_alerts_and_stops_cleanly(
    tmp_path: Path, run_tracker: Run
) -> None:
    with LocalServer() as server:
        server.route("/a.xml", Reply(body=rss("Outlet A", CRICKET, BACKLOG)))
        server.route("/b.xml", Reply(body=rss("Outlet B", ("Weather in Kabul", "Sunny."))))
        server.route("/c.xml", Reply(body=rss("Outlet C", ("Markets", "Calm."))))
        server.route("/hook", Reply(status=204))
        config = make_project(
            tmp_path,
            [server.url("/a.xml"), server.url("/b.xml")],
            extra_settings='interval = "10s"',
        )
        with config.open("a", encoding="utf-8") as out:
            out.write(f'\n[[alerts]]\ntype = "webhook"\nurl = "{server.url("/hook")}"\n')
        db = tmp_path / "db" / "tracker.db"
        log_path = tmp_path / "service.log"
        with log_path.open("w") as log:
            service = subprocess.Popen(
                [sys.executable, "-m", "tracker", "-v", "run", "--tick", "1"],
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")},
            )
        try:
            # both feeds are polled at once; the backlog is flagged but not alerted
            wait_for(
                lambda: (
                    len(query(db, "SELECT DISTINCT feed_id FROM polls")) == 2
                    if db.exists()
                    else False
                ),
                20,
                "first polls",
            )
            assert query(db, "SELECT backlog FROM flags") == [(1,)]

            second = run_tracker("run", check=False, timeout=30)
            assert second.returncode == 2
            assert "already running" in second.stderr and "Traceback" not in second.stderr

            # a new follow-up in a feed polled before is alerted, once, at the webhook
            server.route("/a.xml", Reply(body=rss("Outlet A", CRICKET, BACKLOG, FOLLOW_UP)))
            hook = wait_for(
                lambda: [r for r in server.received if r.path == "/hook"], 30, "the webhook alert"
            )
            alert = json.loads(hook[0].body)  # type: ignore[index]
            assert alert["title"] == FOLLOW_UP[0]
            assert alert["url"].startswith("http://example.org/")
            assert alert["reasons"]

            times = [
                datetime.fromisoformat(str(r[0]))
                for r in query(
                    db,
                    "SELECT started_at FROM polls JOIN feeds ON feeds.id = polls.feed_id "
                    "WHERE feeds.url LIKE '%/a.xml' ORDER BY started_at",
                )
            ]
            gap = (times[1] - times[0]).total_seconds()
            assert 8 <= gap <= 15, f"feed polled {gap}s apart, configured every 10s"

            # a valid topic edit is applied and re-matches stored items
            (tmp_path / "config" / "topics" / "cricket.toml").write_text(CRICKET_TOPIC)
            wait_for(
                lambda: query(db, "SELECT 1 FROM flags WHERE topic = 'cricket'"),
                15,
                "the new topic to flag the stored cricket item",
            )

            # an invalid edit is reported with file, line and key, and ignored
            (tmp_path / "config" / "topics" / "cricket.toml").write_text(
                CRICKET_TOPIC.replace("all_of", "all_off")
            )
            error = wait_for(
                lambda: query(
                    db, "SELECT config_error FROM service_runs WHERE config_error IS NOT NULL"
                ),
                15,
                "the config error to be recorded",
            )
            message = str(error[0][0])  # type: ignore[index]
            assert "cricket.toml:6" in message and "all_off" in message
            status = run_tracker("status", check=False)
            assert "config error" in status.stdout
            assert query(db, "SELECT COUNT(*) FROM flags WHERE topic = 'cricket'") == [(1,)]

            # a feed added while running is polled at once
            run_tracker("feeds", "add", server.url("/c.xml"), "--interval", "10s")
            wait_for(
                lambda: query(
                    db,
                    "SELECT 1 FROM polls JOIN feeds ON feeds.id = feed_id "
                    "WHERE feeds.url LIKE '%/c.xml'",
                ),
                15,
                "the added feed",
            )
        finally:
            service.send_signal(signal.SIGTERM)
            code = service.wait(timeout=45)
        log_text = log_path.read_text()
        assert code == 0, log_text
        hooks = [r for r in server.received if r.path == "/hook"]
        assert len(hooks) == 1, "the follow-up was alerted more than once"
    assert "rescore topics=cricket flagged=1 unflagged=0 examples=+" in log_text
    assert "cycle feeds=" in log_text
    assert "Traceback" not in log_text
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT stopped_at IS NOT NULL FROM service_runs") == [(1,)]
    status = run_tracker("status", "--json")
    assert json.loads(status.stdout)["service"]["state"] == "stopped"
