"""Parsing speed: ``parse_feed`` on generated news feeds and on the captured corpus.

    .venv/bin/python benchmarks/parse_speed.py [--feeds 300] [--profile]

What a parse worker spends on one document before matching: decoding, reading the XML
(lxml's fast path, or feedparser for what it is unsure of), HTML to plain text, dates,
URLs and keys. Two sets, each parsed the way the poll cycle parses them (one process,
one core):

- **news**: the benchmark's generated feeds (``feedset.py``: RSS 2.0, Atom 1.0 and
  RSS with ``content:encoded``, 20-50 items with HTML descriptions, ~55 KB);
- **captured**: every document in ``tests/data/corpus`` (real feeds in many charsets and
  formats, a few broken on purpose), once with the fast path and once with feedparser
  alone.

Prints the median CPU milliseconds per document of five runs; ``--profile`` adds the
functions that take the most time on the news set.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from feedset import document, feed_specs

from tracker.errors import ParseError
from tracker.parse import parse_feed

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 1, tzinfo=UTC)
URL = "http://127.0.0.1/feed.xml"


def news_documents(count: int) -> list[bytes]:
    return [document(spec, NOW).encode() for spec in feed_specs(count)]


def captured_documents() -> list[bytes]:
    paths = sorted((ROOT / "tests" / "data" / "corpus").rglob("*"))
    return [p.read_bytes() for p in paths if p.is_file() and p.suffix not in {".tsv", ".md"}]


def parse_all(documents: Sequence[bytes], *, fast: bool = True) -> None:
    for body in documents:
        try:
            parse_feed(body, {}, URL, NOW, fast=fast)
        except ParseError:
            continue


def cpu_ms_per_document(run: Callable[[], object], count: int, repeat: int = 5) -> float:
    """Median CPU milliseconds per document of ``repeat`` runs, after one to warm up."""
    run()
    cpus = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        cpus.append(time.process_time() - started)
    return statistics.median(cpus) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="profile the news set")
    args = parser.parse_args()
    news = news_documents(args.feeds)
    captured = captured_documents()
    size = sum(map(len, news)) / len(news) / 1024
    for label, documents, fast in (
        (f"news feeds (generated, {size:.0f} KB on average)", news, True),
        ("captured real feeds", captured, True),
        ("captured real feeds, feedparser only", captured, False),
    ):
        per_document = cpu_ms_per_document(
            lambda documents=documents, fast=fast: parse_all(documents, fast=fast),
            len(documents),
        )
        print(f"{label}: {len(documents)} documents, {per_document:.2f} ms CPU each")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(parse_all, news)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
