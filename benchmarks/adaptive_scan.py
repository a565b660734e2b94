"""Adaptive tracking against real near misses: captured feeds served beside flagged developments.

Usage::

    python benchmarks/adaptive_scan.py CORPUS_DIR [--topic us-taliban]

``CORPUS_DIR`` is a directory of captured feeds with a MANIFEST, such as the
repository's ``tests/data/corpus`` or a larger capture of your own.

The labeled stream (``tests/data/developments/stream.json``) gives the developments:
its reports that the topic's rules flag, at their times. Every distinct item of the
captured feeds that the rules do not flag is given a time spread evenly over the
stream's days (about 1,250 real items a day beside the developments, each inside
the window of some development), and all are placed together, oldest first, as the
service places a cycle's flags and unflagged reports (``tracker.developments.place``
with the topic's entity alias sets). A captured item that joins a development is a
false flag of adaptive tracking (the feeds were captured at other times, about other
events): they are listed to be read. Prints how many captured items name an entity
of the topic (the first thing an adopted report needs) and the time placing took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flag_scan import _distinct_items  # the same distinct items as flag_scan

from tracker import developments as dv
from tracker.entities import EntityIndex, is_entity_key
from tracker.matching import TopicMatcher
from tracker.models import ItemText
from tracker.topicset import load_topic_set

ROOT = Path(__file__).resolve().parent.parent
STREAM = ROOT / "tests" / "data" / "developments" / "stream.json"
START = datetime(2026, 3, 2, tzinfo=UTC)  # day 0 of the stream, as tests/devstream.py has it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path, help="directory of captured feeds")
    parser.add_argument("--topic", default="us-taliban")
    args = parser.parse_args(argv)
    topic_set = load_topic_set(ROOT / "config" / "topics", ROOT / "seeds").only(args.topic)
    matcher, entities = topic_set.matchers[0], topic_set.entities[args.topic]
    stream = json.loads(STREAM.read_text(encoding="utf-8"))["items"]
    flagged = _stream_flags(stream, matcher, entities)
    texts, _ = _distinct_items(args.directory)
    days = max(int(report["day"]) for report in stream) + 1
    captured = _captured(texts, matcher, entities, days)
    named = sum(1 for item in captured if any(is_entity_key(k) for k in item.keys))
    print(f"{len(flagged)} flagged reports of the stream; {len(captured)} captured items")
    print(f"not flagged by the rules, {named} of them naming an entity of {args.topic}")
    items = sorted([*flagged, *captured], key=lambda item: (item.published, item.item_id))
    started = time.perf_counter()
    placements = dv.place(items, dv.Pool())
    elapsed = time.perf_counter() - started
    adopted = [p for p in placements if p.adopted and p.item_id >= len(stream)]
    print(
        f"placed {len(items)} items in {elapsed:.2f} s ({elapsed / len(items) * 1e6:.0f} µs each)"
    )
    print(f"captured items that joined a development (false flags): {len(adopted)}")
    for placement in adopted:
        text = texts[placement.item_id - len(stream)]
        print(f"  {placement.development_id}: {text.title} | {', '.join(placement.shared)}")
    return 0


def _keyed(
    n: int, text: ItemText, when: datetime, matcher: TopicMatcher, entities: EntityIndex
) -> tuple[dv.DevelopmentItem, bool]:
    """An item as the store hands it to grouping (matched terms only of relevant
    items: the store keeps no matches of the others), and whether the rules flag it."""
    decision = matcher.decide(text)
    matched = [m.matched for m in decision.matches] if decision.relevant else []
    named = entities.named(text.title, text.summary)
    keys, terms = dv.item_keys(text.title, text.summary, matched, named)
    item = dv.DevelopmentItem(n, n, when, "", text.language, keys, terms, decision.flagged)
    return item, decision.flagged


def _stream_flags(
    stream: Sequence[dict[str, object]], matcher: TopicMatcher, entities: EntityIndex
) -> list[dv.DevelopmentItem]:
    items = []
    for n, report in enumerate(stream):
        when = START + timedelta(days=int(str(report["day"])), hours=int(str(report["hour"])))
        text = ItemText(str(report["title"]), str(report["summary"]))
        item, flagged = _keyed(n, text, when, matcher, entities)
        if flagged:
            items.append(item)
    return items


def _captured(
    texts: Sequence[ItemText], matcher: TopicMatcher, entities: EntityIndex, days: int
) -> list[dv.DevelopmentItem]:
    step = timedelta(days=days) / max(len(texts), 1)
    base = len(json.loads(STREAM.read_text(encoding="utf-8"))["items"])
    items = []
    for n, text in enumerate(texts):
        item, flagged = _keyed(base + n, text, START + step * n, matcher, entities)
        if not flagged:  # an unflagged report: adaptive tracking weighs it
            items.append(item)
    return items


if __name__ == "__main__":
    sys.exit(main())
