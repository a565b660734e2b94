"""Article text (#19): the recall gained on title-only items by deciding with the article.

    .venv/bin/python benchmarks/article_recall.py [--min-words 40]

The labeled dev items (``tests/data/eval/dev-labeled.yaml``, the set ``tracker eval``
scores) have a title and a summary of a sentence or two. Aggregators and many outlets
give a title only, so each item is scored three ways with the topic's own matcher:

- **title only**: the summary dropped, as a title-only feed would give it;
- **title + article**: the same, then, where the service would fetch the page (the item
  relevant to the topic and its feed text under ``--min-words`` words, the
  ``articletext.choose`` rule), decided again with ``articletext.decide_with_article``
  and the item's summary standing in for the page's text (the dev items have no pages,
  and no benchmark reaches the network); a page's article is longer than its summary,
  so this is a lower bound of the gain;
- **title + summary**: the items as labeled, for reference.

Writes ``benchmarks/results/<date>-article-recall.md`` and prints it.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tracker.articletext import decide_with_article, needs_article
from tracker.evaluate import EvalReport, LabeledItem, evaluate, load_labeled
from tracker.matching import TopicMatcher
from tracker.models import FlagDecision, ItemText
from tracker.topics import load_topic

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "data" / "eval" / "dev-labeled.yaml"
TOPIC = ROOT / "config" / "topics" / "us-taliban.toml"


class _TitleOnly:
    def __init__(self, matcher: TopicMatcher) -> None:
        self.matcher = matcher

    def decide(self, text: ItemText) -> FlagDecision:
        return self.matcher.decide(replace(text, summary="", content=""))


class _WithArticle(_TitleOnly):
    """Title only, then the summary as the article where the service would fetch it."""

    def __init__(self, matcher: TopicMatcher, min_words: int) -> None:
        super().__init__(matcher)
        self.min_words = min_words
        self.fetched: set[str] = set()  # titles of the items whose page would be fetched

    def decide(self, text: ItemText) -> FlagDecision:
        title_only = replace(text, summary="", content="")
        decision = self.matcher.decide(title_only)
        if not (decision.relevant and needs_article(title_only, self.min_words)):
            return decision
        self.fetched.add(text.title)
        article = "\n\n".join(part for part in (text.summary, text.content) if part)
        return decide_with_article(lambda t: [self.matcher.decide(t)], title_only, article)[0]


def _row(name: str, report: EvalReport) -> str:
    return (
        f"| {name} | {report.true_positives} | {report.false_positives} | "
        f"{report.false_negatives} | {report.precision:.3f} | {report.recall:.3f} | "
        f"{report.f1:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-words", type=int, default=40)
    args = parser.parse_args()
    topic = load_topic(TOPIC)
    matcher = TopicMatcher(topic, (ROOT / "seeds" / topic.seed).read_text(encoding="utf-8"))
    items: list[LabeledItem] = load_labeled(DEV)
    with_article = _WithArticle(matcher, args.min_words)
    rows = [
        ("title only", evaluate(_TitleOnly(matcher), items)),
        ("title + article (gated)", evaluate(with_article, items)),
        ("title + summary (as labeled)", evaluate(matcher, items)),
    ]
    day = datetime.now(UTC).date().isoformat()
    lines = [
        f"# Article text: recall on title-only dev items ({day})",
        "",
        f"{len(items)} labeled dev items, topic `{topic.name}`, `article_min_words` = "
        f"{args.min_words}; pages fetched (relevant, short): {len(with_article.fetched)}.",
        "",
        "| Decided on | TP | FP | FN | Precision | Recall | F1 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(_row(name, report) for name, report in rows),
        "",
        "Misses with the article text:",
        "",
        *(
            f"- {case.id} {case.title!r}: "
            + (
                "page fetched, still not flagged"
                if case.title in with_article.fetched
                else "page not fetched: the title alone is not relevant to the topic"
            )
            for case in rows[1][1].misses
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
