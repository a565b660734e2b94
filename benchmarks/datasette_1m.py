"""Datasette on a million items: the flagged view and full-text search, timed.

    .venv/bin/python benchmarks/datasette_1m.py [--items 1000000] [--reuse]

Builds a tracker database with tracker's own schema (``tracker.store.Store``
creates it) holding a million generated items from 1,000 feeds, the polls of a
few weeks, 1% of items flagged (with their assessments and matches, placed in their
developments as the service does), then bulk
inserts with executemany in large transactions and rebuilds the full-text index
once. A rare word is planted in a handful of items and a common one in about a
third of them. Then it times pages through Datasette as ``tracker browse`` serves
them (``tracker.browse.make_app`` with config/datasette.yml, in-process client):
the analyst's desk (the landing page, a topic and week, its search box and the
search page), the ``flagged`` view, a search for the rare word and one for the
common word.
Each page is requested once to warm up and then five times; the median counts.
Results go to benchmarks/results-datasette.json and benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedset
import report

from tracker.browse import make_app
from tracker.store import Store, schema

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / "scratch"
RESULTS = REPO / "benchmarks" / "results-datasette.json"
METADATA = REPO / "config" / "datasette.yml"
RARE = "zanzibarite"  # planted in RARE_ITEMS items
RARE_ITEMS = 25
COMMON = "kabul"  # planted in COMMON_SHARE of the items, as a name in the news is
COMMON_SHARE = 0.10
COMMONEST = "government"  # the generator's most frequent word: in two thirds of the items
FEEDS = 1000
RELEVANT_SHARE = 0.03
POLLS_PER_FEED = 100
BATCH = 50_000
TARGETS = {
    "desk": 0.2,
    "desk_topic_week": 0.2,
    "desk_search_rare": 0.2,
    "desk_search_page_rare": 0.2,
    "desk_search_page_common": 2.0,
    "flagged": 0.2,
    "search_rare": 0.2,
    "search_common": 2.0,
    "search_commonest": 2.0,
    "search_items_commonest": 2.0,
}


def main() -> int:
    args = parse_args()
    # Datasette names the database after the file's stem: config/datasette.yml says "tracker".
    db = WORK / f"datasette-{args.flagged_share:g}" / "tracker.db"
    if not (args.reuse and db.exists()):
        build(db, args.items, args.flagged_share)
    timings = asyncio.run(time_pages(db))
    result = {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "machine": report.machine(),
        "items": count(db, "items"),
        "flags": count(db, "flags"),
        "db_mb": round(db.stat().st_size / 1024 / 1024),
        "pages": timings,
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = results if isinstance(results, dict) and "runs" in results else {"runs": {}}
    results["runs"][f"{args.flagged_share:g}"] = result
    report.write_json(RESULTS, results)
    report.update_readme("datasette-1m", render(results["runs"]))
    print(f"wrote {RESULTS} and {report.README}")
    return 0


def build(db: Path, items: int, flagged_share: float) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    Store(db).close()  # tracker's schema, views, FTS table and triggers
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    for trigger in ("items_fts_insert", "items_fts_delete", "items_fts_update"):
        conn.execute(f"DROP TRIGGER {trigger}")  # the index is rebuilt once at the end
    now = datetime.now(UTC).replace(microsecond=0)
    insert_feeds(conn, now)
    insert_items(conn, items, now, flagged_share)
    insert_polls(conn, now)
    insert_reviews(conn, now)
    print("rebuilding the full-text index", flush=True)
    conn.execute("INSERT INTO items_fts (items_fts) VALUES ('rebuild')")
    for trigger in schema.FTS_TRIGGERS:
        conn.execute(trigger)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    placing = time.perf_counter()
    with Store(db) as store:  # the flags' developments, as the service's hook places them
        store.place_new_flags()
    print(f"placed the flags in developments in {time.perf_counter() - placing:.0f}s")
    print(f"built {db} in {time.perf_counter() - started:.0f}s", flush=True)


def insert_feeds(conn: sqlite3.Connection, now: datetime) -> None:
    rows = [
        (n + 1, f"https://outlet{n}.example.com/feed.xml", f"Outlet {n}", iso(now), iso(now))
        for n in range(FEEDS)
    ]
    conn.executemany(
        "INSERT INTO feeds (id, url, title, configured, created_at, last_success_at) "
        "VALUES (?, ?, ?, 1, ?, ?)",
        rows,
    )


def insert_items(conn: sqlite3.Connection, total: int, now: datetime, flagged_share: float) -> None:
    rng = random.Random(3)
    rare = set(rng.sample(range(total), RARE_ITEMS))
    for start in range(0, total, BATCH):
        batch = range(start, min(total, start + BATCH))
        rows = [_item(rng, n, total, now, n in rare) for n in batch]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO items (id, url, link, title, summary, content, author, language, "
            "published, first_seen_at, content_hash, feed_id, story_id) "
            "VALUES (?, ?, ?, ?, ?, ?, '', 'en', ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO item_feeds (feed_id, entry_key, item_id, first_seen_at, last_seen_at, "
            "content_hash) VALUES (?, ?, ?, ?, ?, ?)",
            [(r[9], r[1], r[0], r[7], r[7], r[8]) for r in rows],
        )
        decide(conn, rng, rows, now, flagged_share)
        conn.execute("COMMIT")
        print(f"items {batch.stop:,}/{total:,}", flush=True)


def _item(rng: random.Random, n: int, total: int, now: datetime, rare: bool) -> tuple[Any, ...]:
    item_id = n + 1
    feed = rng.randrange(FEEDS) + 1
    title = feedset._sentence(rng, 6, 12)
    summary = " ".join(feedset._sentence(rng, 15, 30) for _ in range(rng.randint(1, 3)))
    if rng.random() < COMMON_SHARE:
        summary += f" Reported from {COMMON.capitalize()}."
    if rare:
        summary += f" A {RARE} sample was found."
    when = now - timedelta(days=30 * (total - n) / total)  # a month of items, oldest first
    url = f"https://outlet{feed - 1}.example.com/news/{item_id}"
    return (item_id, url, url, title, summary, "", iso(when), iso(when), f"{n:064x}", feed, n + 1)


def decide(
    conn: sqlite3.Connection,
    rng: random.Random,
    rows: list[tuple[Any, ...]],
    now: datetime,
    flagged_share: float,
) -> None:
    """Assessments for the relevant items, flags (with reasons) and matches for some."""
    assessments, flags, matches = [], [], []
    for row in rows:
        if rng.random() >= RELEVANT_SHARE:
            continue
        flagged = rng.random() < flagged_share / RELEVANT_SHARE
        score = round(rng.uniform(1, 6), 3)
        assessments.append((row[0], "us-taliban", 1, int(flagged), score, "v1", iso(now)))
        matches.append((row[0], "us-taliban", "taliban", "Taliban", "Taliban", "summary", 10))
        if flagged:
            reasons = 'US actors: "Washington" in title\nTaliban actors: "Taliban" in summary'
            flags.append((row[0], "us-taliban", score, reasons, "kabul, doha", "v1", row[7], 0))
    conn.executemany("INSERT INTO assessments VALUES (?, ?, ?, ?, ?, ?, ?)", assessments)
    conn.executemany(
        "INSERT INTO matches (item_id, topic, group_name, term, matched_text, field, "
        "char_offset) VALUES (?, ?, ?, ?, ?, ?, ?)",
        matches,
    )
    conn.executemany(
        "INSERT INTO flags (item_id, topic, score, reasons, seed_terms, rule_version, "
        "flagged_at, backlog) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        flags,
    )


def insert_reviews(conn: sqlite3.Connection, now: datetime) -> None:
    """A review of every tenth flag, a third of them wrong, as analysts leave them; half
    of them of the item's story (as the CLI's --story), half of its whole development
    (as the desk does)."""
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO reviews (item_id, item_url, story_id, scope, topic, label, reviewed_at) "
        "SELECT items.id, items.url, items.story_id, "
        "CASE WHEN flags.rowid % 20 = 0 THEN 'story' ELSE 'development' END, flags.topic, "
        "CASE items.id % 3 WHEN 0 THEN 'wrong' WHEN 1 THEN 'right' ELSE 'important' END, ? "
        "FROM flags JOIN items ON items.id = flags.item_id WHERE flags.rowid % 10 = 0",
        (iso(now),),
    )
    conn.execute("COMMIT")


def insert_polls(conn: sqlite3.Connection, now: datetime) -> None:
    rows = [
        (feed, iso(now - timedelta(minutes=15 * k)), 120, 200, "new", 40000, 30, 1)
        for feed in range(1, FEEDS + 1)
        for k in range(POLLS_PER_FEED)
    ]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO polls (feed_id, started_at, duration_ms, status, outcome, bytes, "
        "items_seen, new_items) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")


async def time_pages(db: Path) -> dict[str, dict[str, Any]]:
    datasette = make_app(db, METADATA)
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    pages = {
        "desk": "/",
        "desk_topic_week": f"/?topic=us-taliban&since={since}",
        "desk_search_rare": f"/?q={RARE}",
        "desk_search_page_rare": f"/-/desk/search?q={RARE}",
        "desk_search_page_common": f"/-/desk/search?q={COMMON}",
        "flagged": "/tracker/flagged",
        "search_rare": f"/tracker/items?_search={RARE}",
        "search_common": f"/tracker/items?_search={COMMON}",
        "search_commonest": f"/tracker/items?_search={COMMONEST}",
        "search_items_commonest": f"/tracker/search_items?q={COMMONEST}",
    }
    timings: dict[str, dict[str, Any]] = {}
    for key, path in pages.items():
        response = await datasette.client.get(path)  # warm up: caches, introspection
        seconds = []
        for _ in range(5):
            started = time.perf_counter()
            response = await datasette.client.get(path)
            seconds.append(time.perf_counter() - started)
        median = statistics.median(seconds)
        timings[key] = {
            "path": path,
            "status": response.status_code,
            "median_s": round(median, 3),
            "target_s": TARGETS[key],
            "met": response.status_code == 200 and median < TARGETS[key],
        }
        print(f"{key:24} {path:50} {response.status_code} {median * 1000:8.1f} ms", flush=True)
    return timings


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def render(runs: dict[str, dict[str, Any]]) -> str:
    lines = [
        "## Datasette on a million items",
        "",
        "Measured with `benchmarks/datasette_1m.py`: pages served by Datasette as "
        "`tracker browse` serves them (median of five requests after one to warm up). "
        f"The rare word is in {RARE_ITEMS} items, the common one in "
        f"{COMMON_SHARE:.0%} of them, the commonest (`{COMMONEST}`) in about two thirds.",
        "",
        "| Flagged share | Page | Request | Status | Median ms | Target ms | |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for share, result in sorted(runs.items(), reverse=True):
        for key, page in result["pages"].items():
            verdict = "met" if page["met"] else "**missed**"
            lines.append(
                f"| {float(share):.1%} ({result['flags']:,} flags) | {key} | `{page['path']}` "
                f"| {page['status']} | {page['median_s'] * 1000:.0f} "
                f"| {page['target_s'] * 1000:.0f} | {verdict} |"
            )
    for share, result in sorted(runs.items(), reverse=True):
        lines.append(
            f"\n{float(share):.1%} flagged: {result['items']:,} items, a {result['db_mb']:,} MB "
            f"database, measured {result['measured_at']} on "
            f"{report.machine_line(result['machine'])}."
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="time the existing database")
    parser.add_argument("--flagged-share", type=float, default=0.01, help="items flagged")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
