"""A simulated year: database size and memory of the service's poll cycle, month by
month, with retention on and off, at full size (1,000 feeds every 15 minutes).

    .venv/bin/python benchmarks/year.py [--feeds 1000] [--days 365] [--interval 15m]
                                        [--step 24h] [--keep 30] [--no-window]
                                        [--retention on|off|both]

Runs the cycle ``tracker run`` runs — due feeds from the database, ``Poller.poll``
over one ``ParsePool``, a WAL checkpoint, then the service's own after-cycle hooks
(``Service.default_hooks()``: developments, alerts, the cycle's record,
``prune_story_bands`` and the daily ``[retention]`` prune, ``prune_history``) — on a
simulated clock. A publisher puts new items on top of random feeds, three at a time,
at the soak's per-feed rate (8.64 items per feed per day), so the items, their search
rows, story bands, matches, flags and developments are the real poll cycle's.

What is compressed, and how (the results say so too):

- **No HTTP.** Feeds are answered from memory through the ``Poller``'s fetcher seam
  (``yearfeeds.MemoryFeeds``): a 200 with the document when the feed changed since
  the request's ETag, else a 304. A document holds the feed's newest ``--keep`` items
  (feedset's news items) published in the last 1.25 steps (at least the newest one;
  ``--no-window``: all ``--keep``). Real feeds carry 20-50 items whatever their age;
  the items a poll has seen before cost parse time, not database rows.
- **Real polls every ``--step``, the 15-minute ones between written in bulk.** The
  service is configured with ``interval = --step``, so each feed is polled for real
  (parse, match, write) about once a cycle; the ``polls`` rows of the polls a
  15-minute service makes in between (``--step / --interval - 1`` per feed, and one
  more for a feed that was not due) are written as the 304 polls they would be:
  every column copied from a 304 row the store wrote (``yearfeeds.quiet_rows``,
  checked against a real 304 poll by tests/test_year_bench.py). New items reach the
  database at the next real poll, up to ``--step`` after publication.
- **The prune keeps pace as at 15 minutes.** The service prunes
  ``PRUNE_BATCHES_PER_CYCLE`` batches a cycle; a ``--step`` cycle stands for
  ``--step / --interval`` cycles, so ``prune_history`` is called up to that many
  times (while it has work). The 50 ms pause between batches (``BATCH_PAUSE``), which
  lets another writer take the lock, is off (``--batch-pause 0``): there is no other
  writer here, and it changes neither size nor memory.

With retention on, ``[retention]`` is ``polls = "90d"`` and ``items = "30d"``; off,
both are kept for ever. At each simulated month (30 days) it reports the database's
size (file and WAL, page and freelist counts), its rows (polls, poll_days, items,
flags), the summed PSS of the process tree (this process and its parse workers) and
the longest prune transaction of the month (``Store.transaction`` timed while the
prune hook runs), the full-text index's size (``items_fts_*`` pages, from ``dbstat``),
the pages in use (the file's pages but its free ones), and the search-index merge
steps the month's prunes took with the longest of them. ``--merge-steps`` sets the
prune's daily budget of those steps (``tracker.retention.MERGE_STEPS_PER_DAY``; 0:
none, as before #21's follow-up). Results go to ``--out`` (benchmarks/results-year.json), rewritten
after every month, so a run stopped early keeps what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedset
import measure
import report
import yearfeeds
from prune_lock import timed_merges
from run import SEEDS, TOPICS, WORK, snapshot_topics
from soak import SimulatedClock

import tracker.retention
import tracker.store.retention
from tracker.config import Config, parse_duration
from tracker.hooks import FinishedCycle, run_after_cycle
from tracker.models import FeedConfig, Retention, Settings
from tracker.poll import CycleSummary, ParsePool, Poller
from tracker.service import Service
from tracker.store import Store
from tracker.topicset import load_topic_set

RESULTS = Path(__file__).resolve().parent / "results-year.json"
ITEMS_PER_FEED_DAY = 0.02 * 3 * 144  # the soak's publisher: 8.64
MONTH = timedelta(days=30)
RETENTION = {
    "on": Retention(polls=90 * 86400.0, items=30 * 86400.0),
    "off": Retention(polls=None, items=None),
}
COUNTED = ("polls", "poll_days", "items", "flags", "developments")


def main() -> int:
    args = parse_args()
    snapshot_topics()
    tracker.store.retention.BATCH_PAUSE = args.batch_pause
    if args.merge_steps is not None:
        tracker.retention.MERGE_STEPS_PER_DAY = args.merge_steps
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "machine": report.machine(),
        "command": " ".join(sys.argv),
        "feeds": args.feeds,
        "days": args.days,
        "interval_s": args.interval,
        "step_s": args.step,
        "keep_items": args.keep,
        "window": args.window,
        "batch_pause_s": args.batch_pause,
        "merge_steps_per_day": tracker.retention.MERGE_STEPS_PER_DAY,
        "runs": {},
    }
    modes = ["on", "off"] if args.retention == "both" else [args.retention]
    for mode in modes:
        run = Year(args, mode, lambda: report.write_json(args.out, results))
        results["runs"][mode] = run.result
        asyncio.run(run.simulate())
        report.write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


class Year:
    """One simulated year of the service on one database."""

    def __init__(self, args: argparse.Namespace, mode: str, save: Callable[[], None]) -> None:
        self.args, self.mode, self.save = args, mode, save
        self.start = datetime(2026, 1, 1, tzinfo=UTC)
        urls = [f"http://feeds.invalid/{n:05d}.xml" for n in range(args.feeds)]
        window = timedelta(seconds=args.step * 1.25) if args.window else None
        specs = feedset.feed_specs(args.feeds)
        self.feeds = yearfeeds.MemoryFeeds(urls, specs, args.keep, window)
        merges = tracker.retention.MERGE_STEPS_PER_DAY  # arms of different budgets apart
        self.db = WORK / f"year-{mode}-{args.feeds}-m{merges}" / "tracker.db"
        self.clock = SimulatedClock(self.start)
        self.rng = random.Random(5)
        self.longest_prune_ms = 0.0
        self.merges = {"merge_steps": 0, "longest_merge_ms": 0.0}
        self.pending: list[datetime] = []  # quiet polls' times waiting for a 304 row
        self.owed = 0.0  # items published but for the last one or two of a three
        self.totals = {"real_polls": 0, "quiet_polls": 0, "new_items": 0}
        self.result: dict[str, Any] = {"retention": RETENTION[mode].__dict__, "months": []}
        self.began = time.perf_counter()

    async def simulate(self) -> None:
        self.db.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        settings = Settings(db_path=str(self.db), interval=self.args.step, article_text=False)
        feeds = tuple(FeedConfig(url) for url in self.feeds.specs)
        config = Config(WORK / "year.toml", settings, feeds, retention=RETENTION[self.mode])
        topics = load_topic_set(TOPICS, SEEDS)
        store = Store(self.db)
        store.sync_feeds(feeds, self.clock())
        self.feeds.fill(self.clock())
        pool = ParsePool(os.cpu_count() or 1)
        service = Service(config.path, None, 1.0, config, topics, store, pool=pool)
        service.clock = self.clock
        service.run_id = store.start_service_run(os.getpid(), socket.gethostname(), self.clock())
        try:
            await self._cycles(store, service)
        finally:
            pool.close()
            store.close()

    async def _cycles(self, store: Store, service: Service) -> None:
        end = self.start + timedelta(days=self.args.days)
        next_month = self.start + MONTH
        while self.clock() < end:
            self._publish()
            summary = await self._poll(store, service)
            store.checkpoint()
            self._after_cycle(service, summary)
            self.clock.advance(self.args.step)
            if self.clock() >= next_month or self.clock() >= end:
                next_month += MONTH
                self._sample(store)

    def _publish(self) -> None:
        """The items the feeds' publishers put out over the coming step, three at a time."""
        self.owed += len(self.feeds.specs) * ITEMS_PER_FEED_DAY * self.args.step / 86400
        urls = list(self.feeds.specs)
        while self.owed >= 3:
            at = self.clock() - timedelta(seconds=self.rng.uniform(0, self.args.step))
            self.feeds.publish(self.rng.choice(urls), 3, at)
            self.owed -= 3

    async def _poll(self, store: Store, service: Service) -> CycleSummary:
        """The due feeds polled for real now, then the quiet polls until the next cycle."""
        now = self.clock()
        due = store.due_feeds(now)
        summary = CycleSummary(now, 0.0)
        if due:
            poller = Poller(
                store,
                service.config.settings,
                service.topics.assess,
                service.pool,
                clock=self.clock,
                fetcher=self.feeds.fetcher,
            )
            summary = await poller.poll(due)
        self.totals["real_polls"] += summary.feeds
        self.totals["new_items"] += summary.new_items
        polled = {state.id for state in due}
        every = [feed_id for (feed_id,) in store.conn.execute("SELECT id FROM feeds")]
        slots = [now + timedelta(seconds=k * self.args.interval) for k in range(1, self._slots())]
        self._write_quiet(store, [f for f in every if f not in polled], [now])
        self._write_quiet(store, every, slots)
        return summary

    def _slots(self) -> int:
        return max(1, round(self.args.step / self.args.interval))

    def _write_quiet(self, store: Store, feed_ids: list[int], times: list[datetime]) -> None:
        template = yearfeeds.quiet_template(store.conn)
        if template is None:  # no 304 yet: the first cycle polls every feed anew
            self.pending += times  # every feed's (the first cycle polls every feed)
            return
        with store.transaction() as conn:
            written = yearfeeds.write_quiet(conn, yearfeeds.quiet_rows(template, feed_ids, times))
            if self.pending:
                every = [f for (f,) in conn.execute("SELECT id FROM feeds")]
                late = sorted(set(self.pending))
                written += yearfeeds.write_quiet(conn, yearfeeds.quiet_rows(template, every, late))
                self.pending = []
        self.totals["quiet_polls"] += written

    def _after_cycle(self, service: Service, summary: CycleSummary) -> None:
        """The service's hooks, the prune given as many turns as 15-minute cycles."""
        cycle = FinishedCycle(summary, self.clock(), service.store, service.config, service.topics)
        hooks = [h for h in service.default_hooks() if h != service.prune_history]
        run_after_cycle(hooks, cycle)
        with (
            _timed_transactions(service.store, self._note_prune),
            timed_merges(service.store, self._note_merge),
        ):
            for _ in range(self._slots()):
                service.prune_history(cycle)
                if not service.retaining:
                    break

    def _note_merge(self, milliseconds: float) -> None:
        self.merges["merge_steps"] += 1
        self.merges["longest_merge_ms"] = max(self.merges["longest_merge_ms"], milliseconds)

    def _note_prune(self, milliseconds: float) -> None:
        self.longest_prune_ms = max(self.longest_prune_ms, milliseconds)

    def _sample(self, store: Store) -> None:
        month = {
            "day": (self.clock() - self.start).days,
            "elapsed_s": round(time.perf_counter() - self.began),
            **database_size(self.db),
            "tree_mb": round(tree_mb(), 1),
            "longest_prune_ms": round(self.longest_prune_ms, 1),
            "merge_steps": self.merges["merge_steps"],
            "longest_merge_ms": round(self.merges["longest_merge_ms"], 1),
            **search_index_size(self.db),
            "published_items": self.feeds.published,
            **self.totals,
            **row_counts(self.db),
        }
        self.longest_prune_ms = 0.0
        self.merges = {"merge_steps": 0, "longest_merge_ms": 0.0}
        self.result["months"].append(month)
        print(f"retention {self.mode}: {json.dumps(month)}", flush=True)
        self.save()


def database_size(db: Path) -> dict[str, Any]:
    files = {s: Path(f"{db}{s}") for s in ("", "-wal")}
    sizes = {s: path.stat().st_size if path.exists() else 0 for s, path in files.items()}
    with closing(sqlite3.connect(db)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return {
        "db_mb": round((sizes[""] + sizes["-wal"]) / 2**20, 1),
        "wal_mb": round(sizes["-wal"] / 2**20, 1),
        "pages": pages,
        "free_pages": free,
    }


def search_index_size(db: Path) -> dict[str, Any]:
    """The full-text index's pages (its ``items_fts_*`` tables) and the file's pages in
    use, from ``dbstat``."""
    with closing(sqlite3.connect(db)) as conn:
        index = conn.execute("SELECT COUNT(*) FROM dbstat WHERE name LIKE 'items_fts%'").fetchone()[
            0
        ]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return {
        "search_index_pages": index,
        "search_index_mb": round(index * size / 2**20, 1),
        "used_pages": pages - free,
        "used_mb": round((pages - free) * size / 2**20, 1),
    }


def row_counts(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db)) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED}


def tree_mb() -> float:
    """PSS of this process and its children (the parse workers)."""
    pids = [os.getpid(), *measure._descendants(os.getpid())]
    return sum(measure._pss_kib(pid) for pid in pids) / 1024


@contextmanager
def _timed_transactions(store: Store, note: Callable[[float], None]) -> Iterator[None]:
    """Time every transaction the store opens meanwhile (the prune's batches)."""
    original = store.transaction

    @contextmanager
    def timed() -> Iterator[sqlite3.Connection]:
        began = time.perf_counter()
        with original() as conn:
            yield conn
        note((time.perf_counter() - began) * 1000)

    store.transaction = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        store.transaction = original  # type: ignore[method-assign]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--interval", type=parse_duration, default=900.0, help="e.g. 15m")
    parser.add_argument("--step", type=parse_duration, default=86400.0, help="real polls")
    parser.add_argument("--keep", type=int, default=30, help="items in a feed's document")
    parser.add_argument(
        "--window",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="documents hold only the last 1.25 steps' items",
    )
    parser.add_argument("--batch-pause", type=float, default=0.0, help="the prune's pause, s")
    parser.add_argument("--retention", choices=["on", "off", "both"], default="both")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON results file")
    parser.add_argument(
        "--merge-steps", type=int, default=None, help="search-index merge steps a day (0: none)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
