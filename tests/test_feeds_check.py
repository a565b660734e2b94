"""``tracker feeds check`` (#19): every configured feed fetched and parsed once against a
loopback server (a good feed, a 404, a 410, an HTML page, a redirect and a stale feed),
nothing stored, a line per feed with its problems, ``--json``, exit 1 on failures."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import Run, make_project
from httpserver import LocalServer, Reply

from tracker.feedsurvey import check_feeds
from tracker.models import FeedConfig, Settings

NOW = datetime.now(UTC)


def rss(title: str, published: datetime, items: int = 2) -> bytes:
    entries = "".join(
        f"<item><title>Story {n}</title><link>https://outlet.example/{n}</link>"
        f"<pubDate>{format_datetime(published - timedelta(hours=n))}</pubDate></item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://outlet.example/</link>{entries}</channel></rss>"
    ).encode()


XML = {"Content-Type": "application/rss+xml"}
HTML = b"<!DOCTYPE html><html><head><title>Outlet</title></head><body>News</body></html>"


def serve(server: LocalServer) -> dict[str, str]:
    server.route(
        "/good.xml", Reply(body=rss("Good Feed", NOW - timedelta(hours=1), 3), headers=XML)
    )
    server.route("/missing.xml", Reply(status=404, body=b"not found"))
    server.route("/gone.xml", Reply(status=410, body=b"gone"))
    server.route("/page", Reply(body=HTML, headers={"Content-Type": "text/html"}))
    server.route("/moved.xml", Reply(status=301, headers={"Location": server.url("/good.xml")}))
    server.route("/stale.xml", Reply(body=rss("Old Feed", NOW - timedelta(days=400)), headers=XML))
    names = ("good", "missing", "gone", "page", "moved", "stale")
    paths = ("/good.xml", "/missing.xml", "/gone.xml", "/page", "/moved.xml", "/stale.xml")
    return {name: server.url(path) for name, path in zip(names, paths, strict=True)}


def test_each_feed_gets_its_status_items_newest_date_and_problems() -> None:
    with LocalServer() as server:
        urls = serve(server)
        feeds = [FeedConfig(url=url) for url in urls.values()]
        checks = {
            name: check
            for name, check in zip(
                urls, asyncio.run(check_feeds(Settings(), feeds, NOW, 30)), strict=True
            )
        }
    good = checks["good"]
    assert (good.ok, good.status, good.title, good.items, good.problems) == (
        True,
        200,
        "Good Feed",
        3,
        (),
    )
    assert good.newest is not None and NOW - good.newest < timedelta(hours=2)
    assert not checks["missing"].ok and checks["missing"].status == 404
    assert checks["missing"].problems[0].startswith("http:")
    assert not checks["gone"].ok and checks["gone"].problems[0].startswith("gone:")
    assert not checks["page"].ok and checks["page"].problems == (
        "html: got a web page, not a feed (look for the site's RSS or Atom link)",
    )
    moved = checks["moved"]
    assert moved.ok and moved.items == 3
    assert moved.problems == (f"redirected: moved permanently to {urls['good']}",)
    stale = checks["stale"]
    assert stale.ok and stale.problems and stale.problems[0].startswith("stale: newest item is 4")


@pytest.mark.slow  # spawns tracker
def test_cli_prints_every_feed_stores_nothing_and_exits_1_on_failures(
    tmp_path: Path, run_tracker: Run
) -> None:
    with LocalServer() as server:
        urls = serve(server)
        make_project(tmp_path, list(urls.values()))
        text = run_tracker("feeds", "check", check=False)
        as_json = run_tracker("feeds", "check", "--json", "--stale-days", "1000", check=False)
        good_only = tmp_path / "good"
        make_project(good_only, [urls["good"]])
        fine = run_tracker("feeds", "check", cwd=good_only, check=False)
        bad = run_tracker("feeds", "check", "--stale-days", "0", check=False)
    assert text.returncode == 1, text.stderr
    assert "6 feeds: 3 ok, 3 failed" in text.stdout
    assert "- gone: " in text.stdout and "- html: " in text.stdout
    assert "- stale: newest item is" in text.stdout and "- redirected: " in text.stdout
    assert "ok   200     3 items  newest " in text.stdout and "Good Feed" in text.stdout
    rows = json.loads(as_json.stdout)
    assert as_json.returncode == 1
    assert [row["ok"] for row in rows] == [True, False, False, False, True, True]
    assert rows[5]["problems"] == [] and rows[0]["items"] == 3 and rows[0]["newest"]
    assert fine.returncode == 0 and "1 feeds: 1 ok, 0 failed" in fine.stdout
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert not (tmp_path / "db" / "tracker.db").exists()  # nothing stored
