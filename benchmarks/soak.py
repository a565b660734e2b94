"""Memory soak: the service's poll cycle, thousands of times, on a compressed clock.

    .venv/bin/python benchmarks/soak.py [--feeds 1000] [--hours 24] [--step 60]

Serves generated feeds on 127.0.0.1 (as benchmarks/run.py does) and runs the
cycle ``tracker run`` runs — due feeds from the database, ``Poller.poll`` over one
``ParsePool``, a WAL checkpoint — with a simulated clock that advances ``--step``
seconds per cycle, so 24 hours of polling take minutes. Feeds keep their
scheduling state in SQLite as in production (15-minute interval, adaptive); a
publisher puts new items on top of a few feeds every simulated ten minutes, so
cycles parse, match and write, and the database grows all along.

Every ``--sample`` cycles it records the summed PSS of the process tree (this
process, its parse workers and multiprocessing's helpers; not the feed server, which
is a child too) and reports the first
and last values, the peak, and the slope of a least-squares line over the second
half of the run, in MB per 1,000 cycles. Results go to benchmarks/results-soak.json
and into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedset
import measure
import report
from run import SEEDS, TOPICS, WORK, free_port, snapshot_topics
from serving import FeedServer

from tracker.models import FeedConfig, Settings
from tracker.poll import ParsePool, Poller
from tracker.store import Store
from tracker.topicset import load_topic_set

RESULTS = Path(__file__).resolve().parent / "results-soak.json"
PUBLISH_EVERY = timedelta(minutes=10)
PUBLISHED_SHARE = 0.02  # feeds that get new items at each publication


def main() -> int:
    args = parse_args()
    snapshot_topics()
    start = datetime.now(UTC).replace(microsecond=0)
    directory = WORK / "feeds" / f"soak-{args.feeds}"
    print(f"generating {args.feeds} feeds", flush=True)
    specs = feedset.generate(directory, args.feeds, start)
    with FeedServer(directory.parent, free_port(), WORK / "soak-server") as server:
        urls = [server.url(f"{directory.name}/{spec.filename}") for spec in specs]
        assert server.process is not None
        result = asyncio.run(soak(args, urls, directory, specs, start, server.process.pid))
    result["server"] = server.kind
    report.write_json(RESULTS, result)
    report.update_readme("soak", render(result))
    print(f"wrote {RESULTS} and {report.README}")
    return 0


async def soak(
    args: argparse.Namespace,
    urls: list[str],
    directory: Path,
    specs: list[feedset.FeedSpec],
    start: datetime,
    server_pid: int,
) -> dict[str, Any]:
    db = WORK / "soak" / "tracker.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    clock = SimulatedClock(start)
    settings = Settings(db_path=str(db), per_host=args.per_host)
    topics = load_topic_set(TOPICS, SEEDS)
    store = Store(db)
    store.sync_feeds([FeedConfig(url) for url in urls], clock())
    pool = ParsePool(os.cpu_count() or 1)
    rng = random.Random(5)
    cycles = int(timedelta(hours=args.hours) / timedelta(seconds=args.step))
    samples: list[tuple[int, float]] = []
    polled = new_items = 0
    next_publication = start + PUBLISH_EVERY
    generation = 1
    began = time.perf_counter()
    try:
        for cycle in range(1, cycles + 1):
            clock.advance(args.step)
            if clock() >= next_publication:
                publish(directory, specs, rng, clock(), generation)
                generation += 1
                next_publication += PUBLISH_EVERY
            due = store.due_feeds(clock())
            if due:
                poller = Poller(store, settings, topics.assess, pool, clock=clock)
                summary = await poller.poll(due)
                polled += summary.feeds
                new_items += summary.new_items
            store.checkpoint()
            if cycle % args.sample == 0 or cycle == 1:
                samples.append((cycle, tree_mb(server_pid)))
                print(
                    f"cycle {cycle:5}/{cycles}  sim {clock():%H:%M}  polls {polled:7}  "
                    f"new items {new_items:7}  tree {samples[-1][1]:6.1f} MB",
                    flush=True,
                )
    finally:
        pool.close()
        store.close()
    elapsed = time.perf_counter() - began
    return summarize(args, samples, cycles, polled, new_items, elapsed, db)


class SimulatedClock:
    """The poll cycle's clock, advanced by the soak instead of by time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def publish(
    directory: Path,
    specs: list[feedset.FeedSpec],
    rng: random.Random,
    now: datetime,
    generation: int,
) -> None:
    for spec in rng.sample(specs, max(1, int(len(specs) * PUBLISHED_SHARE))):
        feedset.add_items(directory, spec, 3, now, generation)


def tree_mb(server_pid: int) -> float:
    """PSS of this process and its children (the parse workers), not the feed server's."""
    server = {server_pid, *measure._descendants(server_pid)}
    pids = [os.getpid(), *measure._descendants(os.getpid())]
    return sum(measure._pss_kib(pid) for pid in pids if pid not in server) / 1024


def summarize(
    args: argparse.Namespace,
    samples: list[tuple[int, float]],
    cycles: int,
    polled: int,
    new_items: int,
    elapsed: float,
    db: Path,
) -> dict[str, Any]:
    second_half = [(c, mb) for c, mb in samples if c > cycles / 2]
    slope = 0.0
    if len(second_half) >= 2:
        fit = statistics.linear_regression([c for c, _ in second_half], [m for _, m in second_half])
        slope = fit.slope * 1000
    return {
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "machine": report.machine(),
        "feeds": args.feeds,
        "simulated_hours": args.hours,
        "step_s": args.step,
        "cycles": cycles,
        "polls": polled,
        "new_items": new_items,
        "elapsed_s": round(elapsed, 1),
        "db_mb": round(db.stat().st_size / 1024 / 1024, 1),
        "first_mb": round(samples[0][1], 1),
        "last_mb": round(samples[-1][1], 1),
        "peak_mb": round(max(mb for _, mb in samples), 1),
        "slope_mb_per_1000_cycles": round(slope, 2),
        "samples": [(c, round(mb, 1)) for c, mb in samples],
    }


def render(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "## Memory soak: the service's poll cycle on a compressed clock",
            "",
            f"Measured {result['measured_at']} with `benchmarks/soak.py`: {result['feeds']:,} "
            f"feeds served by {result['server']}, {result['simulated_hours']} simulated hours "
            f"in {result['cycles']:,} cycles of {result['step_s']} s "
            f"({result['elapsed_s']:.0f} s of real time): {result['polls']:,} polls, "
            f"{result['new_items']:,} new items, the database grew to {result['db_mb']} MB.",
            "",
            f"Machine: {report.machine_line(result['machine'])}.",
            "",
            "| Memory of the process tree (PSS) | MB |",
            "| --- | ---: |",
            f"| after the first cycle | {result['first_mb']} |",
            f"| after the last cycle | {result['last_mb']} |",
            f"| peak | {result['peak_mb']} |",
            "| slope over the second half, per 1,000 cycles "
            f"| {result['slope_mb_per_1000_cycles']} |",
        ]
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated time")
    parser.add_argument("--step", type=float, default=60.0, help="simulated seconds per cycle")
    parser.add_argument("--sample", type=int, default=20, help="cycles between memory samples")
    parser.add_argument("--per-host", type=int, default=Settings.per_host)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
