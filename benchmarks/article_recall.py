"""Article text (#19): the recall gained on title-only items by deciding with the
article, and the pages fetched for it, under the old gate and the current one.

    .venv/bin/python benchmarks/article_recall.py [--min-words 40]

The labeled items (``tests/data/eval/dev-labeled.yaml``, the development set
``tracker eval`` scores, and ``heldout-written.yaml``, the held-out set) have a title
and a summary of a sentence or two. Aggregators and many outlets give a title only, so
each item is scored with the topic's own matcher:

- **title only**: the summary dropped, as a title-only feed would give it;
- **title + article**: the same, then, where the service would fetch the page (its
  feed text under ``--min-words`` words and the gate below), decided again with
  ``articletext.decide_with_article`` and the item's summary standing in for the
  page's text (the items have no pages, and no benchmark reaches the network); a
  page's article is longer than its summary, so this is a lower bound of the gain;
- **title + summary**: the items as labeled, for reference.

Two gates: **relevant** (the item is relevant to the topic on its feed text: the gate
before this measurement) and **relevant or near the seed** (``articletext.near_seed``:
or it shares ``SEED_TERMS_FOR_PAGE`` distinctive terms with the topic's seed article,
the gate the service uses). What a gate costs is the pages it fetches: counted on the
labeled items, and per 1,000 items of the real captured feeds in ``tests/data/corpus``
(a general news mix, as feeds carry it and with titles only).

Writes ``benchmarks/results/<date>-article-recall.md`` and prints it.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tracker.articletext import (
    SEED_TERMS_FOR_PAGE,
    decide_with_article,
    near_seed,
    needs_article,
)
from tracker.errors import ParseError
from tracker.evaluate import EvalReport, LabeledItem, evaluate, load_labeled
from tracker.matching import TopicMatcher
from tracker.models import FlagDecision, ItemText
from tracker.parse import parse_feed
from tracker.topics import load_topic

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "dev": ROOT / "tests" / "data" / "eval" / "dev-labeled.yaml",
    "held-out": ROOT / "tests" / "data" / "eval" / "heldout-written.yaml",
}
TOPIC = ROOT / "config" / "topics" / "us-taliban.toml"
CORPUS = ROOT / "tests" / "data" / "corpus"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
Gate = Callable[[FlagDecision], bool]
GATES: dict[str, Gate] = {
    "relevant": lambda decision: decision.relevant,
    "relevant or near the seed": lambda decision: decision.relevant or near_seed([decision]),
}


class _TitleOnly:
    def __init__(self, matcher: TopicMatcher) -> None:
        self.matcher = matcher

    def decide(self, text: ItemText) -> FlagDecision:
        return self.matcher.decide(replace(text, summary="", content=""))


class _WithArticle(_TitleOnly):
    """Title only, then the summary as the article where the gate fetches the page."""

    def __init__(self, matcher: TopicMatcher, min_words: int, gate: Gate) -> None:
        super().__init__(matcher)
        self.min_words = min_words
        self.gate = gate
        self.fetched: set[str] = set()  # titles of the items whose page would be fetched

    def decide(self, text: ItemText) -> FlagDecision:
        title_only = replace(text, summary="", content="")
        decision = self.matcher.decide(title_only)
        if not (needs_article(title_only, self.min_words) and self.gate(decision)):
            return decision
        self.fetched.add(text.title)
        article = "\n\n".join(part for part in (text.summary, text.content) if part)
        return decide_with_article(lambda t: [self.matcher.decide(t)], title_only, article)[0]


def corpus_titles() -> list[ItemText]:
    """The distinct items of the captured real feeds, as title-only texts."""
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        files = [row["file"] for row in csv.DictReader(manifest, delimiter="\t")]
    seen: dict[str, ItemText] = {}
    for name in files:
        if name.startswith("feedparser-tests/"):
            continue
        try:
            feed = parse_feed((CORPUS / name).read_bytes(), {}, "http://127.0.0.1/f.xml", NOW)
        except (ParseError, OSError):
            continue
        for item in feed.items:
            seen.setdefault(item.url or item.title, ItemText(item.title, "", "", item.language))
    return list(seen.values())


def pages_per_1000(
    matcher: TopicMatcher, texts: Sequence[ItemText], gate: Gate, words: int
) -> float:
    fetched = sum(needs_article(t, words) and gate(matcher.decide(t)) for t in texts)
    return 1000 * fetched / max(len(texts), 1)


def _row(name: str, report: EvalReport, pages: str = "") -> str:
    return (
        f"| {name} | {report.true_positives} | {report.false_positives} | "
        f"{report.false_negatives} | {report.precision:.3f} | {report.recall:.3f} | "
        f"{report.f1:.3f} | {pages} |"
    )


def _set_lines(name: str, items: list[LabeledItem], matcher: TopicMatcher, words: int) -> list[str]:
    rows = [_row("title only", evaluate(_TitleOnly(matcher), items), "0")]
    misses: list[str] = []
    for gate_name, gate in GATES.items():
        with_article = _WithArticle(matcher, words, gate)
        report = evaluate(with_article, items)
        rows.append(
            _row(f"title + article, gate: {gate_name}", report, str(len(with_article.fetched)))
        )
        misses += [
            f"- gate {gate_name}: {case.id} {case.title!r}, page "
            + (
                "fetched, still not flagged"
                if case.title in with_article.fetched
                else "not fetched"
            )
            for case in report.misses
        ]
    rows.append(_row("title + summary (as labeled)", evaluate(matcher, items)))
    header = [
        f"## {name}: {len(items)} labeled items",
        "",
        "| Decided on | TP | FP | FN | Precision | Recall | F1 | Pages fetched |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    return [*header, *rows, "", "Misses with the article text:", "", *(misses or ["- none"]), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-words", type=int, default=40)
    args = parser.parse_args()
    topic = load_topic(TOPIC)
    matcher = TopicMatcher(topic, (ROOT / "seeds" / topic.seed).read_text(encoding="utf-8"))
    corpus = corpus_titles()
    day = datetime.now(UTC).date().isoformat()
    lines = [
        f"# Article text: recall on title-only items and pages fetched ({day})",
        "",
        f"Topic `{topic.name}`, `article_min_words` = {args.min_words}, near the seed: "
        f"{SEED_TERMS_FOR_PAGE} distinctive seed terms shared.",
        "",
    ]
    for name, path in SETS.items():
        lines += _set_lines(name, load_labeled(path), matcher, args.min_words)
    lines += [
        f"## Pages fetched per 1,000 items of the captured real feeds ({len(corpus)} items, "
        "titles only)",
        "",
        "| Gate | Pages per 1,000 items |",
        "| --- | --- |",
        *(
            f"| {name} | {pages_per_1000(matcher, corpus, gate, args.min_words):.1f} |"
            for name, gate in GATES.items()
        ),
        "",
        "Command: `python benchmarks/article_recall.py`.",
    ]
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / f"{day}-article-recall.md"
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
