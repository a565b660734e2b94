"""Gone feeds stop being polled: a 410 at once, any other failure after ``gone_after``.

The decision is pure (``schedule.is_gone``, the decider's feed columns); the store's
``due_feeds`` never returns a gone feed and ``resume_feed`` makes it due at once; a real
service polling a real loopback server over several cycles never fetches a 410 feed
again until ``tracker feeds resume`` (or ``feeds add``), and ``status``, ``feeds list``
and Datasette's feed-health page say it stopped and how to resume it.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from hostile import watch_project
from httpserver import LocalServer, Reply
from test_decide import NOW, STATE, URL, snapshot
from test_service_hooks import Clock, started_service

from tracker import browse, decide, schedule
from tracker.models import FeedConfig, FeedPoll, FetchResult, Settings
from tracker.poll import ParsePool
from tracker.store import Store

DAY = 86400.0
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Alive</title>
<item><guid>a</guid><title>Taliban officials meet US envoy</title></item></channel></rss>"""


DEFAULTS = Settings()


def failed(kind: str, failing_for_days: float, settings: Settings = DEFAULTS) -> int | Any:
    """The decider's ``gone`` column after a failed poll of a feed failing this long."""
    since = (NOW - timedelta(days=failing_for_days)).isoformat()
    state = replace(STATE, consecutive_failures=5, failing_since=since)
    result = FetchResult(URL, URL, status=410 if kind == "gone" else 503)
    poll = FeedPoll(URL, NOW, result, None, kind, "HTTP error")
    inputs = decide.PollInputs(state, poll, {}, settings, random.Random(1), NOW)
    write = decide.decide_poll(inputs, snapshot())
    assert write.summary.stopped == bool(write.feed.gone)
    return write.feed.gone


@pytest.mark.parametrize(
    ("kind", "days", "gone"),
    [
        ("gone", 0, 1),  # a 410 stops the feed at once
        ("http", 29.9, 0),
        ("http", 30, 1),  # failing for gone_after (30 days by default)
        ("connect", 45, 1),
        ("store", 45, 0),  # tracker's own database refusing writes is not the feed's fault
    ],
)
def test_a_feed_is_gone_after_a_410_or_failing_for_gone_after(
    kind: str, days: float, gone: int
) -> None:
    assert failed(kind, days) == gone


def test_gone_after_is_a_setting() -> None:
    assert failed("http", 3, Settings(gone_after=2 * DAY)) == 1
    assert schedule.is_gone("timeout", 10 * DAY, Settings(gone_after=11 * DAY)) is False


def test_a_gone_feed_is_never_due_until_resumed(tmp_path: Path) -> None:
    with Store(tmp_path / "tracker.db") as store:
        store.sync_feeds([FeedConfig("http://a.example/rss"), FeedConfig(URL)], T0)
        gone = store.feed(URL)
        assert gone is not None
        store.conn.execute(
            "UPDATE feeds SET gone = 1, failing_since = ?, consecutive_failures = 4 WHERE id = ?",
            (T0.isoformat(), gone.id),
        )
        later = T0 + timedelta(days=400)
        assert [s.url for s in store.due_feeds(later)] == ["http://a.example/rss"]
        assert [s.url for s in store.gone_feeds()] == [URL]
        store.resume_feed(gone.id, later)
        resumed = store.feed(URL)
        assert [s.url for s in store.due_feeds(later)] == ["http://a.example/rss", URL]
    assert resumed is not None and not resumed.gone
    assert (resumed.failing_since, resumed.consecutive_failures) == (None, 0)
    assert resumed.next_poll_at == later.isoformat()


# ---- the real service against a real server ---------------------------------------------


def requests(server: LocalServer, path: str) -> int:
    return len(server.received_on(path))


@pytest.mark.slow
def test_a_410_feed_is_not_fetched_again_until_resumed(
    tmp_path: Path, pool: ParsePool, run_tracker: Run
) -> None:
    with LocalServer() as server:
        server.route("/gone.xml", Reply(status=410, body=b"retired"))
        server.route("/alive.xml", Reply(body=FEED))
        config = watch_project(tmp_path, [server.url("/gone.xml"), server.url("/alive.xml")])
        clock = Clock(T0)
        service = started_service(config, pool, clock)
        try:
            for day in range(6):  # six cycles over five days: the live feed is due each time
                clock.now = T0 + timedelta(days=day)
                asyncio.run(service.cycle())
            counts = requests(server, "/gone.xml"), requests(server, "/alive.xml")
            # exit 1: the service's clock stands in the past, so it looks stale
            status = json.loads(run_tracker("status", "--json", check=False).stdout)
            listed = run_tracker("feeds", "list").stdout
            health = feed_health(tmp_path / "db" / "tracker.db")
            view = dict(
                (url, (polling, resume))
                for url, polling, resume in service.store.conn.execute(
                    "SELECT url, polling, resume_with FROM feed_health"
                )
            )
            resumed = run_tracker("feeds", "resume", server.url("/gone.xml")).stdout
            clock.now = T0 + timedelta(days=6)
            asyncio.run(service.cycle())
            after_resume = requests(server, "/gone.xml")
        finally:
            service.store.close()
    assert counts == (1, 6)
    gone = next(feed for feed in status["feeds"] if feed["url"].endswith("/gone.xml"))
    assert gone["gone"] and gone["resume_with"] == f"tracker feeds resume {server.url('/gone.xml')}"
    assert f"STOPPED (gone): `tracker feeds resume {server.url('/gone.xml')}`" in listed
    assert health[server.url("/gone.xml")] == ("gone", gone["resume_with"])
    assert health[server.url("/alive.xml")] == ("ok", None)
    assert view == {server.url("/gone.xml"): ("stopped", gone["resume_with"]),
                    server.url("/alive.xml"): ("yes", None)}  # fmt: skip
    assert f"resumed {server.url('/gone.xml')} (it had stopped after gone: " in resumed
    assert after_resume == 2  # due again at once, and fetched


def feed_health(db: Path) -> dict[str, tuple[str, str | None]]:
    """url -> (state, resume_with), as Datasette serves the feed-health page."""
    app = browse.make_app(db, Path(__file__).parents[1] / "config" / "datasette.yml")
    response = asyncio.run(app.client.get("/tracker/feed_health.json?_shape=array"))
    assert response.status_code == 200
    return {row["url"]: (row["state"], row["resume_with"]) for row in response.json()}


@pytest.mark.slow
def test_a_feed_failing_for_gone_after_stops_and_feeds_add_resumes_it(
    tmp_path: Path, pool: ParsePool, run_tracker: Run
) -> None:
    with LocalServer() as server:
        server.route("/down.xml", Reply(status=503, body=b"down"))
        url = server.url("/down.xml")
        config = watch_project(tmp_path, [url], extra_settings='gone_after = "2d"')
        clock = Clock(T0)
        service = started_service(config, pool, clock)
        try:
            for hours in range(0, 24 * 5, 6):  # five days, a cycle every 6 hours
                clock.now = T0 + timedelta(hours=hours)
                asyncio.run(service.cycle())
            stopped_at = requests(server, "/down.xml")
            state = service.store.feed(url)
            status = run_tracker("status", check=False).stdout
            added = run_tracker("feeds", "add", "--no-check", url).stdout  # it still fails
            clock.now = T0 + timedelta(days=5, hours=1)
            asyncio.run(service.cycle())
        finally:
            service.store.close()
    assert state is not None and state.gone and state.last_error_kind == "http"
    # polled with backoff until two days had passed, then never again
    assert 2 <= stopped_at <= 10
    assert "GONE" in status and f"`tracker feeds resume {url}` polls it again" in status
    assert "added" not in added and f"resumed {url}" in added
    assert config.read_text().count(url) == 1  # still configured once
    assert requests(server, "/down.xml") == stopped_at + 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("feeds", "resume", "http://127.0.0.1:9/unknown.xml"), "no feed http://127.0.0.1:9/"),
        (("feeds", "resume"), "give either the URL of a feed or --all"),
        (("feeds", "resume", "--all", "http://127.0.0.1:9/x"), "give either the URL"),
    ],
)
def test_resume_mistakes_get_one_clear_line(
    tmp_path: Path, run_tracker: Run, args: tuple[str, ...], message: str
) -> None:
    watch_project(tmp_path, [])
    run_tracker("status")  # the database exists
    result = run_tracker(*args, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("tracker: error: ") and message in line


@pytest.mark.slow
def test_resume_all_after_an_outage_of_ones_own(tmp_path: Path, run_tracker: Run) -> None:
    urls = [f"http://127.0.0.1:9/{name}.xml" for name in ("a", "b", "c")]
    watch_project(tmp_path, urls)
    db = tmp_path / "db" / "tracker.db"
    with Store(db) as store:
        store.sync_feeds([FeedConfig(url) for url in urls], T0)
        store.conn.execute("UPDATE feeds SET gone = 1 WHERE url != ?", (urls[2],))
    resumed = run_tracker("feeds", "resume", "--all").stdout
    not_stopped = run_tracker("feeds", "resume", urls[2]).stdout
    with Store(db) as store:
        assert store.gone_feeds() == []
        assert len(store.due_feeds(datetime.now(UTC))) == 3
    assert "resumed 2 feeds" in resumed
    assert f"{urls[2]} was not stopped; it is due now" in not_stopped
