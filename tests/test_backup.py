"""``tracker backup``: a sound, complete copy of a live database, taken while a writer
commits polls and a reader (as Datasette does) reads the views; a mistake (a missing
folder, an existing file, no database, a full disk) is one line and exit 2, with the
database untouched and no half-written file left behind."""

from __future__ import annotations

import asyncio
import hashlib
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from conftest import Run, make_project
from dbfactory import populated_db
from hostile import (
    Entry,
    RawServer,
    http_response,
    kill_service,
    rss,
    start_service,
    wait_for,
    watch_project,
)

from tracker import browse
from tracker.errors import StoreError
from tracker.store import Store
from tracker.store.backup import backup_database

ROWS_PER_COMMIT = 50


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db" / "tracker.db"
    populated_db(path)
    return path


def write_polls(db: Path, stop: threading.Event, commits: list[int]) -> None:
    """A writer committing ``ROWS_PER_COMMIT`` polls rows at a time, as the service does."""
    with Store(db) as store:
        feed_id = store.conn.execute("SELECT MIN(id) FROM feeds").fetchone()[0]
        while not stop.is_set():
            with store.transaction() as conn:
                conn.executemany(
                    "INSERT INTO polls (feed_id, started_at, duration_ms, outcome) "
                    "VALUES (?, '2026-03-10T12:00:00+00:00', 1, 'unchanged')",
                    [(feed_id,)] * ROWS_PER_COMMIT,
                )
            commits.append(1)


def read_views(db: Path, stop: threading.Event, reads: list[int]) -> None:
    """A reader going through the views, as Datasette's pages do."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        while not stop.is_set():
            conn.execute("SELECT COUNT(*) FROM flagged").fetchone()
            conn.execute("SELECT * FROM feed_health").fetchall()
            reads.append(1)


def test_backup_during_writes_and_reads_is_sound_and_complete(db: Path, tmp_path: Path) -> None:
    polls_before = rows(db, "SELECT COUNT(*) FROM polls")[0][0]
    items = rows(db, "SELECT * FROM items ORDER BY id")
    flags = rows(db, "SELECT item_id, topic, score FROM flags ORDER BY 1, 2")
    stop, commits, reads = threading.Event(), [], []
    threads = [
        threading.Thread(target=write_polls, args=(db, stop, commits)),
        threading.Thread(target=read_views, args=(db, stop, reads)),
    ]
    for thread in threads:
        thread.start()
    try:
        while len(commits) < 20 or not reads:  # the writer and the reader are at work
            threading.Event().wait(0.01)
        report = backup_database(db, tmp_path / "copy.db")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    copy = tmp_path / "copy.db"
    copied_polls = rows(copy, "SELECT COUNT(*) FROM polls")[0][0] - polls_before
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    assert rows(copy, "SELECT * FROM items ORDER BY id") == items
    assert rows(copy, "SELECT item_id, topic, score FROM flags ORDER BY 1, 2") == flags
    assert copied_polls > 0 and copied_polls % ROWS_PER_COMMIT == 0  # whole commits only
    assert (report.items, report.flags) == (len(items), len(flags))
    assert report.size == copy.stat().st_size
    assert rows(copy, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    assert leftovers(tmp_path) == []


def test_a_backup_restored_opens_as_the_database(db: Path, tmp_path: Path) -> None:
    backup_database(db, tmp_path / "copy.db")
    restored = tmp_path / "restored" / "tracker.db"
    restored.parent.mkdir()
    restored.write_bytes((tmp_path / "copy.db").read_bytes())
    with Store(restored) as store:
        assert store.integrity_check() == "ok"
        assert len(store.feeds()) == len(rows(db, "SELECT * FROM feeds"))
        assert store.counts() == Store(db).counts()


def test_an_existing_file_is_kept_unless_forced(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    target.write_bytes(b"an older backup")
    with pytest.raises(StoreError, match="already exists; use --force"):
        backup_database(db, target)
    assert target.read_bytes() == b"an older backup"
    backup_database(db, target, force=True)
    assert rows(target, "SELECT COUNT(*) FROM items") == rows(db, "SELECT COUNT(*) FROM items")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing/copy.db", "folder .*missing does not exist"), (".", "is a folder")],
)
def test_a_bad_target_leaves_the_database_untouched(
    db: Path, tmp_path: Path, name: str, message: str
) -> None:
    before = digest(db)
    with pytest.raises(StoreError, match=message):
        backup_database(db, tmp_path / name)
    assert digest(db) == before
    assert not (tmp_path / "missing").exists()


def test_the_database_is_never_backed_up_over_itself(db: Path) -> None:
    before = digest(db)
    with pytest.raises(StoreError, match="is the database itself"):
        backup_database(db, db.parent / ".." / "db" / "tracker.db", force=True)
    assert digest(db) == before


def test_no_database_is_not_created_by_a_backup(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database"):
        backup_database(tmp_path / "db" / "tracker.db", tmp_path / "copy.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---- the command, as a user runs it -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("backup", "missing/copy.db"), "folder missing does not exist"),
        (("backup", "exists.db"), "exists.db: already exists; use --force"),
        (("--db", "nodb/tracker.db", "backup", "copy.db"), "no database there"),
    ],
)
def test_backup_mistakes_get_one_clear_line(
    tmp_path: Path, run_tracker: Run, args: tuple[str, ...], message: str
) -> None:
    make_project(tmp_path, [])
    run_tracker("status")  # creates the database
    (tmp_path / "exists.db").write_bytes(b"keep me")
    before = digest(tmp_path / "db" / "tracker.db")
    result = run_tracker(*args, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("tracker: error: ") and message in line
    assert digest(tmp_path / "db" / "tracker.db") == before
    assert (tmp_path / "exists.db").read_bytes() == b"keep me"
    assert not (tmp_path / "nodb").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_backup_prints_what_it_copied(db: Path, tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, [])
    result = run_tracker("backup", "copy.db")
    counts = Store(db).counts()
    assert "integrity ok" in result.stdout
    assert f"{counts['items']} items, {counts['flags']} flags" in result.stdout
    assert rows(tmp_path / "copy.db", "PRAGMA integrity_check") == [("ok",)]


def limit_file_size() -> None:
    """A disk with room for 64 KiB per file: a bigger write fails as on a full disk
    (Python ignores SIGXFSZ, so the write returns EFBIG: SQLite's write I/O error)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_leaves_nothing_behind(db: Path, tmp_path: Path) -> None:
    make_project(tmp_path, [])
    before = digest(db)
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "backup", "copy.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit_file_size,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is the disk full?" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "copy.db").exists()
    assert leftovers(tmp_path) == []
    assert digest(db) == before


# ---- the real service writing, Datasette reading, backups taken meanwhile ----------------

FEEDS = 12


def generation_entries(feed: int, generation: int) -> list[Entry]:
    """The feed's entries now: eight more every generation, a third of them flagged."""
    return [
        Entry(f"f{feed}-{k}", f"{'Taliban' if k % 3 == 0 else 'Market'} report {feed}.{k}",
              f"http://outlet{feed}.example/{k}", "Words of the story. " * 40)
        for k in range(8 + 8 * generation)
    ]  # fmt: skip


def sound(copy: Path) -> tuple[int, int]:
    """A backup's integrity, and no half-written poll in it: every item stored was
    announced by its poll and linked to its feed. Its (polls, items)."""
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    ((items, links, announced, polls),) = rows(
        copy,
        "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM item_feeds), "
        "(SELECT COALESCE(SUM(new_items), 0) FROM polls), (SELECT COUNT(*) FROM polls)",
    )
    assert items == links == announced, (items, links, announced)
    return int(polls), int(items)  # type: ignore[call-overload]


def datasette_reads(db: Path, stop: threading.Event, pages: list[int]) -> None:
    app = browse.make_app(db, Path(__file__).parents[1] / "config" / "datasette.yml")
    while not stop.is_set():
        for path in ("/tracker/flagged.json", "/tracker/feed_health.json"):
            response = asyncio.run(app.client.get(path))
            assert response.status_code == 200
            pages.append(1)


@pytest.mark.slow
def test_backups_during_the_services_polls_and_datasette_reads_are_sound(
    tmp_path: Path, run_tracker: Run
) -> None:
    generation = [0]
    with RawServer() as server:
        for feed in range(FEEDS):
            server.route(
                f"/f{feed}.xml",
                lambda sock, request, feed=feed: sock.sendall(
                    http_response(rss(generation_entries(feed, generation[0])))
                ),
            )
        watch_project(tmp_path, [server.url(f"/f{n}.xml") for n in range(FEEDS)],
                      extra_settings='interval = "10s"')  # fmt: skip
        db = tmp_path / "db" / "tracker.db"
        service = start_service(tmp_path)
        stop, pages = threading.Event(), []
        reader = threading.Thread(target=datasette_reads, args=(db, stop, pages))
        try:
            wait_for(lambda: db.exists() and rows(db, "SELECT COUNT(*) FROM polls")[0][0], 30,
                     "the first poll")  # fmt: skip
            reader.start()
            taken = []
            for number in range(8):
                generation[0] = number + 1  # new entries for every next poll
                if number % 2 == 0 and taken:  # half the backups after a poll, not in a burst
                    seen = taken[-1][0]
                    wait_for(lambda seen=seen: rows(db, "SELECT COUNT(*) FROM polls")[0][0] > seen,
                             30, "the next poll")  # fmt: skip
                run_tracker("backup", f"copy{number}.db")
                taken.append(sound(tmp_path / f"copy{number}.db"))
            service.send_signal(signal.SIGTERM)
            assert service.wait(timeout=30) == 0
            run_tracker("backup", "final.db")
        finally:
            stop.set()
            if reader.is_alive():
                reader.join()
            kill_service(service)
    assert len(set(taken)) >= 3, f"the backups did not overlap the polls: {taken}"
    assert pages, "Datasette did not read meanwhile"
    assert sound(tmp_path / "final.db") == sound(db)  # complete once the service stopped
    assert rows(tmp_path / "final.db", "SELECT * FROM items ORDER BY id") == rows(
        db, "SELECT * FROM items ORDER BY id"
    )
