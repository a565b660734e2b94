"""The one exception tree of tracker.

    TrackerError
     ├── ConfigError        a config or topic file is invalid (names file, line, key)
     │    └── TopicError    a topic file is invalid
     ├── FetchError         a feed could not be fetched (per feed; recorded, never fatal)
     │    └── FeedGone      the server said 410 Gone
     ├── ParseError         a body is not a usable feed (per feed; recorded, never fatal)
     ├── StoreError         the database cannot be used (fatal for the command)
     └── ServiceLocked      another ``tracker run`` already holds this database

Foreign exceptions (httpx, feedparser, sqlite3, tomllib) are wrapped at the
module boundary that meets them. Messages are short, single-line and safe to
show to users; ``kind`` is a stable machine-readable name stored on feeds.
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error tracker raises on purpose."""

    kind = "error"


class ConfigError(TrackerError):
    """A config file is invalid; the message names file, line and key."""

    kind = "config"

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

    kind = "topic"


class FetchError(TrackerError):
    """A feed could not be fetched; ``kind`` says why (timeout, http, too_large...)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "fetch",
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

    def __init__(self, message: str, *, kind: str = "parse") -> None:
        self.kind = kind
        super().__init__(message)


class StoreError(TrackerError):
    """The database cannot be opened, migrated or written."""

    kind = "store"


class ServiceLocked(TrackerError):
    """Another service already runs on this database (its lock file is held)."""

    kind = "locked"
