"""A populated tracker database for tests that read what tracker wrote (Datasette, reports).

``populated_db(path)`` writes, through ``Store`` as a poll cycle would:

- three outlets (Kabul Wire, Daily Herald, Radio Asia) and a dead feed that has
  failed every poll for five days (``last_error`` set, never a success);
- Radio Asia's latest poll failed an hour before ``now`` (failing, not dead);
- 20 items over five days: the story ``STORY_TITLE`` carried by all three outlets
  under their own URLs, one article (``SHARED_URL``) carried by two feeds under one
  URL, flagged and unflagged relevant items, irrelevant items, and ``XSS_TITLE``
  whose summary holds ``<script>alert(1)</script>`` and whose url and link are
  ``javascript:`` URLs;
- matches, assessments and flags from a small keyword assessor (``assess``), and
  ``polls`` rows with different durations per feed.

Everything is relative to ``now`` (default ``NOW``), so tests can use fixed times.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

from tracker.models import (
    FeedConfig,
    FeedPoll,
    FetchResult,
    FlagDecision,
    ItemText,
    ParsedFeed,
    ParsedItem,
    Settings,
    TermMatch,
)
from tracker.poll import poll_plan
from tracker.store import Store

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TOPIC = "us-taliban"
RULE_VERSION = "abc123"

KABUL_WIRE = "https://news.example.org/world.rss"
DAILY_HERALD = "https://daily.example.com/feed.xml"
RADIO_ASIA = "https://radio.example.net/rss"
DEAD_FEED = "https://dead.example.org/rss"
DEAD_ERROR = "HTTP 503 Service Unavailable"

STORY_TITLE = "US envoy meets Taliban officials in Doha to discuss detainees"
SHARED_URL = "https://news.example.org/2026/03/frozen-reserves"
XSS_TITLE = "Taliban spokesman comments on US talks <b>live</b>"
XSS_URL = "javascript:alert(1)"

# term -> group: the fake assessor's topic. "us" and "taliban" make an item
# relevant; a flag needs both groups.
TERMS: dict[str, str] = {
    "Taliban": "taliban",
    "Islamic Emirate": "taliban",
    "US": "us",
    "Washington": "us",
    "envoy": "us",
    "American": "us",
}
RELEVANT_WORDS = ("Afghan", "Kabul", "ISKP")


@dataclass(frozen=True)
class Article:
    key: str
    title: str
    summary: str
    url: str | None
    age: timedelta  # published this long before now
    link: str | None = None
    language: str = "en"


KABUL_WIRE_ITEMS = (
    Article(
        "kw-1",
        f"{STORY_TITLE} - Kabul Wire",
        "Talks in Doha focused on detained Americans and the embassy in Kabul.",
        "https://news.example.org/2026/03/envoy-doha",
        timedelta(days=1, hours=3),
    ),
    Article(
        "kw-2",
        "Taliban and Washington hold talks on frozen reserves",
        "Officials met in Doha to discuss a mechanism for the central bank's assets.",
        SHARED_URL,
        timedelta(days=2),
    ),
    Article(
        "kw-3",
        "Earthquake strikes western Afghanistan",
        "Rescue teams reached villages near Herat after the Afghan quake.",
        "https://news.example.org/2026/03/quake",
        timedelta(days=2, hours=5),
    ),
    Article(
        "kw-4",
        XSS_TITLE,
        "<script>alert(1)</script> The Taliban said US talks would continue.",
        XSS_URL,
        timedelta(days=3),
        link="javascript:alert(2)",
    ),
    Article(
        "kw-5",
        "Markets close higher on tech rally",
        "Stocks rose for a third day.",
        "https://news.example.org/2026/03/markets",
        timedelta(days=1),
    ),
    Article(
        "kw-6",
        "Kabul residents face long power cuts",
        "Electricity imports fell during the cold snap.",
        "https://news.example.org/2026/03/power",
        timedelta(hours=20),
    ),
    Article(
        "kw-7",
        "Football: league leaders held to a draw",
        "A late equaliser kept the title race open.",
        "https://news.example.org/2026/03/football",
        timedelta(hours=10),
    ),
)
DAILY_HERALD_ITEMS = (
    Article(
        "dh-1",
        f"{STORY_TITLE} - Daily Herald",
        "The envoy met Taliban officials in Doha on Monday.",
        "https://daily.example.com/world/envoy-doha",
        timedelta(days=1, hours=2),
    ),
    Article(
        "dh-2",
        "Taliban and Washington hold talks on frozen reserves",
        "",
        SHARED_URL,
        timedelta(days=2),
    ),
    Article(
        "dh-3",
        "Qatar hosts regional security conference",
        "A Taliban delegation arrived in Doha as Washington sent an observer.",
        "https://daily.example.com/world/qatar-conference",
        timedelta(days=4),
    ),
    Article(
        "dh-4",
        "ISKP claims attack in Jalalabad",
        "The Islamic State affiliate said it targeted a Taliban checkpoint.",
        "https://daily.example.com/world/jalalabad",
        timedelta(days=3, hours=4),
    ),
    Article(
        "dh-5",
        "Weather: storms expected over the weekend",
        "Forecasters warned of strong winds.",
        "https://daily.example.com/weather",
        timedelta(hours=5),
    ),
    Article(
        "dh-6",
        "Elections in Europe: what to watch",
        "Three countries vote on Sunday.",
        "https://daily.example.com/europe-votes",
        timedelta(hours=8),
    ),
    Article(
        "dh-7",
        "Kabul traffic police get new uniforms",
        "The city's officers showed off the new kit.",
        "https://daily.example.com/kabul-traffic",
        timedelta(hours=30),
    ),
)
RADIO_ASIA_ITEMS = (
    Article(
        "ra-1",
        f"{STORY_TITLE} | Radio Asia",
        "Washington's envoy and Taliban officials met in Doha.",
        "https://radio.example.net/news/envoy-doha",
        timedelta(days=1),
    ),
    Article(
        "ra-2",
        "Pakistan and Taliban discuss border crossings",
        "Officials from Islamabad and Kabul agreed to reopen Torkham.",
        "https://radio.example.net/news/torkham",
        timedelta(days=2, hours=1),
    ),
    Article(
        "ra-3",
        "Diplomats weigh reopening the embassy in Kabul",
        "US officials said a small mission could handle talks with the Islamic Emirate.",
        "https://radio.example.net/news/embassy",
        timedelta(days=4, hours=2),
    ),
    Article(
        "ra-4",
        "Талибы заявили о готовности к диалогу",
        "Представитель МИД сообщил о переговорах.",
        "https://radio.example.net/ru/dialog",
        timedelta(days=3, hours=6),
        language="ru",
    ),
    Article(
        "ra-5",
        "Music festival returns to the capital",
        "Organisers expect record crowds.",
        "https://radio.example.net/news/festival",
        timedelta(hours=12),
    ),
    Article(
        "ra-6",
        "Health ministry opens new clinics",
        "Ten clinics opened in rural districts.",
        "https://radio.example.net/news/clinics",
        timedelta(hours=40),
    ),
    Article(
        "ra-7",
        "Trade fair draws exporters from the region",
        "Carpets and saffron were on show.",
        "https://radio.example.net/news/trade-fair",
        timedelta(hours=50),
    ),
)

# Item ids, in the order ``populated_db`` stores them (Kabul Wire, Daily Herald,
# Radio Asia; dh-2 shares kw-2's URL and is no item of its own).
STORY_ITEM_IDS = (1, 8, 14)
XSS_ITEM_ID = 4
SHARED_ITEM_ID = 2


def populated_db(path: Path, now: datetime = NOW) -> None:
    """Write the database described in the module docstring to ``path``."""
    store = Store(path)
    try:
        _populate(store, now)
    finally:
        store.close()


def _populate(store: Store, now: datetime) -> None:
    store.sync_feeds(
        [FeedConfig(url=url) for url in (KABUL_WIRE, DAILY_HERALD, RADIO_ASIA, DEAD_FEED)],
        now - timedelta(days=6),
    )
    _succeed(store, KABUL_WIRE, "Kabul Wire", KABUL_WIRE_ITEMS, now - timedelta(hours=2), 120)
    _succeed(store, KABUL_WIRE, "Kabul Wire", KABUL_WIRE_ITEMS, now - timedelta(hours=1), 90)
    _succeed(
        store, DAILY_HERALD, "Daily Herald", DAILY_HERALD_ITEMS, now - timedelta(hours=2), 2500
    )
    _succeed(store, RADIO_ASIA, "Radio Asia", RADIO_ASIA_ITEMS, now - timedelta(hours=3), 800)
    _fail(store, RADIO_ASIA, now - timedelta(hours=1), 20_000, "timeout", "timed out after 20 s")
    for age in (timedelta(days=5), timedelta(days=2), timedelta(0)):
        _fail(store, DEAD_FEED, now - age, 30_000, "http", DEAD_ERROR, status=503)
    store.place_new_flags()  # as the service's detect_developments hook does


def _succeed(
    store: Store,
    url: str,
    title: str,
    articles: Sequence[Article],
    at: datetime,
    duration_ms: int,
) -> None:
    items = tuple(_parsed_item(article, at) for article in articles)
    poll = FeedPoll(
        feed_url=url,
        started_at=at - timedelta(milliseconds=duration_ms),
        fetch=FetchResult(url=url, final_url=url, status=200, content_hash=f"{url}{at}"),
        parsed=ParsedFeed(title=title, link=None, language="en", format="rss20", items=items),
    )
    _record(store, url, poll, at)


def _fail(
    store: Store,
    url: str,
    at: datetime,
    duration_ms: int,
    kind: str,
    error: str,
    status: int | None = None,
) -> None:
    poll = FeedPoll(
        feed_url=url,
        started_at=at - timedelta(milliseconds=duration_ms),
        fetch=FetchResult(url=url, final_url=url, status=status, error_kind=kind, error=error),
        error_kind=kind,
        error=error,
    )
    _record(store, url, poll, at)


def _record(store: Store, url: str, poll: FeedPoll, at: datetime) -> None:
    state = store.ensure_feed(url, at)
    store.record_poll(state, poll, poll_plan(state, poll, assess, Settings(), Random(0), at), at)


def _parsed_item(article: Article, now: datetime) -> ParsedItem:
    published = now - article.age
    digest = hashlib.sha256(f"{article.title}\n{article.summary}\n{article.url}".encode())
    return ParsedItem(
        key=article.key,
        key_kind="guid",
        url=article.url,
        link=article.link or article.url,
        title=article.title,
        summary=article.summary,
        content="",
        author="",
        language=article.language,
        published=published,
        published_raw=published.isoformat(),
        date_estimated=False,
        content_hash=digest.hexdigest(),
    )


def assess(text: ItemText) -> list[FlagDecision]:
    """A small keyword assessor standing in for the matcher."""
    matches = tuple(_term_matches(text))
    groups = {match.group for match in matches}
    relevant = bool(matches) or any(
        word in f"{text.title} {text.summary}" for word in RELEVANT_WORDS
    )
    if not relevant:
        return []
    flagged = groups == {"us", "taliban"}
    reasons = "\n".join(
        f"{g} group matched: {', '.join(sorted({m.matched for m in matches if m.group == g}))}"
        for g in sorted(groups)
    )
    return [
        FlagDecision(
            topic=TOPIC,
            relevant=True,
            flagged=flagged,
            score=round(0.4 * len(groups) + 0.05 * len(matches), 2),
            reasons=reasons or "relevant word only",
            rule_version=RULE_VERSION,
            matches=matches,
            seed_terms=("Doha",) if "Doha" in text.summary else (),
        )
    ]


def _term_matches(text: ItemText) -> list[TermMatch]:
    found: list[TermMatch] = []
    for field in ("title", "summary"):
        value: str = getattr(text, field)
        for term, group in TERMS.items():
            offset = _word_offset(value, term)
            if offset >= 0:
                found.append(
                    TermMatch(group, term, value[offset : offset + len(term)], field, offset)
                )
    return found


def _word_offset(value: str, term: str) -> int:
    """Offset of ``term`` as a whole word (so "US" is not found in "discuss")."""
    start = 0
    while (offset := value.find(term, start)) >= 0:
        before = value[offset - 1] if offset else " "
        end = offset + len(term)
        after = value[end] if end < len(value) else " "
        if not before.isalnum() and not after.isalpha():
            return offset
        start = offset + 1
    return -1
