"""The service's seams, in this process: after-cycle hooks, the clock it is given, and
the lock that keeps a second service off a database."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile import watch_project
from httpserver import LocalServer, Reply

from tracker.config import load_config
from tracker.errors import ServiceLocked, TrackerError
from tracker.hooks import FinishedCycle, run_after_cycle
from tracker.poll import CycleSummary, ParsePool
from tracker.service import Service, single_instance
from tracker.store import Store
from tracker.topicset import load_topic_set

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Outlet</title><link>http://example.org/</link>
<item><guid>a</guid><title>Taliban envoy meets US officials in Doha</title>
<link>http://example.org/a</link><description>Talks went on.</description></item>
<item><guid>b</guid><title>Weather in Kabul</title><link>http://example.org/b</link>
<description>Sunny.</description></item>
</channel></rss>"""


@dataclass
class Clock:
    """A clock that stands still until a test moves it."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Recorder:
    """An after-cycle hook that keeps what it was told."""

    seen: list[FinishedCycle] = field(default_factory=list)

    def __call__(self, cycle: FinishedCycle) -> None:
        self.seen.append(cycle)


def started_service(config_path: Path, pool: ParsePool, clock: Clock) -> Service:
    """The service ``tracker run`` builds, with ``clock``, started but not scheduled."""
    config = load_config(config_path)
    topics = load_topic_set(config.topics_dir, config.seeds_dir)
    store = Store(config.db_path)
    service = Service(config_path, None, 1.0, config, topics, store, pool=pool, clock=clock)
    service.run_id = store.start_service_run(os.getpid(), "test", clock())
    service.apply(config, topics, clock())
    return service


@pytest.fixture
def feed_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        server.route("/feed.xml", Reply(body=FEED))
        yield server


def service_run(service: Service) -> tuple[str, int, dict[str, object]]:
    row = service.store.conn.execute(
        "SELECT last_cycle_at, cycles, last_cycle_summary FROM service_runs WHERE id = ?",
        (service.run_id,),
    ).fetchone()
    return row[0], row[1], json.loads(row[2])


# ---- hooks on a real service -------------------------------------------------------------


def test_a_registered_hook_sees_every_cycle_at_the_services_clock(
    tmp_path: Path, pool: ParsePool, feed_server: LocalServer
) -> None:
    clock = Clock()
    service = started_service(watch_project(tmp_path, [feed_server.url("/feed.xml")]), pool, clock)
    recorder = Recorder()
    service.after_cycle_hooks.append(recorder)
    try:
        asyncio.run(service.cycle())  # polls the new feed
        clock.now = T0 + timedelta(minutes=1)
        asyncio.run(service.cycle())  # nothing is due
        clock.now = T0 + timedelta(days=1)
        asyncio.run(service.cycle())  # due again
        polled_at = service.store.conn.execute("SELECT started_at FROM polls").fetchall()
        recorded = service_run(service)
    finally:
        service.store.close()

    seen = [(c.summary.feeds, c.summary.new_items, c.now) for c in recorder.seen]
    assert seen == [(1, 2, T0), (0, 0, T0 + timedelta(minutes=1)), (1, 0, T0 + timedelta(days=1))]
    assert all(c.store is service.store and c.config is service.config for c in recorder.seen)
    assert [c.facts.get("alerts_sent") for c in recorder.seen] == [0, 0, 0]
    # the poller and the default hooks read the same clock (a poll starts as its fetch did)
    polls = [datetime.fromisoformat(row[0]) for row in polled_at]
    assert len(polls) == 2
    assert T0 - timedelta(minutes=1) < polls[0] <= T0
    assert T0 + timedelta(hours=23) < polls[1] <= T0 + timedelta(days=1)
    assert recorded[:2] == ((T0 + timedelta(days=1)).isoformat(), 3)
    assert recorded[2]["feeds"] == 1 and recorded[2]["alerts_sent"] == 0
    assert service.pruned_at == T0 + timedelta(days=1)


def test_a_failing_hook_is_logged_and_the_other_hooks_still_run(
    tmp_path: Path, pool: ParsePool, caplog: pytest.LogCaptureFixture
) -> None:
    service = started_service(watch_project(tmp_path, []), pool, Clock())
    recorder = Recorder()

    def detect_surges(cycle: FinishedCycle) -> None:
        raise RuntimeError("surge detector is broken")

    service.after_cycle_hooks.insert(0, detect_surges)
    service.after_cycle_hooks.append(recorder)
    try:
        asyncio.run(service.cycle())
        asyncio.run(service.cycle())
        recorded = service_run(service)
    finally:
        service.store.close()

    failures = [r for r in caplog.records if r.message.startswith("after-cycle hook failed")]
    assert [r.message for r in failures] == ["after-cycle hook failed hook=detect_surges"] * 2
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)
    assert "surge detector is broken" in caplog.text  # the traceback is logged
    assert len(recorder.seen) == 2  # the hooks after it ran, cycle after cycle
    assert recorder.seen[0].facts == {"alerts_sent": 0, "hooks_failed": ("detect_surges",)}
    assert recorded[1] == 2  # record_cycle ran too, and says what failed
    assert recorded[2] == {
        "started_at": T0.isoformat(),
        "feeds": 0,
        "alerts_sent": 0,
        "hooks_failed": ["detect_surges"],
    }


def test_the_default_hooks_fetch_articles_send_alerts_record_the_cycle_and_prune(
    tmp_path: Path, pool: ParsePool
) -> None:
    service = started_service(watch_project(tmp_path, []), pool, Clock())
    try:
        names = [hook.__name__ for hook in service.after_cycle_hooks]  # type: ignore[attr-defined]
    finally:
        service.store.close()

    assert names == [
        "fetch_article_text",
        "detect_developments",
        "detect_surges",
        "send_alerts",
        "record_cycle",
        "prune_story_bands",
        "prune_history",
    ]


# ---- the hook runner ---------------------------------------------------------------------


def test_hooks_run_in_order_and_see_the_facts_of_the_hooks_before(tmp_path: Path) -> None:
    calls: list[tuple[str, Mapping[str, object]]] = []

    def first(cycle: FinishedCycle) -> Mapping[str, object]:
        calls.append(("first", cycle.facts))
        return {"surges": 2}

    def broken(cycle: FinishedCycle) -> None:
        raise ValueError("no")

    def last(cycle: FinishedCycle) -> Mapping[str, object]:
        calls.append(("last", cycle.facts))
        return {"developments": 1}

    config = load_config(watch_project(tmp_path, []))
    topics = load_topic_set(config.topics_dir, config.seeds_dir)
    with Store(tmp_path / "hooks.db") as store:
        cycle = FinishedCycle(CycleSummary(T0, 0.0), T0, store, config, topics)
        facts = run_after_cycle([first, broken, last], cycle)

    assert calls == [("first", {}), ("last", {"surges": 2, "hooks_failed": ("broken",)})]
    assert facts == {"surges": 2, "hooks_failed": ("broken",), "developments": 1}


# ---- one service per database ---------------------------------------------------------------


def test_a_second_service_on_a_database_is_refused_with_a_tracker_error(tmp_path: Path) -> None:
    db = tmp_path / "db" / "tracker.db"
    refused = pytest.raises(ServiceLocked, match=f"pid {os.getpid()}")
    with single_instance(db), refused as caught, single_instance(db):
        pass

    assert isinstance(caught.value, TrackerError)
    assert caught.value.kind == "locked"
    with single_instance(db):  # released when the first service stops
        pass


# ---- the clock --------------------------------------------------------------------------

TRACKER = Path(__file__).resolve().parent.parent / "tracker"
WALL_CLOCKS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter"}


@pytest.mark.parametrize(
    "path",
    ["service.py", "hooks.py", *sorted(f"sinks/{p.name}" for p in TRACKER.glob("sinks/*.py"))],
)
def test_the_service_hooks_and_sinks_never_call_the_wall_clock(path: str) -> None:
    """The service reads the time through its ``clock`` and passes ``now`` on; the
    sender's monotonic deadlines come from its own ``clock`` argument."""
    tree = ast.parse((TRACKER / path).read_text(encoding="utf-8"))
    calls = [
        node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
    ]
    assert not WALL_CLOCKS & set(calls), f"tracker/{path} reads the clock itself"
