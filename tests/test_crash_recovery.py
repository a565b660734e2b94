"""``kill -9`` of the running service at random moments, again and again.

The real ``tracker run`` polls eight local feeds whose content grows between
restarts; it is killed (with its parse workers, as systemd's control group would be)
at a random moment 25 times: during start-up and migration, mid-poll, mid-write, while
idle. Before each kill an outside reader notes every item a committed poll has made
visible; after each kill the database must pass ``PRAGMA integrity_check``, still hold
every one of those items, and show no half-written poll (the items, their links,
their full-text rows and the ``polls`` rows' counts all agree). At the end one clean
run polls everything again: every entry is stored exactly once.

The full-size run (100 kills) is ``.venv/bin/python benchmarks/hostile.py crash``.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile import (
    Entry,
    RawServer,
    http_response,
    kill_service,
    query,
    rss,
    start_service,
    wait_for,
    watch_project,
)

# Every test here spawns the service and kills it with SIGKILL: the slow tier.
pytestmark = pytest.mark.slow

KILLS = 25
FEEDS = 8
EARLY_KILLS = 0.2  # the share of kills that come while the service starts up (imports,
EARLY_WINDOW = 0.6  # migration, config) within this many seconds of the spawn; the others
KILL_WINDOW = 0.6  # come within this many seconds of the run's first committed poll


def entries(feed: int, generation: int) -> list[Entry]:
    """The feed's entries at this generation: four more every time, a third flagged."""
    return [
        Entry(
            f"f{feed}-{k}",
            f"{'Taliban' if k % 3 == 0 else 'Market'} report {feed}.{k}",
            f"http://outlet{feed}.example/{k}",
            "Words of the story. " * 15,
        )
        for k in range(4 + 4 * generation)
    ]


def committed(db: Path) -> set[tuple[str, str]]:
    """Every (feed URL, entry key) a committed poll has stored."""
    if not db.exists():
        return set()
    try:
        rows = query(
            db,
            "SELECT feeds.url, item_feeds.entry_key FROM item_feeds "
            "JOIN feeds ON feeds.id = item_feeds.feed_id",
        )
    except sqlite3.OperationalError:  # killed before the schema was ever committed
        return set()
    return {(str(url), str(key)) for url, key in rows}


def assert_consistent(db: Path) -> None:
    """Integrity, and no half-written poll: every count of one poll's writes agrees."""
    if not db.exists():
        return  # killed before the database was created
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    tables = {row[0] for row in query(db, "SELECT name FROM sqlite_master")}
    if "items" not in tables:
        return  # killed during the first migration: nothing was ever committed
    (items, links, indexed, announced, unstoried), = query(
        db,
        "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM item_feeds), "
        "(SELECT COUNT(*) FROM items_fts), (SELECT COALESCE(SUM(new_items), 0) FROM polls), "
        "(SELECT COUNT(*) FROM items WHERE story_id IS NULL)",
    )  # fmt: skip
    assert items == links == indexed == announced, (items, links, indexed, announced)
    assert unstoried == 0
    duplicates = query(db, "SELECT title FROM items GROUP BY title HAVING COUNT(*) > 1")
    assert not duplicates, duplicates


@dataclass
class CrashReport:
    """What a run of kills did: the figures the test asserts and the benchmark prints."""

    kills: int
    seed: int
    seconds: float = 0.0  # the kill cycles, without the final clean run
    acknowledged: int = 0  # items seen committed before some kill
    hot: int = 0  # kills that left a write-ahead log to recover
    mid_cycle: int = 0  # kills that came after the run had written a poll
    final_items: int = 0
    exit_code: int | None = None
    log: str = ""


def crash_cycles(root: Path, kills: int, seed: int) -> CrashReport:
    """Kill ``tracker run`` ``kills`` times at random moments, checking the database after
    each kill, then let one clean run poll everything; raise AssertionError on any loss."""
    rng = random.Random(seed)
    report = CrashReport(kills, seed)
    generation = [0]
    with RawServer() as server:
        for feed in range(FEEDS):
            server.route(
                f"/f{feed}.xml",
                lambda sock, request, feed=feed: sock.sendall(
                    http_response(rss(entries(feed, generation[0]), title=f"Outlet {feed}"))
                ),
            )
        urls = [server.url(f"/f{feed}.xml") for feed in range(FEEDS)]
        watch_project(root, urls, extra_settings='interval = "10s"')
        db = root / "db" / "tracker.db"
        acknowledged: set[tuple[str, str]] = set()
        started = time.monotonic()
        for kill in range(kills):
            generation[0] = kill + 1
            if "feeds" in {row[0] for row in _tables(db)}:
                _make_all_due(db)
            polls_before = _polls(db)
            service = start_service(root)
            if rng.random() < EARLY_KILLS:
                time.sleep(rng.uniform(0, EARLY_WINDOW))
            else:
                _wait_for_first_poll(root, service, polls_before, f"kill {kill}, seed {seed}")
                time.sleep(rng.uniform(0, KILL_WINDOW))  # mostly mid-cycle, mid-write
            acknowledged |= committed(db)
            assert service.poll() is None, f"the service exited early (kill {kill}, seed {seed})"
            kill_service(service)
            report.mid_cycle += _polls(db) > polls_before
            wal = db.with_name(db.name + "-wal")
            report.hot += wal.exists() and wal.stat().st_size > 0
            assert_consistent(db)
            lost = acknowledged - committed(db)
            assert not lost, f"kill {kill} (seed {seed}) lost {len(lost)} items: {sorted(lost)[:3]}"
        report.seconds = time.monotonic() - started
        report.acknowledged = len(acknowledged)

        generation[0] += 1  # new entries that only the clean run can have stored
        final = FEEDS * len(entries(0, generation[0]))
        _make_all_due(db)
        service = start_service(root)
        try:
            wait_for(lambda: len(committed(db)) == final, 30, "the final polls")
        finally:
            service.send_signal(signal.SIGTERM)
            report.exit_code = service.wait(timeout=30)
    report.log = (root / "service.log").read_text()
    assert_consistent(db)
    assert acknowledged <= committed(db)
    report.final_items = int(query(db, "SELECT COUNT(*) FROM items")[0][0])
    assert report.final_items == final, "entries were lost or stored twice"
    flagged = sum(
        1 for f in range(FEEDS) for e in entries(f, generation[0]) if "Taliban" in e.title
    )
    assert query(db, "SELECT COUNT(*) FROM flags") == [(flagged,)]
    return report


def test_kill_minus_nine_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    report = crash_cycles(tmp_path, KILLS, seed=random.randrange(2**32))
    assert report.exit_code == 0, report.log[-2000:]
    assert "Traceback" not in report.log
    assert report.acknowledged > FEEDS * 20, "the kills came before anything was polled"
    assert report.hot >= 5, f"only {report.hot} kills left a write-ahead log to recover"
    assert report.mid_cycle >= KILLS // 2, f"only {report.mid_cycle} kills came mid-cycle"


def _wait_for_first_poll(
    root: Path, service: subprocess.Popen[bytes], polls_before: int, where: str
) -> None:
    db = root / "db" / "tracker.db"
    deadline = time.monotonic() + 30
    while _polls(db) <= polls_before:
        if service.poll() is not None or time.monotonic() > deadline:
            kill_service(service)
            log = (root / "service.log").read_text()[-3000:]
            raise AssertionError(f"no poll from the restarted service ({where}):\n{log}")
        time.sleep(0.05)


def _polls(db: Path) -> int:
    if "polls" not in {row[0] for row in _tables(db)}:
        return 0
    return int(query(db, "SELECT COUNT(*) FROM polls")[0][0])


def _tables(db: Path) -> list[tuple[object, ...]]:
    return query(db, "SELECT name FROM sqlite_master") if db.exists() else []


def _make_all_due(db: Path) -> None:
    with sqlite3.connect(db, timeout=10) as conn:
        conn.execute("UPDATE feeds SET next_poll_at = NULL")
