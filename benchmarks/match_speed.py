"""Matching speed: 10,000 items against the shipped topic, and 1,000 terms against a
10 MB item.

    .venv/bin/python benchmarks/match_speed.py [--items 10000]

Items are built from the labeled sets in tests/data/eval (titles and summaries in
English, Russian, Persian and Pashto), repeated with a counter so no two are equal.
Prints the median of five runs; the results are written into benchmarks/README.md
by hand with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml

from tracker.matching import TopicMatcher
from tracker.models import ItemText
from tracker.topics import load_topic

ROOT = Path(__file__).resolve().parent.parent


def sample_items(count: int) -> list[ItemText]:
    labeled = []
    for path in sorted((ROOT / "tests" / "data" / "eval").glob("*.yaml")):
        labeled += yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    return [
        ItemText(
            f"{labeled[i % len(labeled)]['title']} ({i})",
            labeled[i % len(labeled)].get("summary", ""),
            language=labeled[i % len(labeled)].get("lang", "en"),
        )
        for i in range(count)
    ]


def median_seconds(run: object, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    topic = load_topic(ROOT / "config" / "topics" / "us-taliban.toml")
    seed = (ROOT / "seeds" / topic.seed).read_text(encoding="utf-8")
    matcher = TopicMatcher(topic, seed)
    items = sample_items(args.items)
    seconds = median_seconds(lambda: [matcher.decide(item) for item in items])
    flagged = sum(matcher.decide(item).flagged for item in items)
    print(
        f"{args.items} items x topic {topic.name}: {seconds:.3f} s "
        f"({args.items / seconds:,.0f} items/s), {flagged} flagged"
    )
    terms = sum(len(group.terms) for group in topic.groups)
    print(f"topic terms: {terms}")
    sentence = "the Taliban and Washington held talks in Doha on Tuesday. "
    big = ItemText("big", "", sentence * (10_000_000 // len(sentence)))
    size = len(big.content.encode()) / 1e6
    seconds = median_seconds(lambda: matcher.find_matches(big), repeat=3)
    print(f"{terms} terms x one {size:.0f} MB item: {seconds:.2f} s")


if __name__ == "__main__":
    main()
