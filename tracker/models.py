"""Typed, frozen records passed between tracker's stages.

Nothing here does I/O or imports a third-party library. Each stage takes and
returns these records, so no feedparser dict, httpx response or database row
crosses a module boundary. Times are aware UTC ``datetime`` in memory and
ISO-8601 strings (``2026-01-02T03:04:05+00:00``) in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The ``[settings]`` table of ``config/tracker.toml``; every field has a default."""

    db_path: str = "db/tracker.db"
    interval: float = 900.0  # seconds between polls of a feed, unless the feed says otherwise
    min_interval: float = 60.0  # adaptive polling never goes below this (nor below a feed's own)
    max_interval: float = 86400.0
    concurrency: int = 20  # fetches in flight at once
    per_host: int = 4  # fetches in flight per host
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 30.0  # total time for one fetch, whatever the server does
    max_bytes: int = 15 * MIB  # cap on the decoded body
    max_redirects: int = 5
    max_items_per_poll: int = 1000
    parse_timeout: float = 20.0  # seconds a parse may take before its worker is killed
    user_agent: str = ""  # empty: tracker's own, naming tracker and its URL
    allow_private: bool = True  # loopback/private addresses allowed when configured explicitly
    topics_dir: str = "config/topics"  # relative to the project root, like db_path
    seeds_dir: str = "seeds"


@dataclass(frozen=True)
class FeedConfig:
    """One ``[[feeds]]`` entry of the config."""

    url: str
    name: str = ""
    interval: float | None = None  # seconds; None: the settings' default
    language: str = ""


@dataclass(frozen=True)
class FetchRequest:
    """What the fetcher needs to fetch one feed politely."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    previous_hash: str | None = None  # sha256 hex of the last body parsed


@dataclass(frozen=True)
class FetchResult:
    """What came back for one feed. ``error`` is set when the fetch failed."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None  # sha256 hex of the decoded body
    not_modified: bool = False  # 304, or the body hash equals previous_hash
    permanent_redirect: str | None = None  # target of a 301/308 chain, when all hops were permanent
    retry_after: float | None = None  # seconds, from Retry-After (429/503)
    max_age: float | None = None  # seconds, from Cache-Control max-age / Expires
    elapsed: float = 0.0
    error_kind: str | None = None  # e.g. timeout, http, too_large, gone, connect
    error: str | None = None  # one-line message, at most 1 KB

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ParsedItem:
    """One entry of a feed, reduced to plain text and a stable key."""

    key: str  # stable across polls: guid, else canonical link, else a content hash
    key_kind: str  # "guid", "link" or "hash"
    url: str | None  # canonical URL (no fragment, no utm_*), http(s) only
    link: str | None  # the link as the feed gave it (http(s) only)
    title: str
    summary: str  # plain text
    content: str  # plain text of the fullest content, "" when absent
    author: str
    language: str  # ISO 639-1 code detected from the text (the declared one as a hint), or ""
    published: datetime  # UTC; the first-seen time when missing or absurd
    published_raw: str | None  # the date string as the feed gave it
    date_estimated: bool  # True when ``published`` is the fallback, not the feed's date
    content_hash: str  # sha256 hex over title, summary, content, link
    truncated: bool = False  # a text field was cut to the size cap
    # Items of news aggregators (Google News, Bing News): the outlet that published the
    # article, and its site. Empty for ordinary feeds, whose publisher is the feed.
    publisher: str = ""
    publisher_url: str = ""  # the publisher's site (http(s)), "" when unknown


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed document."""

    title: str
    link: str | None
    language: str
    format: str  # e.g. rss20, atom10, json11
    items: tuple[ParsedItem, ...]
    warnings: tuple[str, ...] = ()  # recoverable problems (bad charset, bad entries skipped)


@dataclass(frozen=True)
class ItemText:
    """The text of one item as the matcher sees it."""

    title: str
    summary: str
    content: str = ""
    language: str = ""


@dataclass(frozen=True)
class TermMatch:
    """One occurrence of a configured term in an item."""

    group: str
    term: str  # as written in the topic file
    matched: str  # the text it matched, as it appears in the item
    field: str  # title, summary or content
    offset: int  # character offset in that field


@dataclass(frozen=True)
class FlagDecision:
    """The matcher's verdict on one item for one topic."""

    topic: str
    relevant: bool  # some group matched: the item belongs to the topic's coverage
    flagged: bool  # the flag rule holds: a follow-up
    score: float
    reasons: str  # human-readable, one line per reason
    rule_version: str  # hash of the topic file
    matches: tuple[TermMatch, ...] = ()
    seed_terms: tuple[str, ...] = ()  # distinctive seed terms the item shares


@dataclass(frozen=True)
class ItemAnalysis:
    """What the worker that parsed an item worked out about it, so that the single
    writer does not have to: its verdicts and its story fingerprint."""

    decisions: tuple[FlagDecision, ...] | None  # None: the writer assesses the item itself
    title_tokens: frozenset[str]
    story_bands: tuple[int, ...]


@dataclass(frozen=True)
class FeedPoll:
    """The outcome of polling one feed, ready to be written in one transaction."""

    feed_url: str
    started_at: datetime
    fetch: FetchResult
    parsed: ParsedFeed | None = None
    error_kind: str | None = None  # fetch or parse error kind
    error: str | None = None
    # Analyses of the new and changed items, by item key (the others are not analysed).
    analyses: Mapping[str, ItemAnalysis] = field(default_factory=dict)
