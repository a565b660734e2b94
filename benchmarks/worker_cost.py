"""What a parse worker's work costs, in one process, for comparing two checkouts.

    PYTHONPATH=CHECKOUT .venv/bin/python benchmarks/worker_cost.py FEEDS_DIR TOPICS_DIR
        [--feeds 100] [--rounds 7] [--profile FILE] [--no-language] [--once]

Parses the first ``--feeds`` documents of ``FEEDS_DIR`` (a set ``run.py`` generated,
``benchmarks/scratch/feeds/set-1000``) and analyses every item, as a worker does a job
(``parse_feed`` then ``parsepool.analyse`` with the topics of ``TOPICS_DIR``, the
seeds beside it), once untimed and then ``--rounds`` times, and prints the median CPU
time per item. It runs whichever checkout is first on ``PYTHONPATH``, so the same
documents can be timed with the code before a change (``run.py --baseline`` writes a
copy of the topic such a checkout can read, ``scratch/topics-base``).

``--profile FILE`` writes a cProfile of one pass instead; ``--no-language`` leaves
item language detection out (to see its share); ``--once`` only does the untimed pass
(under ``valgrind --tool=cachegrind``, whose instruction counts stay steady on a busy
machine; run it with ``--feeds 0`` too, to take away the imports and the topics).
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracker.parse import parse_feed
from tracker.parsepool import analyse
from tracker.topicset import load_topic_set

NOW = datetime(2026, 12, 7, tzinfo=UTC)
HEADERS = {"content-type": "application/xml"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("feeds_dir", type=Path)
    parser.add_argument("topics_dir", type=Path)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--no-language", action="store_true")
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    paths = sorted(args.feeds_dir.glob("*.xml"))[: args.feeds]
    documents = [(path.name, path.read_bytes()) for path in paths]
    topics = load_topic_set(args.topics_dir, args.topics_dir.parent / "seeds")
    if args.no_language:  # the code since #19 only
        import tracker.parse.items as parse_items

        parse_items.item_language = lambda *_: ""
    items = work(documents, topics.assess)
    if args.once:
        return
    if args.profile:
        cProfile.runctx(
            "work(documents, assess)",
            globals(),
            {"documents": documents, "assess": topics.assess},
            str(args.profile),
        )
        return
    spent = []
    for _ in range(args.rounds):
        started = time.process_time()
        work(documents, topics.assess)
        spent.append(time.process_time() - started)
    median = statistics.median(spent)
    print(
        f"{len(documents)} documents, {items} items: {median:.3f} s CPU a pass (median of "
        f"{args.rounds}, min {min(spent):.3f}), {median / max(items, 1) * 1e6:.1f} us an item"
    )


def work(documents: list[tuple[str, bytes]], assess: Any) -> int:
    """Parse and analyse every document as a worker would; the items analysed."""
    language = "language" in inspect.signature(parse_feed).parameters  # not before #19
    items = 0
    for name, body in documents:
        extra = {"language": ""} if language else {}
        url = f"http://127.0.0.1/set/{name}"
        parsed = parse_feed(body, HEADERS, url, NOW, max_items=200, **extra)
        items += len(analyse(parsed, {}, assess))
    return items


if __name__ == "__main__":
    main()
