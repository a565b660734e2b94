"""Matching speed: 10,000 items against the shipped topic, and 1,000 terms against a
10 MB item.

    .venv/bin/python benchmarks/match_speed.py [--items 10000] [--no-readme]

Three sets of 10,000 items, each matched the way the poll cycle matches them
(``TopicMatcher.assess``, one process, one core):

- **news**: items of the benchmark's generated news feeds (``feedset.py``: titles and
  HTML descriptions from a news vocabulary, 3% of items on the topic's subject), parsed
  by tracker's parser;
- **captured**: items of the real captured feeds in ``tests/data/corpus``, repeated to
  make up the count (English, Russian, Persian, Pashto and other outlets);
- **on topic**: the labeled items of ``tests/data/eval`` (every one of them about the
  Taliban, the US or both), repeated with a counter so no two are equal; the worst
  case, since nearly every item needs its full decision and reasons. This set is also
  timed with ``decide`` (what ``tracker eval`` and ``rescore`` print).

Reports the median of five runs, wall and CPU, and writes the table into
benchmarks/README.md (section ``match-speed``) with the machine it was measured on.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import report
import yaml
from feedset import document, feed_specs

from tracker.errors import ParseError
from tracker.matching import TopicMatcher
from tracker.models import FlagDecision, ItemText
from tracker.parse import parse_feed
from tracker.topics import load_topic

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def labeled_items(count: int) -> list[ItemText]:
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


def news_items(count: int) -> list[ItemText]:
    items: list[ItemText] = []
    for spec in feed_specs(count // 20 + 1):
        parsed = parse_feed(document(spec, NOW).encode(), {}, "http://127.0.0.1/", NOW)
        items += [ItemText(i.title, i.summary, i.content, i.language) for i in parsed.items]
        if len(items) >= count:
            break
    return items[:count]


def captured_items(count: int) -> list[ItemText]:
    items: list[ItemText] = []
    for path in sorted((ROOT / "tests" / "data" / "corpus").rglob("*")):
        if not path.is_file() or path.suffix in {".tsv", ".md"}:
            continue
        try:
            parsed = parse_feed(path.read_bytes(), {}, "http://127.0.0.1/", NOW)
        except ParseError:
            continue
        items += [ItemText(i.title, i.summary, i.content, i.language) for i in parsed.items]
    return [items[i % len(items)] for i in range(count)]


def timed(run: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeat`` runs, after one to warm up."""
    run()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def measure(
    label: str, items: Sequence[ItemText], judge: Callable[[ItemText], FlagDecision]
) -> dict[str, object]:
    wall, cpu = timed(lambda: [judge(item) for item in items])
    decisions = [judge(item) for item in items]
    return {
        "set": label,
        "items": len(items),
        "chars": round(sum(len(i.title) + len(i.summary) + len(i.content) for i in items) / 1e3),
        "relevant": sum(d.relevant for d in decisions),
        "flagged": sum(d.flagged for d in decisions),
        "wall": wall,
        "cpu": cpu,
    }


def render(rows: list[dict[str, object]], big: str, terms: int) -> str:
    info = report.machine()
    lines = [
        "## Matching speed",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} with "
        f"`benchmarks/match_speed.py`: the shipped topic ({terms} terms), one process.",
        "",
        f"Machine: {report.machine_line(info)}.",
        "",
        "| Items | Call | Count | Thousand chars | Relevant | Flagged | Wall s | CPU s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['set']} | `{row['call']}` | {row['items']:,} | {row['chars']:,} | "
            f"{row['relevant']:,} | {row['flagged']:,} | {row['wall']:.3f} | {row['cpu']:.3f} |"
        )
    lines += ["", big]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args()
    topic = load_topic(ROOT / "config" / "topics" / "us-taliban.toml")
    seed = (ROOT / "seeds" / topic.seed).read_text(encoding="utf-8")
    matcher = TopicMatcher(topic, seed)
    terms = sum(len(group.terms) for group in topic.groups)
    on_topic = labeled_items(args.items)
    rows = []
    for label, items in (
        ("news feeds (generated)", news_items(args.items)),
        ("captured real feeds", captured_items(args.items)),
        ("on topic (labeled)", on_topic),
    ):
        rows.append({**measure(label, items, matcher.assess), "call": "assess"})
        print(rows[-1])
    rows.append({**measure("on topic (labeled)", on_topic, matcher.decide), "call": "decide"})
    print(rows[-1])
    sentence = "the Taliban and Washington held talks in Doha on Tuesday. "
    huge = ItemText("big", "", sentence * (10_000_000 // len(sentence)))
    size = len(huge.content.encode()) / 1e6
    wall, _ = timed(lambda: matcher.find_matches(huge), repeat=3)
    big = (
        f"One item of {size:.0f} MB (a sentence with four terms, repeated) against the "
        f"{terms} terms: {wall:.2f} s. Stored fields are capped at 200,000 characters."
    )
    print(big)
    if not args.no_readme:
        report.update_readme("match-speed", render(rows, big, terms))


if __name__ == "__main__":
    main()
