"""Several processes and threads on one database: writers wait for each other, readers
(Datasette, a plain SQLite connection) never see half a poll, and the WAL stays bounded
once a long reader lets go.

Every writer here is real: ``tracker poll --once`` in a subprocess, the poll pipeline
(``Poller``) and the service's own cycle (``Service.cycle``), each on its own connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, Run, make_project
from hostile import (
    Entry,
    Harness,
    RawServer,
    make_all_due,
    news,
    respond,
    rss,
    service_for,
    watch_project,
)

from tracker import browse
from tracker.poll import ParsePool
from tracker.store import Store

HOLD = 1.5  # seconds another writer keeps the write lock
# One statement is one snapshot: these must always agree, whatever is being written.
SNAPSHOT_SQL = (
    "SELECT (SELECT COUNT(*) FROM items) AS items, "
    "(SELECT COALESCE(SUM(new_items), 0) FROM polls) AS announced, "
    "(SELECT COUNT(*) FROM item_feeds) AS links, "
    "(SELECT COUNT(*) FROM items_fts) AS indexed, "
    "(SELECT COUNT(*) FROM polls) AS polls"
)


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another writer (a migration, a CLI command) that holds the lock for ``seconds``."""
    locked = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait(5)
    return thread


@pytest.mark.slow
def test_the_cli_waits_for_another_writer_instead_of_failing(
    tmp_path: Path, run_tracker: Run, server: RawServer
) -> None:
    server.route("/feed", respond(rss(news(4))))
    make_project(tmp_path, [server.url("/feed")], with_topics=False)
    db = tmp_path / "db" / "tracker.db"
    Store(db).close()
    holder = hold_write_lock(db, HOLD)
    started = time.monotonic()
    result = run_tracker("poll", "--once")
    elapsed = time.monotonic() - started
    holder.join()
    assert elapsed >= HOLD - 0.1, f"the poll did not wait ({elapsed:.2f}s)"
    assert "locked" not in result.stdout + result.stderr
    assert "4 new" in result.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 4


@pytest.mark.slow
def test_opening_and_migrating_waits_for_another_writer(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode = WAL")  # as tracker leaves every database
        conn.execute("CREATE TABLE other (x)")  # a database someone else is writing
    holder = hold_write_lock(db, HOLD)
    started = time.monotonic()
    with Store(db) as store:
        elapsed = time.monotonic() - started
        assert store.integrity_check() == "ok"
    holder.join()
    assert elapsed >= HOLD - 0.1


class Readers:
    """Datasette and a plain connection reading in their own threads until stopped."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.app = browse.make_app(db, REPO / "config" / "datasette.yml")
        self.stop = threading.Event()
        self.snapshots: list[dict[str, int]] = []
        self.pages = 0
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._datasette),
            threading.Thread(target=self._sqlite),
        ]

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _datasette(self) -> None:
        async def read() -> None:
            while not self.stop.is_set():
                response = await self.app.client.get(
                    "/tracker.json", params={"sql": SNAPSHOT_SQL, "_shape": "array"}
                )
                page = await self.app.client.get("/tracker/polls")
                self.pages += 1
                if response.status_code != 200 or page.status_code != 200:
                    self.errors.append(f"{response.status_code} {page.status_code}")
                    continue
                self.snapshots.append(response.json()[0])

        try:
            asyncio.run(read())
        except Exception as exc:  # reported by the test, not lost in the thread
            self.errors.append(repr(exc))

    def _sqlite(self) -> None:
        conn = sqlite3.connect(self.db, timeout=1)
        conn.row_factory = sqlite3.Row
        try:
            while not self.stop.is_set():
                self.snapshots.append(dict(conn.execute(SNAPSHOT_SQL).fetchone()))
        except sqlite3.Error as exc:
            self.errors.append(repr(exc))
        finally:
            conn.close()


@pytest.mark.slow
def test_readers_during_polls_never_see_a_partial_poll(
    tmp_path: Path, pool: ParsePool, server: RawServer
) -> None:
    urls = [server.url(f"/f{n}") for n in range(4)]
    harness = Harness(tmp_path / "tracker.db", pool)
    harness.add(*urls)
    with Readers(harness.path) as readers:
        for batch in range(5):
            for n in range(4):
                server.route(f"/f{n}", respond(rss(news(25 * (batch + 1), f"f{n}"))))
            harness.poll()
    stored = harness.count("SELECT COUNT(*) FROM items")
    harness.close()

    assert not readers.errors, readers.errors[:3]
    assert readers.pages >= 3 and len(readers.snapshots) >= 50
    for seen in readers.snapshots:
        assert seen["items"] == seen["announced"] == seen["links"] == seen["indexed"], seen
    assert len({seen["polls"] for seen in readers.snapshots}) >= 3, "readers saw no progress"
    final = max(seen["items"] for seen in readers.snapshots)
    assert final <= stored == 4 * 125


@pytest.mark.slow
def test_index_batches_run_on_another_thread_and_no_write_overlaps_one(
    tmp_path: Path, pool: ParsePool, server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tracker.store.bands.SEARCH_BATCH", 20)
    urls = [server.url(f"/f{n}") for n in range(6)]
    for n in range(6):
        server.route(f"/f{n}", respond(rss(news(15, f"f{n}"))))
    harness = Harness(tmp_path / "tracker.db", pool)
    harness.add(*urls)
    store = harness.store
    batch_threads: list[int] = []
    overlaps: list[str] = []
    batching = threading.Event()
    index_aside, record_poll = store.index_aside, store.record_poll

    def slow_index_aside() -> int:
        batch_threads.append(threading.get_ident())
        batching.set()
        try:
            time.sleep(0.2)  # a long batch: the writes of the lanes that finish meanwhile wait
            return index_aside()
        finally:
            batching.clear()

    def watched_record_poll(*args: Any, **kwargs: Any) -> Any:
        if batching.is_set():
            overlaps.append(args[0].url)
        return record_poll(*args, **kwargs)

    monkeypatch.setattr(store, "index_aside", slow_index_aside)
    monkeypatch.setattr(store, "record_poll", watched_record_poll)
    summary = harness.poll().summary
    assert summary.new_items == 90 and summary.errors == 0
    assert len(batch_threads) >= 3 and threading.get_ident() not in batch_threads
    assert overlaps == []
    assert harness.count("SELECT COUNT(*) FROM items_fts_docsize") == 90  # all searchable
    assert harness.count("SELECT COUNT(DISTINCT item_id) FROM story_bands") == 90
    store.conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
    harness.close()


def wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.mark.slow
def test_wal_stays_bounded_once_a_long_reader_lets_go(
    tmp_path: Path, pool: ParsePool, server: RawServer
) -> None:
    config = watch_project(tmp_path, [server.url(f"/f{n}") for n in range(3)])
    service = service_for(config, pool)
    db = Path(service.store.path)

    def cycle(batch: int) -> None:
        for n in range(3):
            body = [Entry(f"{batch}-{k}", f"Taliban story {batch} {k}", None, "w " * 400)
                    for k in range(60)]  # fmt: skip
            server.route(f"/f{n}", respond(rss(body, title=f"Feed {n}")))
        make_all_due(service.store)
        asyncio.run(service.cycle())

    cycle(0)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    pinned = reader.execute("SELECT COUNT(*) FROM items").fetchone()[0]  # a snapshot, held
    for batch in range(1, 4):
        cycle(batch)
    held = wal_size(db)
    _, frames, moved = service.store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert moved < frames, "a checkpoint ran past a reader's snapshot"
    assert reader.execute("SELECT COUNT(*) FROM items").fetchone()[0] == pinned
    reader.execute("COMMIT")
    reader.close()

    sizes = []
    for batch in range(4, 10):  # twice as much writing as while the reader held on
        cycle(batch)
        sizes.append(wal_size(db))
    service.store.close()
    # The cycle after the reader let go still appends (the checkpoint comes at its end);
    # from then on the checkpointed WAL is reused from its start and stops growing.
    assert held > 0
    assert sizes[1:] == [sizes[1]] * (len(sizes) - 1), f"WAL kept growing: {sizes}"
    assert max(sizes) <= 1.5 * held, f"WAL grew from {held} to {max(sizes)} bytes"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 3 * 10 * 60
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_each_thread_uses_its_own_connection(tmp_path: Path) -> None:
    store = Store(tmp_path / "tracker.db")
    failures: list[Any] = []

    def use_elsewhere() -> None:
        try:
            store.counts()
        except Exception as exc:
            failures.append(exc)

    thread = threading.Thread(target=use_elsewhere)
    thread.start()
    thread.join()
    store.close()
    assert failures and "thread" in str(failures[0]), "a connection was usable from two threads"
