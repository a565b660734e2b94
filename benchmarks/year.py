"""A simulated year: database size and memory of the service's poll cycle, month by
month, with retention on and off.

    .venv/bin/python benchmarks/year.py [--feeds 1000] [--days 365] [--interval 15m]
                                        [--step 5m] [--retention on|off|both]

Serves generated feeds on 127.0.0.1 (as benchmarks/soak.py does) and runs the cycle
``tracker run`` runs — due feeds from the database, ``Poller.poll`` over one
``ParsePool``, a WAL checkpoint, then the service's own daily hooks
(``prune_story_bands`` and ``prune_history``, the ``[retention]`` prune, a few short
transactions a cycle) — on a simulated clock advanced ``--step`` per cycle. A
publisher puts new items on top of random feeds, three at a time, at the soak's rate
(8.64 items per feed per day: 2% of the feeds, three items each, every ten minutes),
so the database grows as a newsroom's would.

With retention on, ``[retention]`` is ``polls = "90d"`` and ``items = "30d"``; off,
both are kept for ever. At each simulated month (30 days) it reports the database's
size (file and WAL), its rows (polls, poll_days, items) and the summed PSS of the
process tree (this process and its parse workers, not the feed server), and the
longest prune transaction (``Store.transaction`` timed while the hook runs).

The full size (1,000 feeds every 15 minutes for a year: 35 million polls) takes about
a day on a small machine; ``--feeds`` and ``--interval`` scale it down (polls grow
with feeds / interval, items with feeds) and the results say which was run. Results
go to benchmarks/results-year.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedset
import report
from run import SEEDS, TOPICS, WORK, free_port, snapshot_topics
from serving import FeedServer
from soak import SimulatedClock, tree_mb

from tracker.config import Config, parse_duration
from tracker.hooks import FinishedCycle
from tracker.models import FeedConfig, Retention, Settings
from tracker.poll import CycleSummary, ParsePool, Poller
from tracker.service import Service
from tracker.store import Store
from tracker.topicset import TopicSet, load_topic_set

RESULTS = Path(__file__).resolve().parent / "results-year.json"
ITEMS_PER_FEED_DAY = 0.02 * 3 * 144  # the soak's publisher: 8.64
MONTH = timedelta(days=30)
RETENTION = {
    "on": Retention(polls=90 * 86400.0, items=30 * 86400.0),
    "off": Retention(polls=None, items=None),
}


def main() -> int:
    args = parse_args()
    snapshot_topics()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "machine": report.machine(),
        "feeds": args.feeds,
        "days": args.days,
        "interval_s": args.interval,
        "step_s": args.step,
        "runs": {},
    }
    modes = ["on", "off"] if args.retention == "both" else [args.retention]
    for mode in modes:
        directory = WORK / "feeds" / f"year-{mode}-{args.feeds}"  # runs may go side by side
        print(f"retention {mode}: generating {args.feeds} feeds", flush=True)
        specs = feedset.generate(directory, args.feeds, start)
        with FeedServer(directory.parent, free_port(), WORK / f"year-server-{mode}") as server:
            urls = [server.url(f"{directory.name}/{spec.filename}") for spec in specs]
            assert server.process is not None
            run = Year(args, mode, urls, directory, specs, start, server.process.pid)
            results["runs"][mode] = asyncio.run(run.simulate())
        results["server"] = server.kind
        report.write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


class Year:
    """One simulated year of the service on one database."""

    def __init__(
        self,
        args: argparse.Namespace,
        mode: str,
        urls: list[str],
        directory: Path,
        specs: list[feedset.FeedSpec],
        start: datetime,
        server_pid: int,
    ) -> None:
        self.args, self.mode, self.urls = args, mode, urls
        self.directory, self.specs, self.start = directory, specs, start
        self.server_pid = server_pid
        self.db = WORK / f"year-{mode}" / "tracker.db"
        self.clock = SimulatedClock(start)
        self.longest_prune_ms = 0.0
        self.generation = 0
        self.months: list[dict[str, Any]] = []

    async def simulate(self) -> dict[str, Any]:
        self.db.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        settings = Settings(db_path=str(self.db), interval=self.args.interval)
        topics = load_topic_set(TOPICS, SEEDS)
        store = Store(self.db)
        feeds = tuple(FeedConfig(url) for url in self.urls)
        store.sync_feeds(feeds, self.clock())
        config = Config(WORK / "year.toml", settings, feeds, retention=RETENTION[self.mode])
        pool = ParsePool(os.cpu_count() or 1)
        service = Service(config.path, None, 1.0, config, topics, store, pool=pool)
        service.clock = self.clock
        began = time.perf_counter()
        try:
            polls = await self._cycles(store, settings, topics, service, pool)
        finally:
            pool.close()
            store.close()
        return {
            "retention": RETENTION[self.mode].__dict__,
            "polls": polls,
            "elapsed_s": round(time.perf_counter() - began, 1),
            "longest_prune_transaction_ms": round(self.longest_prune_ms, 1),
            "months": self.months,
        }

    async def _cycles(
        self,
        store: Store,
        settings: Settings,
        topics: TopicSet,
        service: Service,
        pool: ParsePool,
    ) -> int:
        rng = random.Random(5)
        end = self.start + timedelta(days=self.args.days)
        next_month, polls, owed = self.start, 0, 0.0
        while self.clock() < end:
            self.clock.advance(self.args.step)
            owed += len(self.specs) * ITEMS_PER_FEED_DAY * self.args.step / 86400
            while owed >= 3:
                self.generation += 1
                spec = rng.choice(self.specs)
                feedset.add_items(self.directory, spec, 3, self.clock(), self.generation)
                owed -= 3
            summary = CycleSummary(self.clock(), 0.0)
            if due := store.due_feeds(self.clock()):
                poller = Poller(store, settings, topics.assess, pool, clock=self.clock)
                summary = await poller.poll(due)
                polls += summary.feeds
            store.checkpoint()
            self._after_cycle(service, store, summary, topics)
            if self.clock() >= next_month + MONTH or self.clock() >= end:
                next_month += MONTH
                self._sample(store, polls)
        return polls

    def _after_cycle(
        self, service: Service, store: Store, summary: CycleSummary, topics: TopicSet
    ) -> None:
        cycle = FinishedCycle(summary, self.clock(), store, service.config, topics)
        service.prune_story_bands(cycle)
        with _timed_transactions(store, self._note_prune):
            service.prune_history(cycle)

    def _note_prune(self, milliseconds: float) -> None:
        self.longest_prune_ms = max(self.longest_prune_ms, milliseconds)

    def _sample(self, store: Store, polls: int) -> None:
        size = sum(
            Path(f"{self.db}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{self.db}{suffix}").exists()
        )
        with closing(sqlite3.connect(self.db)) as conn:
            counts = {
                table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("polls", "poll_days", "items", "flags")
            }
        month = {
            "day": (self.clock() - self.start).days,
            "db_mb": round(size / 2**20, 1),
            "tree_mb": round(tree_mb(self.server_pid), 1),
            "polls_done": polls,
            **counts,
        }
        self.months.append(month)
        print(f"retention {self.mode}: {json.dumps(month)}", flush=True)


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
    parser.add_argument("--interval", type=parse_duration, default=900.0, help="e.g. 15m, 6h")
    parser.add_argument("--step", type=parse_duration, default=300.0, help="simulated s a cycle")
    parser.add_argument("--retention", choices=["on", "off", "both"], default="both")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON results file")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
