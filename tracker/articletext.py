"""Article text in decisions: which items need their article page, and deciding with it.

Owns the pure rules of issue #19's article text: an item needs its page when its feed
text is too short to decide (``needs_article``), it is relevant to a topic or near a
topic's seed article (``near_seed``), and its URL can be fetched as it is
(``fetchable``: never a Google News link whose id did not decode, which only the
aggregator's JavaScript resolves), the text the matcher then sees (``with_article``)
and the decisions taken with it, whose reasons say when the article text decided
(``decide_with_article``), which items of a cycle to fetch (``choose``) and their
verdicts (``article_verdicts``). The rescore uses ``decide_with_article`` too, so a
topic edit decides an item with its article text as the fetch did.

Must not: fetch, extract or store anything (``articles`` and the store do), or read
the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

from tracker.decide import VerdictTarget, verdict_write
from tracker.models import (
    ArticleCandidate,
    ArticleResult,
    Assessor,
    FlagDecision,
    ItemText,
    VerdictWrite,
)
from tracker.textnorm import find_words

# An item not relevant on its feed text has its page fetched when it shares this many
# distinctive terms with a topic's seed (benchmarks/article_recall.py measures the trade).
SEED_TERMS_FOR_PAGE = 2
ARTICLE_REASON = "decided with the article's text from its page (the feed gave {words} words)"
# Aggregator links that lead to the article only through the aggregator's JavaScript.
_SCRIPT_ONLY_HOSTS = frozenset({"news.google.com"})


def word_count(text: ItemText) -> int:
    """Words in the item's feed text (title, summary and content)."""
    return sum(len(find_words(part)) for part in (text.title, text.summary, text.content))


def needs_article(text: ItemText, min_words: int) -> bool:
    return word_count(text) < min_words


def fetchable(url: str | None) -> bool:
    """An http(s) article URL that leads to the article without running a script."""
    if not url:
        return False
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    return parts.scheme in ("http", "https") and bool(host) and host not in _SCRIPT_ONLY_HOSTS


def with_article(text: ItemText, article: str) -> ItemText:
    """The item's text with the article's after its feed content."""
    if not article:
        return text
    content = f"{text.content}\n\n{article}" if text.content else article
    return replace(text, content=content)


def decide_with_article(assess: Assessor, text: ItemText, article: str) -> Sequence[FlagDecision]:
    """The item's decisions with its article text; a decision the article text changed
    (flagged, or relevant, where the feed text alone was not) says so in its reasons."""
    if not article:
        return assess(text)
    alone = {d.topic: d for d in assess(text)}
    decided = []
    for decision in assess(with_article(text, article)):
        before = alone.get(decision.topic)
        changed = before is None or (decision.flagged and not before.flagged)
        if changed and (decision.flagged or decision.relevant):
            note = ARTICLE_REASON.format(words=word_count(text))
            reasons = f"{decision.reasons}\n{note}" if decision.reasons else note
            decision = replace(decision, reasons=reasons)
        decided.append(decision)
    return decided


def near_seed(decisions: Sequence[FlagDecision]) -> bool:
    """Whether an item that is not relevant on its feed text shares enough distinctive
    terms with a topic's seed article (``SEED_TERMS_FOR_PAGE``) for its page to be worth
    a fetch: a headline that names no actor of the topic ("Washington weighs technical
    mission in Kabul") but speaks of the seed's story."""
    return any(len(decision.seed_terms) >= SEED_TERMS_FOR_PAGE for decision in decisions)


def _nowhere_near(_text: ItemText) -> bool:
    return False


def choose(
    candidates: Sequence[ArticleCandidate],
    min_words: int,
    off_feeds: frozenset[str],
    limit: int,
    is_near_seed: Callable[[ItemText], bool] = _nowhere_near,
) -> tuple[list[ArticleCandidate], list[ArticleResult]]:
    """The candidates to fetch (at most ``limit``), and the others' verdict on why not
    (recorded, so that they are not read again next cycle). An item carried by any feed
    with article text on may be fetched; one not relevant to a topic only when
    ``is_near_seed`` says its feed text is near a topic's seed."""
    fetch: list[ArticleCandidate] = []
    skipped: list[ArticleResult] = []
    for candidate in candidates:
        why = _why_not(candidate, min_words, off_feeds) or _not_near(candidate, is_near_seed)
        if why:
            skipped.append(ArticleResult(candidate.item_id, "skipped", error=why))
        elif len(fetch) < limit:
            fetch.append(candidate)
    return fetch, skipped


def _why_not(candidate: ArticleCandidate, min_words: int, off_feeds: frozenset[str]) -> str:
    if not needs_article(candidate.text, min_words):
        return "the feed's text is long enough to decide"
    if not fetchable(candidate.url):
        return "the link leads to the article only through the aggregator's script"
    if candidate.feed_urls and all(url in off_feeds for url in candidate.feed_urls):
        return "article_text is off for its feeds"
    return ""


def _not_near(candidate: ArticleCandidate, is_near_seed: Callable[[ItemText], bool]) -> str:
    if candidate.relevant or is_near_seed(candidate.text):
        return ""
    return "not relevant to a topic, nor near its seed article"


def article_verdicts(
    assess: Assessor,
    fetched: Sequence[ArticleCandidate],
    results: Sequence[ArticleResult],
    flagged: frozenset[tuple[int, str]],
    now: datetime,
) -> VerdictWrite:
    """The verdicts of the items whose page gave article text, decided with it; a new
    flag is alerted like a poll's (not backlog)."""
    texts = {c.item_id: c.text for c in fetched}
    targets = [
        VerdictTarget(
            r.item_id,
            decide_with_article(assess, texts[r.item_id], r.text),
            fresh=False,
            backlog=False,
        )
        for r in results
        if r.status == "ok" and r.item_id in texts
    ]
    return verdict_write(targets, flagged, now)
