"""What the topic edit guard and the preview cost as the database grows.

    .venv/bin/python benchmarks/topic_guard.py [--sizes 10000,100000] [--recent 0.07]

For each size, a database of that many items of the real captured feeds in
``tests/data/corpus`` (English, Russian, Persian, Pashto..., repeated to make up the
count, as ``match_speed.py`` reads them), ``--recent`` of them first seen in the last
7 days and the rest spread over the year before, with the shipped topic applied. Then
the shipped topic is edited (the term "a" added to the groups of its main clause:
us, taliban, engagement) and three
things are timed, median of three runs, wall clock:

- **guard**: ``check_topic_edit``, what a running service does before it takes up an
  edit (matches the recent items only, writes nothing);
- **preview**: ``preview_changed_topics`` over every item (``topics check --preview``,
  ``rescore --dry-run``);
- **rescore**: ``rescore_changed_topics``, the write the edit costs once confirmed
  (run once, on a copy).

Prints a table; results go to a dated file under ``benchmarks/results/`` by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from match_speed import captured_items

from tracker.models import Settings, iso
from tracker.store import Store
from tracker.topicset import (
    TopicSet,
    check_topic_edit,
    load_topic_set,
    preview_changed_topics,
    rescore_changed_topics,
)

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TOPIC = ROOT / "config" / "topics" / "us-taliban.toml"
FLAGGING_GROUPS = ("us]", "taliban]", "engagement]")  # the main clause's groups


def build(path: Path, count: int, recent_share: float, topics: TopicSet) -> None:
    """``count`` items, the newest ``recent_share`` of them within the last 7 days."""
    recent = int(count * recent_share)
    with Store(path) as store:
        rows = []
        for n, text in enumerate(captured_items(count)):
            age = (
                timedelta(days=7 * n / max(recent, 1))
                if n < recent
                else timedelta(days=8 + n % 350)
            )
            seen = iso(NOW - age)
            digest = hashlib.sha256(f"{n}{text.title}".encode()).hexdigest()
            rows.append(
                (f"http://outlet.example/{n}", text.title, text.summary, seen, seen, digest)
            )
        with store.transaction() as conn:
            conn.executemany(
                "INSERT INTO items (url, title, summary, published, first_seen_at, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        rescore_changed_topics(store, topics, NOW)


def timed(run: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def edited_topics(directory: Path) -> TopicSet:
    parts = TOPIC.read_text(encoding="utf-8").split("\n[groups.")
    for index, part in enumerate(parts):
        if part.startswith(FLAGGING_GROUPS):
            parts[index] = part.replace("terms = [", 'terms = ["a", ', 1)
    text = "\n[groups.".join(parts)
    (directory / "topics").mkdir()
    (directory / "topics" / TOPIC.name).write_text(text, encoding="utf-8")
    return load_topic_set(directory / "topics", ROOT / "seeds")


def measure(size: int, recent_share: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        db = directory / "tracker.db"
        build(db, size, recent_share, load_topic_set(TOPIC.parent, ROOT / "seeds"))
        edited = edited_topics(directory)
        with Store(db) as store:
            guard = timed(lambda: check_topic_edit(store, edited, NOW, Settings()))
            check = check_topic_edit(store, edited, NOW, Settings())
            preview = timed(lambda: preview_changed_topics(store, edited, NOW))
        copy = directory / "copy.db"
        shutil.copy(db, copy)
        with Store(copy) as store:
            started = time.perf_counter()
            rescore_changed_topics(store, edited, NOW)
            rescore = time.perf_counter() - started
    return {
        "items": size,
        "recent": check.recent_items,
        "would_flag": check.would_flag,
        "held": check.hold,
        "guard_s": guard,
        "preview_s": preview,
        "rescore_s": rescore,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--recent", type=float, default=0.07)
    args = parser.parse_args()
    print("| items | recent | would flag | held | guard | preview (all items) | rescore |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for size in (int(s) for s in args.sizes.split(",")):
        row = measure(size, args.recent)
        print(
            f"| {row['items']:,} | {row['recent']:,} | {row['would_flag']:,} | {row['held']} "
            f"| {row['guard_s']:.2f} s | {row['preview_s']:.2f} s | {row['rescore_s']:.2f} s |"
        )


if __name__ == "__main__":
    main()
