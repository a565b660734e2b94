"""Scan a directory of captured feeds with the configured topics and list what is flagged.

Usage::

    python benchmarks/flag_scan.py tests/data/corpus [--reasons] [--relevant]

Every file under the directory is parsed as a feed (files that are not feeds are
counted and skipped); items repeated across snapshots (same title and start of
summary) are matched once. Prints, per topic, the counts (items, relevant,
flagged) and the time spent matching, then each flagged item with its score,
best first; ``--reasons`` adds the matcher's reasons under each item and
``--relevant`` also lists the relevant items that were not flagged (to review
misses by hand).

Precision on real feeds is judged by reading this list: it is a tool for the
analyst who edits a topic file, not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tracker.errors import ParseError
from tracker.models import FlagDecision, ItemText
from tracker.parse import parse_feed
from tracker.topicset import load_topic_set

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_SUFFIXES = (".tsv", ".md", ".txt")
SUMMARY_SHOWN = 150  # characters of the summary printed under a title
DEDUP_PREFIX = 100  # characters of the summary that, with the title, identify an item


@dataclass(frozen=True)
class ScannedItem:
    """One distinct item of the corpus and the decision on it."""

    text: ItemText
    decision: FlagDecision


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    topic_set = load_topic_set(args.topics, args.seeds).only(args.topic)
    texts, skipped = _distinct_items(args.directory)
    print(f"{len(texts)} distinct items, {skipped} files skipped (not feeds)")
    for matcher in topic_set.matchers:
        started = time.perf_counter()
        scanned = [ScannedItem(text, matcher.decide(text)) for text in texts]
        elapsed = time.perf_counter() - started
        _report(matcher.topic.name, scanned, elapsed, args)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path, help="directory of feed files (searched deeply)")
    parser.add_argument("--topics", type=Path, default=ROOT / "config" / "topics")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--topic", help="only this topic (default: every topic)")
    parser.add_argument("--reasons", action="store_true", help="print each flag's reasons")
    parser.add_argument(
        "--relevant", action="store_true", help="also list relevant items not flagged"
    )
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"not a directory: {args.directory}")
    return args


def _distinct_items(directory: Path) -> tuple[list[ItemText], int]:
    """Every distinct item of every feed under ``directory``, and the files skipped."""
    seen: set[tuple[str, str]] = set()
    texts: list[ItemText] = []
    skipped = 0
    now = datetime.now(UTC)
    for path in _feed_files(directory):
        try:
            feed = parse_feed(path.read_bytes(), {}, path.resolve().as_uri(), now)
        except ParseError:
            skipped += 1
            continue
        for item in feed.items:
            key = (item.title, item.summary[:DEDUP_PREFIX])
            if key not in seen:
                seen.add(key)
                texts.append(ItemText(item.title, item.summary, item.content, item.language))
    return texts, skipped


def _feed_files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix.lower() not in SKIPPED_SUFFIXES:
            yield path


def _report(
    topic: str, scanned: list[ScannedItem], elapsed: float, args: argparse.Namespace
) -> None:
    flagged = [item for item in scanned if item.decision.flagged]
    relevant = [item for item in scanned if item.decision.relevant]
    per_item = elapsed / len(scanned) * 1e6 if scanned else 0.0
    print(
        f"\ntopic {topic}: {len(relevant)} relevant, {len(flagged)} flagged; "
        f"matching took {elapsed:.2f} s ({per_item:.0f} µs per item)"
    )
    _print_items("flagged", flagged, args.reasons)
    if args.relevant:
        missed = [item for item in relevant if not item.decision.flagged]
        _print_items("relevant, not flagged", missed, args.reasons)


def _print_items(heading: str, items: list[ScannedItem], reasons: bool) -> None:
    print(f"\n{heading} ({len(items)}):")
    for item in sorted(items, key=lambda item: (-item.decision.score, item.text.title)):
        summary = " ".join(item.text.summary.split())[:SUMMARY_SHOWN]
        print(f"{item.decision.score:5.2f} | {item.text.title} | {summary}")
        if reasons:
            for line in item.decision.reasons.splitlines():
                print(f"        {line}")


if __name__ == "__main__":
    sys.exit(main())
