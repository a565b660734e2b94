"""Generate a deterministic set of news feeds for the benchmarks.

Each feed is RSS 2.0 (most), Atom 1.0 or RSS 2.0 with ``content:encoded``, with
20-50 items whose titles and HTML descriptions are drawn from a news vocabulary
(and, for a few items, from the shipped topic's own subject so that matching and
flagging do real work). Sizes follow real feeds: 10-120 KB, about 40 KB on average.

``add_items`` rewrites a feed with new items on top (the oldest fall off), as a
publisher does, and moves its modification time forward so servers send new
validators.
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

_NEWS_WORDS = (
    "government minister election parliament budget talks border court ruling police "
    "report crisis economy inflation market shares energy climate storm flood drought "
    "health hospital vaccine school teachers strike union workers protest capital city "
    "president prime leader opposition party vote campaign official spokesman statement "
    "agreement deal sanctions trade exports imports growth bank rates central investors "
    "company profits technology software data security cyber attack military troops "
    "ceasefire aid refugees migrants asylum coast guard rescue fire earthquake damage "
    "residents officials investigation charges trial verdict appeal judge senator "
    "committee hearing bill law reform tax pension housing prices rent transport rail "
    "airport flights delays weather forecast season record league final match coach "
    "players injury transfer festival film music award museum exhibition science space "
    "mission launch satellite research study university students survey poll week"
).split()
_TOPIC_SENTENCES = (
    "Washington and the Taliban discussed intelligence sharing against ISKP in Doha.",
    "US envoy Zalmay Khalilzad met Taliban officials in Kabul to discuss detainees.",
    "The State Department said talks with the Taliban on the embassy would continue.",
    "Congress demanded that the Taliban restore the rights of Afghan women and girls.",
    "Russia and the Taliban signed a trade agreement in Moscow on Tuesday.",
    "Afghanistan's cricket team beat Pakistan in a tense final in Sharjah.",
    "Талибы и Вашингтон обсудили обмен разведданными о ИГИЛ-Хорасан.",
    "طالبان و واشنگتن درباره همکاری امنیتی در کابل گفتگو کردند.",
)
_FORMATS = (("rss", 60), ("atom", 28), ("rss_content", 12))
_SYLLABLES = "ka ri to mon sel var bu den lin so pa gor el tis ru na mir bel dak fa".split()
_RARE_WORDS = 20_000  # names and rarer words: real headlines rarely share many words
_IMAGE = '<img src="https://cdn.example.net/img/{0}.jpg" alt="" width="640" height="360"/>'


@dataclass(frozen=True)
class FeedSpec:
    """One generated feed: where it lives and how it is written."""

    number: int
    format: str
    items: int

    @property
    def filename(self) -> str:
        return f"feed{self.number:05d}.xml"


def feed_specs(count: int, seed: int = 7) -> list[FeedSpec]:
    rng = random.Random(seed)
    formats = [name for name, weight in _FORMATS for _ in range(weight)]
    return [FeedSpec(n, rng.choice(formats), rng.randint(20, 50)) for n in range(count)]


def generate(directory: Path, count: int, now: datetime, seed: int = 7) -> list[FeedSpec]:
    """Write ``count`` feeds into ``directory`` (replacing what is there)."""
    directory.mkdir(parents=True, exist_ok=True)
    specs = feed_specs(count, seed)
    for spec in specs:
        entries = [_entry(spec, serial, now) for serial in range(spec.items)]
        _write(directory / spec.filename, spec, entries, now)
    return specs


def document(spec: FeedSpec, now: datetime) -> str:
    """The feed's text as ``generate`` writes it, without writing a file."""
    entries = [_entry(spec, serial, now) for serial in range(spec.items)]
    return _atom(spec, entries, now) if spec.format == "atom" else _rss(spec, entries, now)


def document_of(spec: FeedSpec, items: list[tuple[int, datetime]]) -> str:
    """The feed's text holding exactly these items (serial, publication time), in order."""
    entries = [replace(_entry(spec, serial, at), published=at) for serial, at in items]
    now = max((at for _, at in items), default=datetime(2026, 1, 1, tzinfo=UTC))
    return _atom(spec, entries, now) if spec.format == "atom" else _rss(spec, entries, now)


def add_items(directory: Path, spec: FeedSpec, new: int, now: datetime, generation: int) -> None:
    """Put ``new`` items on top of the feed (dropping as many of the oldest)."""
    serials = range(1000 * generation, 1000 * generation + new)
    entries = [_entry(spec, serial, now) for serial in serials]
    entries += [_entry(spec, serial, now) for serial in range(spec.items - new)]
    _write(directory / spec.filename, spec, entries, now)


@dataclass(frozen=True)
class _Entry:
    guid: str
    link: str
    title: str
    html: str
    content: str
    published: datetime


def _entry(spec: FeedSpec, serial: int, now: datetime) -> _Entry:
    rng = random.Random(spec.number * 100_003 + serial)
    link = f"https://outlet{spec.number}.example.com/news/{now.year}/story-{serial}-{rng.randrange(10**8)}"
    topical = rng.random() < 0.03
    title = _sentence(rng, 6, 12)
    if topical:
        title = rng.choice(_TOPIC_SENTENCES).rstrip(".")
    paragraphs = [_sentence(rng, 15, 35) for _ in range(rng.randint(1, 3))]
    if topical:
        paragraphs.insert(0, rng.choice(_TOPIC_SENTENCES))
    html = _IMAGE.format(rng.randrange(10**6)) + "".join(f"<p>{p}</p>" for p in paragraphs)
    content = ""
    if spec.format == "rss_content":
        body = [_sentence(rng, 15, 40) for _ in range(rng.randint(4, 10))]
        content = "".join(f"<p>{p} <a href='{link}#{i}'>more</a></p>" for i, p in enumerate(body))
    published = now - timedelta(minutes=37 * serial + rng.randrange(30))
    return _Entry(f"{link}?id={serial}", link, title, html, content, published)


def _vocabulary() -> tuple[list[str], list[float]]:
    """Common news words, then made-up names and rare words, with Zipf-like weights."""
    rng = random.Random(11)
    rare = {"".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))) for _ in range(_RARE_WORDS)}
    words = list(_NEWS_WORDS) + sorted(rare)
    return words, list(itertools.accumulate(1 / (rank + 10) for rank in range(len(words))))


_WORDS, _CUMULATIVE_WEIGHTS = _vocabulary()


def news_words(rng: random.Random, count: int) -> str:
    """``count`` words of the feeds' news vocabulary, as their items draw them."""
    return " ".join(rng.choices(_WORDS, cum_weights=_CUMULATIVE_WEIGHTS, k=count))


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(_WORDS, cum_weights=_CUMULATIVE_WEIGHTS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def _write(path: Path, spec: FeedSpec, entries: list[_Entry], now: datetime) -> None:
    text = _atom(spec, entries, now) if spec.format == "atom" else _rss(spec, entries, now)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    stamp = now.timestamp()
    os.utime(path, (stamp, stamp))


def _rss(spec: FeedSpec, entries: list[_Entry], now: datetime) -> str:
    items = "".join(_rss_item(entry) for entry in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>Outlet {spec.number} - Top stories</title>\n"
        f"<link>https://outlet{spec.number}.example.com/</link>\n"
        "<description>The latest news from our newsroom</description>\n"
        "<language>en-gb</language>\n"
        f"<lastBuildDate>{format_datetime(now)}</lastBuildDate>\n"
        "<ttl>15</ttl>\n"
        f"{items}</channel>\n</rss>\n"
    )


def _rss_item(entry: _Entry) -> str:
    content = ""
    if entry.content:
        content = f"<content:encoded><![CDATA[{entry.content}]]></content:encoded>\n"
    return (
        "<item>\n"
        f"<title>{escape(entry.title)}</title>\n"
        f"<description><![CDATA[{entry.html}]]></description>\n"
        f"<link>{entry.link}</link>\n"
        f'<guid isPermaLink="false">{escape(entry.guid)}</guid>\n'
        f"<pubDate>{format_datetime(entry.published.astimezone(UTC))}</pubDate>\n"
        "<dc:creator>Staff reporter</dc:creator>\n"
        "<category>World</category>\n"
        f"{content}</item>\n"
    )


def _atom(spec: FeedSpec, entries: list[_Entry], now: datetime) -> str:
    items = "".join(_atom_entry(entry) for entry in entries)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        f"<title>Outlet {spec.number}</title>\n"
        f'<link href="https://outlet{spec.number}.example.com/" rel="alternate"/>\n'
        f"<id>https://outlet{spec.number}.example.com/</id>\n"
        f"<updated>{now.isoformat()}</updated>\n"
        f"{items}</feed>\n"
    )


def _atom_entry(entry: _Entry) -> str:
    return (
        "<entry>\n"
        f"<title>{escape(entry.title)}</title>\n"
        f'<link href="{entry.link}" rel="alternate"/>\n'
        f"<id>{escape(entry.guid)}</id>\n"
        f"<published>{entry.published.isoformat()}</published>\n"
        f"<updated>{entry.published.isoformat()}</updated>\n"
        "<author><name>Staff reporter</name></author>\n"
        f'<summary type="html">{escape(entry.html)}</summary>\n'
        f'<content type="html">{escape(entry.html + entry.html)}</content>\n'
        "</entry>\n"
    )
