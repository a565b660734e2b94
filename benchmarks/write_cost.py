"""Per-feed write cost as the database grows: how long the single writer takes to
store one feed whose items are all new, on an empty database and on bigger ones.

    .venv/bin/python benchmarks/write_cost.py [--sizes 0,100000,350000] [--sample 200]
        [--snapshots DIR]

Feeds come from ``feedset.py``; each is parsed and analysed as a parse worker does it
(tracker's parse path, the shipped topic, the story fingerprint), then written with
``Store.record_poll`` at one simulated second after the previous one, so every item
stays in the story window. The database is filled to each size with generated feeds
(parsed by two worker processes), then ``--sample`` other feeds are written and timed
one by one, after a few untimed ones to warm the caches. All sizes get the same sample.

Times are wall-clock means over the sample (with the median, and the mean CPU time of
the writing process, steadier on a busy machine). A write is split into: placing
the new items in stories (the candidates the store reads, ``Store._story_candidates``,
and the decider's placement, ``decide._place_in_stories``), the full-text index (the
batches ``Store.index_pending`` adds every ``SEARCH_BATCH`` new items and at the end
of the sample, spread over the writes), and the rest (items, their indexes and links,
verdicts, the poll and feed rows, the commit and WAL checkpoints).

With ``--snapshots DIR`` each filled database is kept there (about 3 KB per item)
and reused by the next run, so two versions of the code can be compared on the same
databases.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedset

from tracker import decide
from tracker.models import FeedPoll, FetchResult, ItemText, Settings
from tracker.parse import parse_feed
from tracker.parsepool import analyse
from tracker.poll import poll_plan
from tracker.store import Store
from tracker.topicset import TopicSet, load_topic_set

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SAMPLE_FIRST_FEED = 1_000_000  # sample feeds are numbered apart from the filling ones
WARM_UP = 10  # feeds written untimed before each sample
FILL_BATCH = 1000  # feeds parsed for filling at a time

_topics: TopicSet | None = None


@dataclass(frozen=True)
class FeedWrite:
    """One generated feed, parsed and analysed, ready for ``record_poll``."""

    url: str
    poll: FeedPoll
    items: int


@dataclass(frozen=True)
class Cost:
    """Mean milliseconds per feed write, and its parts."""

    items: int
    feeds: int
    total: float
    median: float
    cpu: float
    stories: float
    fts: float

    @property
    def rest(self) -> float:
        return self.total - self.stories - self.fts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,100000,350000", help="items, comma-separated")
    parser.add_argument("--sample", type=int, default=200, help="feeds timed at each size")
    parser.add_argument("--snapshots", type=Path, help="keep and reuse filled databases here")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="write_cost_") as scratch:
        snapshots = args.snapshots or Path(scratch) / "snapshots"
        snapshots.mkdir(parents=True, exist_ok=True)
        sample = prepared(sample_specs(WARM_UP + args.sample), at=START)
        costs = [measure(database(snapshots, size), sample, Path(scratch)) for size in sizes]
    print_costs(costs)


def sample_specs(count: int) -> list[feedset.FeedSpec]:
    return [
        feedset.FeedSpec(SAMPLE_FIRST_FEED + spec.number, spec.format, spec.items)
        for spec in feedset.feed_specs(count, seed=8)
    ]


def prepared(specs: Sequence[feedset.FeedSpec], at: datetime) -> list[FeedWrite]:
    return list(prepare_all(specs, at))


def prepare_all(specs: Sequence[feedset.FeedSpec], at: datetime) -> Iterator[FeedWrite]:
    """The feeds parsed and analysed by two worker processes, in order."""
    with ProcessPoolExecutor(2, initializer=_load_topics) as pool:
        yield from pool.map(_prepare, specs, [at] * len(specs), chunksize=8)


def _load_topics() -> None:
    global _topics
    _topics = load_topic_set(ROOT / "config" / "topics", ROOT / "seeds")


def _assess(text: ItemText) -> Sequence[Any]:
    assert _topics is not None
    return _topics.assess(text)


def _prepare(spec: feedset.FeedSpec, at: datetime) -> FeedWrite:
    url = f"https://outlet{spec.number}.example.com/feed.xml"
    body = feedset.document(spec, at).encode()
    headers = {"content-type": "application/xml"}
    parsed = parse_feed(body, headers, url, at)
    analyses = analyse(parsed, {}, _assess)
    fetch = FetchResult(url, url, 200, body, headers, content_hash=f"{spec.number}")
    poll = FeedPoll(url, at, fetch, parsed, analyses=analyses)
    return FeedWrite(url, poll, len(parsed.items))


def database(snapshots: Path, size: int) -> Path:
    """A database of about ``size`` items, from the snapshots or filled now."""
    path = snapshots / f"items-{size}.db"
    if path.exists():
        return path
    smaller = sorted((int(p.stem.split("-")[1]), p) for p in snapshots.glob("items-*.db"))
    base = max((s for s in smaller if s[0] < size), default=(0, None))
    filling = path.with_suffix(".filling")
    if base[1] is not None:
        shutil.copyfile(base[1], filling)
    fill(filling, size)
    filling.rename(path)
    return path


def fill(path: Path, size: int) -> None:
    """Write generated feeds into the database until it holds ``size`` items."""
    with Store(path) as store:
        items, feeds = _count(store, "items"), _count(store, "feeds")
        while items < size:
            print(f"filling {path.stem}: {items:,} items", file=sys.stderr, flush=True)
            batch = min(FILL_BATCH, (size - items) // 35 + 1)
            specs = feedset.feed_specs(feeds + batch)[feeds:]
            for feed in prepare_all(specs, START):
                items += write(store, feed, _moment(feeds)).new_items
                feeds += 1
        store.checkpoint()


def measure(path: Path, sample: Sequence[FeedWrite], scratch: Path) -> Cost:
    """Write the sample on a copy of the database, timing story placement and the
    full-text index's batches (``Store.index_pending``) within each write."""
    copy = scratch / "measured.db"
    shutil.copyfile(path, copy)
    with Store(copy) as store:
        store.index_pending()
        items = _count(store, "items")
        first = _count(store, "feeds")
        stories = _spent_in(store, "_story_candidates")
        original = decide._place_in_stories
        _spent_in(decide, "_place_in_stories", stories)
        indexing = _spent_in(store, "index_pending")
        try:
            times, cpu = timed_writes(store, sample, first, [stories, indexing])
        finally:
            decide._place_in_stories = original  # type: ignore[assignment]
    copy.unlink()
    return Cost(
        items,
        len(times),
        statistics.fmean(times),
        statistics.median(times),
        statistics.fmean(cpu),
        sum(stories) * 1000 / len(times),
        sum(indexing) * 1000 / len(times),
    )


def timed_writes(
    store: Store, sample: Sequence[FeedWrite], first: int, spent: Sequence[list[float]] = ()
) -> tuple[list[float], list[float]]:
    """Milliseconds of each write after the warm-up ones: wall time and CPU time. The
    sample's last items are indexed for search as a poll's end indexes them, on the
    last write's account; ``spent`` lists are emptied after the warm-up."""
    for number, feed in enumerate(sample[:WARM_UP], start=first):
        write(store, feed, _moment(number))
    store.index_pending()
    for parts in spent:
        parts.clear()
    times, cpu = [], []
    for number, feed in enumerate(sample[WARM_UP:], start=first + WARM_UP):
        started, started_cpu = time.perf_counter(), time.process_time()
        write(store, feed, _moment(number))
        if number == first + len(sample) - 1:
            store.index_pending()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return times, cpu


def _spent_in(owner: object, method: str, spent: list[float] | None = None) -> list[float]:
    """Seconds spent in a method of the store (or a function of a module) by each
    call, as they are made, added to ``spent`` if given."""
    spent = [] if spent is None else spent
    original: Callable[..., Any] = getattr(owner, method)

    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        result = original(*args)
        spent.append(time.perf_counter() - started)
        return result

    setattr(owner, method, timed)
    return spent


def write(store: Store, feed: FeedWrite, now: datetime) -> Any:
    state = store.ensure_feed(feed.url, now)
    plan = poll_plan(state, feed.poll, _assess_unused, Settings(), random.Random(0), now)
    return store.record_poll(state, feed.poll, plan, now)


def _assess_unused(text: ItemText) -> Sequence[Any]:
    raise AssertionError("every item comes analysed")


def _moment(number: int) -> datetime:
    return START + timedelta(seconds=number)


def _count(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def print_costs(costs: Sequence[Cost]) -> None:
    print("| Items in the database | ms per feed | median | CPU | stories | full-text | rest |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for cost in costs:
        print(
            f"| {cost.items:,} | {cost.total:.1f} | {cost.median:.1f} | {cost.cpu:.1f} "
            f"| {cost.stories:.1f} | {cost.fts:.1f} | {cost.rest:.1f} |"
        )


if __name__ == "__main__":
    main()
