"""Placing flagged items in their developments: the cost per item as the database grows.

    .venv/bin/python benchmarks/development_place.py [--sizes 10000,1000000]
        [--flag-share 0.02] [--days 60] [--batch 100] [--rounds 5]

A database of ``size`` items published over ``--days`` days is written straight in
SQL (items, their feed links, a flag on ``--flag-share`` of them, and their
developments, four reports each, with keys), as ``detect_developments`` would have
left it. Then ``--rounds`` batches of ``--batch`` new flagged items, published after
the others, are placed with ``Store.place_new_flags`` (the hook's whole work: reading
the topic's developments of the background window, placing, writing) and timed; the
time per item is the mean over the rounds divided by the batch. Titles are made of
random names from a pool of 5,000 and common words, so some new items join a
development and most start one.

``--unflagged N`` adds to each round N items the rules did not flag, first seen in
the round (a cycle's other new items), a tenth of them naming an entity of the
shipped topic's alias sets, and places with those alias sets and adaptive tracking
(``place_new_flags(entities, seen_since, now)``, as the service's hook does): the
time per item is still per flagged item, so the two runs compare.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker import developments
from tracker.entities import EntityIndex, entity_index
from tracker.store import Store
from tracker.topics import load_topic

START = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = [f"Name{n:04d}" for n in range(5000)]
COMMON = ["talks", "Taliban", "envoy", "officials", "Kabul", "Doha", "deal", "said"]
TOPIC = "us-taliban"
SHIPPED = Path(__file__).resolve().parent.parent / "config" / "topics" / "us-taliban.toml"
ENTITY_NAMES = ["Khalilzad", "Bagram", "Muttaqi", "Corbett", "ISIS-K", "Haqqani"]


def title(rng: random.Random) -> str:
    return " ".join(rng.sample(NAMES, 3) + rng.sample(COMMON, 4))


def fill(store: Store, size: int, share: float, days: int, rng: random.Random) -> datetime:
    """``size`` items over ``days`` days, a flag on ``share`` of them in developments of
    four; return the time of the last item."""
    step = timedelta(days=days) / max(size, 1)
    conn = store.conn
    conn.execute("INSERT INTO feeds (id, url, title, created_at) VALUES (1, 'u', 'F', 'x')")
    flagged = set(rng.sample(range(1, size + 1), int(size * share)))
    development, reports, keys = 0, 4, {}  # the development being filled
    with store.transaction():
        for item_id in range(1, size + 1):
            at = (START + step * item_id).isoformat()
            text = title(rng)
            conn.execute(
                "INSERT INTO items (id, title, published, first_seen_at, content_hash, "
                "feed_id, story_id) VALUES (?, ?, ?, ?, 'h', 1, ?)",
                (item_id, text, at, at, item_id),
            )
            conn.execute(
                "INSERT INTO item_feeds VALUES (1, ?, ?, ?, ?, 'h')", (item_id, item_id, at, at)
            )
            if item_id not in flagged:
                continue
            if reports == 4:
                development, reports, keys = _new_development(conn, at), 0, {}
            for key in developments.word_keys(text):
                keys[key] = keys.get(key, 0) + 1
            reports += 1
            conn.execute(
                "INSERT INTO flags (item_id, topic, score, reasons, rule_version, flagged_at, "
                "development_id, development_role) VALUES (?, ?, 1, 'r', 'v', ?, ?, ?)",
                (item_id, TOPIC, at, development, "new" if reports == 1 else "repeat"),
            )
            conn.execute(
                "UPDATE developments SET last_seen = ?, reports = ?, keys = ? WHERE id = ?",
                (at, reports, json.dumps(keys), development),
            )
    return START + step * size


def _new_development(conn: object, at: str) -> int:
    cursor = conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO developments (topic, first_seen, last_seen) VALUES (?, ?, ?)",
        (TOPIC, at, at),
    )
    return int(cursor.lastrowid)


def place_round(
    store: Store,
    first_id: int,
    batch: int,
    at: datetime,
    rng: random.Random,
    unflagged: int = 0,
    entities: EntityIndex | None = None,
) -> float:
    conn = store.conn
    with store.transaction():
        for item_id in range(first_id + batch, first_id + batch + unflagged):
            text = title(rng) + (f" {rng.choice(ENTITY_NAMES)}" if rng.random() < 0.1 else "")
            conn.execute(
                "INSERT INTO items (id, title, published, first_seen_at, content_hash, "
                "feed_id, story_id) VALUES (?, ?, ?, ?, 'h', 1, ?)",
                (item_id, text, at.isoformat(), at.isoformat(), item_id),
            )
        for item_id in range(first_id, first_id + batch):
            published = at.isoformat()
            conn.execute(
                "INSERT INTO items (id, title, published, first_seen_at, content_hash, "
                "feed_id, story_id) VALUES (?, ?, ?, ?, 'h', 1, ?)",
                (item_id, title(rng), published, published, item_id),
            )
            conn.execute(
                "INSERT INTO flags (item_id, topic, score, reasons, rule_version, flagged_at) "
                "VALUES (?, ?, 1, 'r', 'v', ?)",
                (item_id, TOPIC, published),
            )
    started = time.perf_counter()
    if entities is None:
        store.place_new_flags()
    else:
        store.place_new_flags({TOPIC: entities}, at, at)
    return time.perf_counter() - started


def measure(size: int, args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        began = time.perf_counter()
        last = fill(store, size, args.flag_share, args.days, rng)
        filled = time.perf_counter() - began
        opened = store.conn.execute(
            "SELECT COUNT(*) FROM developments WHERE last_seen >= ?",
            ((last - developments.BACKGROUND).isoformat(),),
        ).fetchone()[0]
        entities = entity_index(load_topic(SHIPPED)) if args.unflagged else None
        step = args.batch + args.unflagged
        times = [
            place_round(
                store,
                size + 1 + n * step,
                args.batch,
                last + timedelta(minutes=n + 1),
                rng,
                args.unflagged,
                entities,
            )
            for n in range(args.rounds)
        ]
    per_item = statistics.mean(times) / args.batch
    return {
        "size": size,
        "unflagged_per_round": args.unflagged,
        "fill_s": filled,
        "background_developments": opened,
        "per_item_ms": per_item * 1000,
        "per_item_median_ms": statistics.median(times) / args.batch * 1000,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--flag-share", type=float, default=0.02)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--unflagged", type=int, default=0)
    args = parser.parse_args(argv)
    for size in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(measure(size, args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
