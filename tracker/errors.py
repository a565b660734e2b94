"""The one exception tree of tracker.

    TrackerError
     ├── ConfigError        a config or topic file is invalid (names file, line, key)
     │    ├── TopicError    a topic file is invalid
     │    └── SeedError     a seed handed to ``seed suggest`` is not an article
     ├── FetchError         a feed could not be fetched (per feed; recorded, never fatal)
     │    └── FeedGone      the server said 410 Gone
     ├── ParseError         a body is not a usable feed (per feed; recorded, never fatal)
     ├── FeedRefused        ``feeds add`` found no usable feed at a URL (or several)
     ├── StoreError         the database cannot be used (fatal for the command)
     ├── ReviewError        a review names no stored item, or is not a review
     └── ServiceLocked      another ``tracker run`` already holds this database

Foreign exceptions (httpx, feedparser, sqlite3, tomllib) are wrapped at the
module boundary that meets them. Messages are short, single-line and safe to
show to users (``one_line`` and ``cap_message`` bound them); ``kind`` is an
``ErrorKind``, a stable machine-readable name stored on feeds and polls.

Pure stdlib: nothing here does I/O.
"""

from __future__ import annotations

from enum import StrEnum

# Characters of an error or warning message kept when it is stored or shown.
MESSAGE_MAX = 1024
_CUT_MARK = "..."


class ErrorKind(StrEnum):
    """Every error kind tracker records; the values are what the database stores."""

    ERROR = "error"
    CONFIG = "config"
    TOPIC = "topic"
    STORE = "store"  # the database could not take a write
    LOCKED = "locked"  # another service holds the database
    # A feed could not be fetched.
    FETCH = "fetch"
    URL = "url"  # not an http(s) URL, or an invalid one
    BLOCKED = "blocked"  # the address guard refused the host
    TIMEOUT = "timeout"
    CONNECT = "connect"  # name resolution or connection failed
    PROTOCOL = "protocol"  # a broken response, body or encoding
    REDIRECTS = "redirects"  # too many, or to a non-http(s) URL
    HTTP = "http"  # an error status other than 410
    GONE = "gone"  # 410 Gone
    TOO_LARGE = "too_large"
    EMPTY = "empty"  # a 2xx with no body, or nothing to parse
    # A body is not a usable feed.
    PARSE = "parse"
    NOT_A_FEED = "not_a_feed"
    ENTITIES = "entities"  # an entity declaration, refused before parsing
    PARSE_TIMEOUT = "parse_timeout"
    PARSE_CRASH = "parse_crash"


def cap_message(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "..." when it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(_CUT_MARK), 0)] + _CUT_MARK[:limit]


def one_line(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` on one line (runs of whitespace become one space), capped at ``limit``."""
    return cap_message(" ".join(text.split()), limit)


class TrackerError(Exception):
    """Base of every error tracker raises on purpose."""

    kind: ErrorKind = ErrorKind.ERROR


class ConfigError(TrackerError):
    """A config file is invalid; the message names file, line and key."""

    kind = ErrorKind.CONFIG

    def __init__(
        self, message: str, *, path: str = "", line: int | None = None, key: str = ""
    ) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = path
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message)


class TopicError(ConfigError):
    """A topic file is invalid."""

    kind = ErrorKind.TOPIC


class SeedError(ConfigError):
    """A seed handed to ``seed suggest`` is empty, binary, too large or not an article."""


class FetchError(TrackerError):
    """A feed could not be fetched; ``kind`` says why (timeout, http, too_large...)."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind = ErrorKind.FETCH,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class FeedGone(FetchError):
    """The server answered 410 Gone: the feed is retired."""


class ParseError(TrackerError):
    """A body is not a usable feed (HTML page, empty body, no entries recognised)."""

    # ``str`` too: a kind crosses from the parse workers as its value.
    def __init__(self, message: str, *, kind: ErrorKind | str = ErrorKind.PARSE) -> None:
        self.kind = ErrorKind(kind)
        super().__init__(message)


class FeedRefused(TrackerError):
    """``feeds add`` will not add this URL: it answered no feed, or a page linking to
    several (``choices``, the feed URLs to pick from)."""

    kind = ErrorKind.FETCH

    def __init__(self, message: str, *, choices: tuple[str, ...] = ()) -> None:
        self.choices = choices
        super().__init__(message)


class StoreError(TrackerError):
    """The database cannot be opened, migrated or written."""

    kind = ErrorKind.STORE


class ReviewError(TrackerError):
    """A review names an item tracker never stored, or gives no valid label or scope."""

    kind = ErrorKind.ERROR


class ServiceLocked(TrackerError):
    """Another service already runs on this database (its lock file is held)."""

    kind = ErrorKind.LOCKED
