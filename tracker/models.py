"""Typed, frozen records passed between tracker's stages, and the roles that pass them.

Owns every record that crosses a module boundary (a fetch result, a parsed feed, a
verdict, a feed's state, a poll's snapshot and write, its summary), the one name of
each role (``Assessor``, ``FeedFetcher``, ``PollStore``, ``PollPlan``) and the
timestamp format (``iso``). Each stage takes and returns these records, so no
feedparser dict, httpx response or database row crosses a module boundary. Times are
aware UTC ``datetime`` in memory and ISO-8601 strings (``2026-01-02T03:04:05+00:00``)
in the database.

Must not: do I/O, decide anything or import a third-party library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import NamedTuple, Protocol

from tracker.errors import ErrorKind

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
    user_agent: str = ""  # empty: tracker's own, naming tracker and the contact
    contact: str = ""  # the operator's URL or e-mail address, sent in the User-Agent
    allow_private: bool = True  # loopback/private addresses allowed when configured explicitly
    topics_dir: str = ""  # empty: the topics shipped with tracker; else relative, like db_path
    seeds_dir: str = ""  # empty: the seed articles shipped with tracker
    # A running service holds back a topic edit that would flag more than this share of
    # the items first seen in the last ``topic_guard_window`` (and more than
    # ``topic_guard_min`` items), until ``tracker rescore --confirm``.
    topic_guard_share: float = 0.05
    topic_guard_min: int = 10
    topic_guard_window: float = 7 * 86400.0
    gone_after: float = 30 * 86400.0  # failing this long, a feed stops being polled
    browse_url: str = ""  # where browse is reached (https://desk.example.org): alerts link to it
    browse_token: str = ""  # lets analysts log in to the desk when browse listens beyond loopback
    # Article text (``articles``): for items relevant to a topic whose feed text has
    # fewer than ``article_min_words`` words, the article page is fetched once, after
    # the poll cycle, at most ``article_per_cycle`` pages a cycle, ``article_delay``
    # apart on one host, each at most ``article_max_bytes``.
    article_text: bool = False
    article_min_words: int = 40
    article_per_cycle: int = 10
    article_delay: float = 2.0
    article_max_bytes: int = 2 * MIB


@dataclass(frozen=True)
class Retention:
    """The ``[retention]`` table: how long history is kept; None keeps it for ever."""

    polls: float | None = 90 * 86400.0  # seconds a ``polls`` row is kept (then summarised)
    items: float | None = None  # seconds an item nobody needs is kept; opt-in


@dataclass(frozen=True)
class DevelopmentConfig:
    """The ``[developments]`` table: when a development's spread is a surge alert."""

    surge_outlets: int = 3  # new outlets within ``surge_window`` that make a surge; 0: never
    surge_window: float = 86400.0  # seconds
    surge_languages: bool = True  # a development's first report in a new language


@dataclass(frozen=True)
class FeedConfig:
    """One ``[[feeds]]`` entry of the config."""

    url: str
    name: str = ""
    interval: float | None = None  # seconds; None: the settings' default
    language: str = ""
    folder: str = ""  # a folder to file it in, as feed readers' OPML outlines do
    article_text: bool = True  # False: never fetch its items' article pages


@dataclass(frozen=True)
class AlertSink:
    """One ``[[alerts]]`` entry: where new flags are sent.

    The keys every sink type shares are fields here; the keys of its own type (a URL,
    an SMTP server...) are in ``settings``, the record that type registered in
    ``tracker.sinks.registry`` (``WebhookSettings``, ``EmailSettings``...)."""

    type: str
    settings: object
    name: str = ""
    digest: float | None = None  # seconds between digests; None: one message per story
    topics: tuple[str, ...] = ()  # empty: every topic
    timeout: float = 10.0  # seconds for one delivery attempt
    retries: int = 3  # attempts per message
    updates: bool = False  # also alert on updates of developments already alerted
    surges: bool = False  # also alert when a development spreads (``tracker.surges``)


@dataclass(frozen=True)
class FetchRequest:
    """What the fetcher needs to fetch one feed politely."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    previous_hash: str | None = None  # sha256 hex of the last body parsed
    # The user configured this URL (a feed): a private address is allowed at its first
    # hop when ``allow_private`` is on. False for URLs taken from feeds (article pages).
    configured: bool = True


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
    error_kind: ErrorKind | None = None  # e.g. timeout, http, too_large, gone, connect
    error: str | None = None  # one-line message, at most errors.MESSAGE_MAX characters

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class FeedCheck:
    """One feed as ``tracker feeds check`` found it: fetched and parsed once, not stored."""

    url: str  # as configured, credentials redacted
    ok: bool  # a usable feed came back (a redirect or a stale feed is still ok)
    status: int | None  # HTTP status of the last response, None when none came
    title: str
    items: int
    newest: datetime | None  # the newest item's own date (estimated dates left out)
    problems: tuple[str, ...]  # "kind: detail", e.g. "gone: ...", "stale: ..."


@dataclass(frozen=True)
class ArticleCandidate:
    """A stored item with short feed text whose article page was never fetched."""

    item_id: int
    url: str
    text: ItemText
    feed_urls: tuple[str, ...]  # the feeds that carried it
    relevant: bool = True  # to a topic, by its feed text; else it may be near a seed


@dataclass(frozen=True)
class ArticleResult:
    """One article page fetched for an item: its main text, or why there is none."""

    item_id: int
    status: str  # "ok", "empty", "robots", or the fetch's error kind
    text: str = ""
    error: str = ""  # one line, "" when status is ok


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
    # The topic's entity alias sets its title or summary names (``[entities.<name>]``
    # names, sorted), whether or not it is relevant: adaptive tracking weighs only these.
    entities: tuple[str, ...] = ()


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


Assessor = Callable[[ItemText], Sequence[FlagDecision]]
"""The matcher's role as the poll and the parser workers see it: an item's text in,
one verdict per topic out."""


@dataclass(frozen=True)
class FeedState:
    """A feed as the scheduler and the poll cycle see it."""

    id: int
    url: str
    name: str
    title: str
    configured: bool
    interval: float | None
    poll_interval: float | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    first_polled_at: str | None
    last_polled_at: str | None
    last_success_at: str | None
    last_status: int | None
    last_error: str | None
    last_error_kind: str | None
    failing_since: str | None
    consecutive_failures: int
    next_poll_at: str | None
    gone: bool
    redirect_to: str | None
    redirect_seen: int
    previous_url: str | None = None  # the URL it had before a confirmed permanent redirect
    language: str = ""  # as configured: the hint for detecting its items' languages

    @property
    def display_name(self) -> str:
        return self.name or self.title or self.url


AlertKey = tuple[str, str, int]  # (topic, "development", "surge" or "story", its id)


@dataclass(frozen=True)
class NewFlag:
    """A flag written by a poll or a rescore, for alerts and reports."""

    item_id: int
    story_id: int
    topic: str
    title: str
    url: str | None
    feed: str  # the outlet: the item's publisher (aggregator items), else the feed's name
    score: float
    reasons: str
    backlog: bool
    summary: str = ""  # the item's summary (plain text)
    published: str = ""  # the item's publication time, ISO-8601 UTC
    development_id: int | None = None  # None: not placed in a development yet
    development_role: str | None = None  # new, update or repeat

    @property
    def alert_key(self) -> AlertKey:
        """What one alert covers: the flag's development, or its story before it has one."""
        if self.development_id is not None:
            return (self.topic, "development", self.development_id)
        return (self.topic, "story", self.story_id)


@dataclass(frozen=True)
class PollSummary:
    """What one feed's poll did, for the CLI, the logs and alerts."""

    feed_url: str
    feed_name: str
    outcome: str  # new, unchanged, not_modified, error
    status: int | None
    items_seen: int
    new_items: int
    updated_items: int
    new_flags: tuple[NewFlag, ...]
    duration_ms: int
    error_kind: str | None = None
    error: str | None = None
    moved_to: str | None = None
    stopped: bool = False  # gone (410, or failing for ``gone_after``): no longer polled


@dataclass(frozen=True)
class RescoreChange:
    """An item that became flagged for a topic, or stopped being, after a rescore."""

    item_id: int
    topic: str
    title: str
    became_flagged: bool


@dataclass(frozen=True)
class TermWarning:
    """A valid topic term that is probably a mistake, and what to write instead."""

    path: str
    line: int | None
    key: str  # e.g. "groups.taliban.terms"
    term: str
    advice: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.key}: term {self.term!r}: {self.advice}"


@dataclass(frozen=True)
class TopicEditCheck:
    """What a topic edit would do to the recent items, and whether that is too much."""

    would_flag: int  # recent items that would become flagged
    would_unflag: int  # recent items that would stop being flagged
    recent_items: int  # items first seen within the guard's window
    limit: int  # the most new flags among them an edit may add unconfirmed
    window_days: float

    @property
    def hold(self) -> bool:
        return self.would_flag > self.limit

    def reason(self) -> str:
        return (
            f"the topic edit would flag {self.would_flag} of the {self.recent_items} items "
            f"of the last {self.window_days:g} days (limit {self.limit}); preview it with "
            "`tracker rescore --dry-run`, apply it with `tracker rescore --confirm`"
        )


# ---- what the store knows before a poll's write, and what the decider says to write ----


@dataclass(frozen=True)
class KnownEntry:
    """An entry of a polled document that its feed already has."""

    item_id: int
    content_hash: str


@dataclass(frozen=True)
class StoredItem:
    """What a changed entry's stored item keeps when its text is updated."""

    story_id: int
    url: str | None


@dataclass(frozen=True)
class FeedSnapshot:
    """What the store held for one feed's polled document just before its write.

    ``version`` is the store's mark of the database state read: the write checks it
    and, when another connection committed since, reads the snapshot again.
    """

    entries: Mapping[str, KnownEntry]  # entry key -> this feed's entry, for the document's keys
    item_ids_by_url: Mapping[str, int]  # stored items for the URLs of the feed's new entries
    changed_items: Mapping[int, StoredItem]  # by item id, the changed entries' items
    flags: frozenset[tuple[int, str]]  # (item id, topic) flags of the changed entries' items
    polled_before: bool  # a poll of the feed got past the fetch once
    next_item_id: int
    story_candidates: Mapping[int, tuple[tuple[int, str], ...]]  # band -> (story id, title)
    redirect_taken: bool = False  # the permanent redirect's target is another feed's URL
    version: int = 0


class MatchRow(NamedTuple):
    item_id: int
    topic: str
    group: str
    term: str
    matched: str
    field: str
    offset: int


class EntityRow(NamedTuple):
    item_id: int
    topic: str
    entity: str  # the alias set's name


class AssessmentRow(NamedTuple):
    item_id: int
    topic: str
    relevant: int
    flagged: int
    score: float
    rule_version: str
    assessed_at: str


class FlagRow(NamedTuple):
    item_id: int
    topic: str
    score: float
    reasons: str
    seed_terms: str
    rule_version: str
    flagged_at: str
    backlog: int


@dataclass(frozen=True)
class VerdictWrite:
    """Verdict rows to write, as (item, topic) pairs and rows. The store deletes what
    the ``forget_*`` pairs name before it writes the rows."""

    forget_matches: tuple[tuple[int, str], ...] = ()  # verdict replaced: its old matches go
    forget_verdicts: tuple[tuple[int, str], ...] = ()  # no longer relevant: assessment, flag go
    forget_flags: tuple[tuple[int, str], ...] = ()  # relevant, no longer flagged: the flag goes
    matches: tuple[MatchRow, ...] = ()
    assessments: tuple[AssessmentRow, ...] = ()
    flags: tuple[FlagRow, ...] = ()  # inserted, or updated keeping flagged_at and backlog
    new_flags: tuple[tuple[int, str], ...] = ()  # (item id, topic) of flags that are new
    entities: tuple[EntityRow, ...] = ()  # replaced along with the matches


class Keep(Enum):
    """A feed column the write leaves as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class FeedColumns:
    """The ``feeds`` columns a poll sets; ``KEEP`` leaves a column alone."""

    last_polled_at: str | Keep = KEEP
    first_polled_at: str | Keep = KEEP
    last_status: int | Keep | None = KEEP
    next_poll_at: str | Keep = KEEP
    poll_interval_seconds: float | Keep = KEEP
    last_success_at: str | Keep = KEEP
    last_error: str | Keep | None = KEEP
    last_error_kind: str | Keep | None = KEEP
    last_error_at: str | Keep = KEEP
    failing_since: str | Keep | None = KEEP
    consecutive_failures: int | Keep = KEEP
    gone: int | Keep = KEEP
    title: str | Keep = KEEP
    site_url: str | Keep | None = KEEP
    last_warning: str | Keep | None = KEEP
    language: str | Keep = KEEP
    last_new_item_at: str | Keep = KEEP
    etag: str | Keep | None = KEEP
    last_modified: str | Keep | None = KEEP
    content_hash: str | Keep | None = KEEP
    redirect_to: str | Keep | None = KEEP
    redirect_seen: int | Keep = KEEP
    url: str | Keep = KEEP
    previous_url: str | Keep = KEEP


@dataclass(frozen=True)
class ItemUpdate:
    """A stored item whose entry changed: its new text."""

    item_id: int
    item: ParsedItem


@dataclass(frozen=True)
class NewItem:
    """An item to insert, with its id, its story and its story bands."""

    item_id: int
    item: ParsedItem
    story_id: int
    bands: tuple[int, ...]


@dataclass(frozen=True)
class ItemLink:
    """A feed entry carried by a stored (or just inserted) item."""

    key: str
    item_id: int
    content_hash: str
    # An aggregator entry's publisher, for a stored item of the same URL that has none
    # (the same article from the publisher's own feed): "" when there is none to give.
    publisher: str = ""
    publisher_url: str = ""


class PollRow(NamedTuple):
    feed_id: int
    started_at: str
    duration_ms: int
    status: int | None
    outcome: str
    bytes: int
    items_seen: int
    new_items: int
    updated_items: int
    new_flags: int
    error_kind: str | None
    error: str | None
    warnings: str | None


@dataclass(frozen=True)
class PollWrite:
    """Everything one feed's poll writes, in one transaction, decided beforehand."""

    feed_id: int
    now: str  # the write's time, as stored
    touched: tuple[str, ...]  # keys of unchanged entries: seen again now
    updated: tuple[ItemUpdate, ...]
    inserted: tuple[NewItem, ...]
    links: tuple[ItemLink, ...]
    verdicts: VerdictWrite
    feed: FeedColumns
    poll: PollRow
    summary: PollSummary


PollPlan = Callable[[FeedSnapshot, "str | None"], PollWrite]
"""What to write for a snapshot; with a message, the poll whose write the database
refused (recorded as a failed poll)."""


REVIEW_LABELS = ("right", "wrong", "important")  # what an analyst says of a flag
REVIEW_SCOPES = ("flag", "story", "development")  # an item, its story's copies, its development


@dataclass(frozen=True)
class Review:
    """An analyst's review of a flag (or of its story or development), as the desk or the CLI
    gives it: ``label`` is one of ``REVIEW_LABELS``; an empty ``topic`` is every topic."""

    item_id: int
    label: str
    scope: str = "flag"
    topic: str = ""
    note: str = ""
    reviewer: str = ""
    source: str = ""


@dataclass(frozen=True)
class ReviewedItem:
    """A reviewed item with its latest label for one topic (``''``: every topic)."""

    url: str
    topic: str
    label: str
    note: str
    reviewed_at: str
    text: ItemText
    published: str


def iso(moment: datetime) -> str:
    """A time as the database stores it."""
    return moment.isoformat(timespec="seconds")


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class FeedFetcher(Protocol):
    """What the poll cycle fetches feeds with, opened for one cycle (``async with``)."""

    async def __aenter__(self) -> FeedFetcher: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def fetch(self, request: FetchRequest) -> FetchResult: ...


class PollStore(Protocol):
    """What the poll cycle needs of the store (``tracker.store.Store``)."""

    @property
    def index_due(self) -> bool: ...

    def last_document_entries(self, feed_id: int) -> dict[str, str]: ...

    def record_poll(
        self,
        state: FeedState,
        poll: FeedPoll,
        plan: PollPlan,
        now: datetime,
        *,
        index_when_due: bool = True,
    ) -> PollSummary: ...

    def index_aside(self) -> int: ...

    def end_cycle(self) -> int: ...


@dataclass(frozen=True)
class BackupReport:
    """A backup written and checked: where, its size in bytes and what it holds."""

    target: str
    size: int
    feeds: int
    items: int
    flags: int
