"""``tracker backup`` on a big database, idle and under a writer: time, size, and what
the writer feels.

    .venv/bin/python benchmarks/backup.py [--items 300000] [--reuse]

Builds a database with ``datasette_1m.build`` (tracker's schema, generated items from
1,000 feeds, 1% flagged, the polls of a few weeks), then measures, three times each:

- ``backup_database`` (what ``tracker backup`` runs: SQLite's online backup API in one
  step, ``integrity_check`` of the copy, the rename) on the idle database;
- its parts: the backup API's copy alone and the copy's ``integrity_check``, and
  ``VACUUM INTO``, the alternative the backup did not take;
- ``backup_database`` while a writer thread commits a poll-like transaction (20
  ``polls`` rows and a feed update, as ``BEGIN IMMEDIATE``) every 20 ms: the writer's
  commit latency during the backup against the same writer alone, and how far the WAL
  grew (a reader holds back checkpoints past its snapshot).

Prints a table; copy it into a dated file under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import threading
import time
from pathlib import Path

import datasette_1m
import report

from tracker.store.backup import backup_database

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / "scratch" / "backup"
RUNS = 3
WRITE_EVERY = 0.02  # seconds between the writer's commits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=300_000)
    parser.add_argument("--reuse", action="store_true", help="Reuse the database built before.")
    args = parser.parse_args()
    db = WORK / "tracker.db"
    if not (args.reuse and db.exists()):
        datasette_1m.build(db, args.items, 0.01)
    size_mb = db.stat().st_size / 1e6
    print(f"machine: {report.machine()}")
    print(f"database: {count(db, 'items')} items, {size_mb:.0f} MB")
    copy, vacuumed = WORK / "copy.db", WORK / "vacuum.db"
    idle = [timed(lambda: backup_database(db, copy, force=True)) for _ in range(RUNS)]
    pages = [timed(lambda: backup_api(db, copy)) for _ in range(RUNS)]
    vacuum = [timed(lambda: vacuum_into(db, vacuumed)) for _ in range(RUNS)]
    check = [timed(lambda: integrity_check(copy)) for _ in range(RUNS)]
    alone = write_latencies(db, seconds=statistics.median(idle))
    busy, wal_growth = zip(*(backup_under_writer(db) for _ in range(RUNS)), strict=True)
    print(f"| `tracker backup` (copy, check, rename), idle | {median(idle)} s | |")
    for name, runs in (("backup API copy alone", pages), ("VACUUM INTO alone", vacuum)):
        rate = size_mb / statistics.median(runs)
        print(f"| {name}, idle | {median(runs)} s | {rate:.0f} MB/s |")
    print(f"| integrity_check of the copy | {median(check)} s | |")
    print(f"| VACUUM INTO copy size | {vacuumed.stat().st_size / 1e6:.0f} MB | |")
    print(f"| writer commit alone | p50 {ms(alone, 50)} | max {ms(alone, 100)} |")
    merged = [latency for run in busy for latency, _ in run]
    print(f"| writer commit during backup | p50 {ms(merged, 50)} | max {ms(merged, 100)} |")
    print(f"| commits during one backup | {statistics.median(len(run) for run in busy):.0f} | |")
    print(f"| WAL growth during backup | max {max(wal_growth) / 1e6:.1f} MB | |")
    return 0


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def backup_api(db: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    with sqlite3.connect(db) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def integrity_check(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def vacuum_into(db: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute("VACUUM INTO ?", (str(target),))


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}"


def ms(latencies: list[float], percentile: int) -> str:
    ordered = sorted(latencies)
    index = min(len(ordered) - 1, int(len(ordered) * percentile / 100))
    return f"{ordered[index] * 1000:.1f} ms"


def write_latencies(db: Path, seconds: float) -> list[float]:
    stop = threading.Event()
    latencies: list[tuple[float, float]] = []
    writer = threading.Thread(target=write, args=(db, stop, latencies))
    writer.start()
    time.sleep(seconds)
    stop.set()
    writer.join()
    return [latency for latency, _ in latencies]


def backup_under_writer(db: Path) -> tuple[list[tuple[float, float]], int]:
    """The writer's (latency, time) of each commit during one backup, and the WAL's growth."""
    stop = threading.Event()
    latencies: list[tuple[float, float]] = []
    writer = threading.Thread(target=write, args=(db, stop, latencies))
    writer.start()
    time.sleep(0.5)
    wal = Path(f"{db}-wal")
    before = wal.stat().st_size if wal.exists() else 0
    started = time.perf_counter()
    backup_database(db, WORK / "copy.db", force=True)
    ended = time.perf_counter()
    grown = (wal.stat().st_size if wal.exists() else 0) - before
    stop.set()
    writer.join()
    return [(lat, at) for lat, at in latencies if started <= at <= ended], max(grown, 0)


def write(db: Path, stop: threading.Event, latencies: list[tuple[float, float]]) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    while not stop.is_set():
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO polls (feed_id, started_at, duration_ms, outcome) "
            "VALUES (?, '2026-12-07T00:00:00+00:00', 5, 'unchanged')",
            [(n % 1000 + 1,) for n in range(20)],
        )
        conn.execute("UPDATE feeds SET last_polled_at = '2026-12-07T00:00:00+00:00' WHERE id = 1")
        conn.execute("COMMIT")
        ended = time.perf_counter()
        latencies.append((ended - started, ended))
        time.sleep(WRITE_EVERY)
    conn.close()


if __name__ == "__main__":
    raise SystemExit(main())
