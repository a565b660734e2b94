"""How long a prune holds the write lock, and what a poll writing beside it waits.

    .venv/bin/python benchmarks/prune_lock.py [--feeds 1000] [--days 30] [--items 100000]
                                              [--recent 0]

Builds a database with a backlog, as when retention is first turned on over months of
history: ``--days`` of polls of ``--feeds`` feeds every 15 minutes, all older than the
90-day window, and ``--items`` old items no topic needs (indexed for search, with
their story bands), and ``--recent`` items of the last day that stay (in the search
index, so that the prune's merge steps have a live index to merge). Then a second
process writes polls the way the service does
(``Store.record_poll`` with the decider's plan, three new items each) as fast as it
can, first alone, then while this process runs ``tracker prune``'s work
(``Store.prune`` of the whole backlog at once, every batch its own transaction). It
reports each prune transaction's length (``Store.transaction`` timed: the time the
write lock is held) and the poll writes' latency with and without the prune beside
them; the search-index merge steps that end the prune (the day's budget,
``tracker.retention.MERGE_STEPS_PER_DAY``) are timed apart as well. Printed and
written to ``--out`` (benchmarks/results-prune-lock.json).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import feedset
import report
from run import WORK

from tracker.models import (
    FeedConfig,
    FeedPoll,
    FetchResult,
    ItemText,
    ParsedFeed,
    ParsedItem,
    Settings,
)
from tracker.poll import poll_plan
from tracker.retention import MERGE_STEPS_PER_DAY, PrunePlan
from tracker.store import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=200)


def main() -> int:
    args = parse_args()
    db = WORK / "prune-lock" / "tracker.db"
    build(db, args)
    alone = writer_latencies(db, seconds=5.0)
    prune_ms, merge_ms, beside, report_counts = prune_beside_writer(db)
    result = {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "machine": report.machine(),
        "feeds": args.feeds,
        "days_of_polls": args.days,
        "items": args.items,
        "recent_items": args.recent,
        "pruned": report_counts,
        "prune_transactions": len(prune_ms),
        "prune_transaction_ms": summary(prune_ms),
        # the merge steps are the prune's last transactions (no auto-vacuum here)
        "merge_transaction_ms": summary(prune_ms[-len(merge_ms) :] if merge_ms else []),
        "merge_step_ms_with_wait": summary(merge_ms),
        "poll_write_ms_alone": summary(alone),
        "poll_write_ms_beside_prune": summary(beside),
    }
    out = args.out
    report.write_json(out, result)
    print(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


def build(db: Path, args: argparse.Namespace) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    began = time.perf_counter()
    with Store(db) as store:
        store.sync_feeds(
            [FeedConfig(f"https://feed{n}.example/rss") for n in range(args.feeds)], OLD
        )
    rng = Random(3)
    with closing(sqlite3.connect(db)) as conn, conn:
        for day in range(args.days):
            rows = [
                (
                    1 + feed,
                    (OLD + timedelta(days=day, minutes=15 * slot)).isoformat(),
                    rng.randint(5, 400),
                    "not_modified" if slot % 4 else "new",
                    rng.randint(0, 60_000),
                )
                for feed in range(args.feeds)
                for slot in range(96)
            ]
            conn.executemany(
                "INSERT INTO polls (feed_id, started_at, duration_ms, outcome, bytes) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        conn.executemany(
            "INSERT INTO items (url, title, summary, published, first_seen_at, content_hash, "
            "feed_id) VALUES (?, ?, ?, ?, ?, 'h', ?)",
            [
                (
                    f"https://x.example/{n}",
                    feedset.news_words(rng, 8) + f" {n}",
                    feedset.news_words(rng, 60),
                    OLD.isoformat(),
                    OLD.isoformat(),
                    1 + n % args.feeds,
                )
                for n in range(args.items + args.recent)
            ],
        )
        conn.execute(
            "UPDATE items SET first_seen_at = ? WHERE id > ?", (NOW.isoformat(), args.items)
        )
        conn.execute("UPDATE items SET story_id = id")
        conn.execute(
            "INSERT INTO item_feeds SELECT feed_id, 'k' || id, id, first_seen_at, "
            "first_seen_at, 'h' FROM items"
        )
    with Store(db) as store:
        store.index_pending()
    print(f"built {db} in {time.perf_counter() - began:.0f} s", flush=True)


def writer_latencies(db: Path, seconds: float) -> list[float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(write_polls, (str(db), seconds))


def prune_beside_writer(
    db: Path,
) -> tuple[list[float], list[float], list[float], dict[str, int]]:
    held: list[float] = []
    merges: list[float] = []
    plan = PrunePlan(
        NOW - timedelta(days=90), NOW - timedelta(days=30), merge_steps=MERGE_STEPS_PER_DAY
    )
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        writer = pool.apply_async(write_polls, (str(db), 600.0, str(db) + ".stop"))
        time.sleep(2.0)  # the writer is under way
        with (
            Store(db) as store,
            timed_transactions(store, held),
            timed_merges(store, merges.append),
        ):
            began = time.perf_counter()
            done = store.prune(plan)
            print(f"pruned in {time.perf_counter() - began:.1f} s: {done}", flush=True)
        Path(str(db) + ".stop").touch()
        beside = writer.get()
    Path(str(db) + ".stop").unlink()
    counts = {"polls": done.polls, "items": done.items, "batches": done.batches}
    return held, merges, beside, counts | {"merge_steps": done.merge_steps}


def write_polls(db: str, seconds: float, stop: str = "") -> list[float]:
    """In a process of its own: real poll writes, one after another; their latencies."""
    latencies: list[float] = []
    with Store(db) as store:
        feeds = store.feeds()
        end, serial = time.monotonic() + seconds, 0
        while time.monotonic() < end and not (stop and Path(stop).exists()):
            state = feeds[serial % len(feeds)]
            serial += 1
            poll = _poll(state.url, serial)
            began = time.perf_counter()
            plan = poll_plan(state, poll, _no_topic, Settings(), Random(0), NOW)
            store.record_poll(state, poll, plan, NOW)
            latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def _no_topic(text: ItemText) -> list[Any]:
    return []


def _poll(url: str, serial: int) -> FeedPoll:
    items = tuple(
        ParsedItem(
            key=f"{serial}-{n}",
            key_kind="guid",
            url=f"{url}/{serial}/{n}",
            link=f"{url}/{serial}/{n}",
            title=f"Fresh story {serial} {n} about the budget",
            summary="A new item of the poll beside the prune.",
            content="",
            author="",
            language="en",
            published=NOW,
            published_raw=NOW.isoformat(),
            date_estimated=False,
            content_hash=f"{serial}-{n}",
        )
        for n in range(3)
    )
    return FeedPoll(
        feed_url=url,
        started_at=NOW,
        fetch=FetchResult(url=url, final_url=url, status=200, content_hash=f"doc{serial}"),
        parsed=ParsedFeed(title="Feed", link=None, language="en", format="rss20", items=items),
    )


@contextmanager
def timed_transactions(store: Store, held: list[float]) -> Iterator[None]:
    original = store.transaction

    @contextmanager
    def timed() -> Iterator[sqlite3.Connection]:
        with original() as conn:
            began = time.perf_counter()  # from BEGIN IMMEDIATE taken to COMMIT done
            yield conn
        held.append((time.perf_counter() - began) * 1000)

    store.transaction = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        store.transaction = original  # type: ignore[method-assign]


@contextmanager
def timed_merges(store: Store, note: Callable[[float], None]) -> Iterator[None]:
    """Each search-index merge step's time in ms (its own transaction, waiting
    included), to ``note``."""
    original = store._merge_step

    def timed(pages: int) -> bool:
        began = time.perf_counter()
        worked = original(pages)
        note((time.perf_counter() - began) * 1000)
        return worked

    store._merge_step = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        store._merge_step = original  # type: ignore[method-assign]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "median": round(statistics.median(ordered), 1),
        "p99": round(ordered[int(len(ordered) * 0.99) - 1 if len(ordered) > 1 else 0], 1),
        "max": round(ordered[-1], 1),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--recent", type=int, default=0, help="items that stay")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results-prune-lock.json"
    )
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
