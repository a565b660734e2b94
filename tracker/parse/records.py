"""What the modules of :mod:`tracker.parse` share: the records a reader hands to the
item builder, the package's tunables in one table, and the one-line message cap.

``Text``, ``RawEntry`` and ``RawFeed`` are a document as read (by feedparser, the
fast path or the JSON Feed reader), before any cleaning; :mod:`.items` turns them
into the :class:`~tracker.models.ParsedFeed` that leaves the package. They never
leave the package themselves.

Must not: hold logic beyond these records, or import any other module of the package
(they all import this one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

OLDEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)  # earlier dates are placeholders, not news
FUTURE_SLACK = timedelta(days=1)  # later than now + this: a wrong clock or a scheduled post
MAX_GUID_CHARS = 1000  # longer guids are hashed into the key
MAX_LANGUAGE_CHARS = 35  # the longest sensible BCP 47 tag
MAX_RAW_DATE_CHARS = 200
RAW_MARKUP_FACTOR = 4  # markup kept before text extraction, in multiples of max_field_chars
UTF8_REPAIR_RATIO = 4  # valid non-ASCII characters needed per bad byte to repair as UTF-8
HTML_SNIFF_CHARS = 2048


# The two records made for every entry are named tuples: they build several times faster
# than frozen dataclasses.
class Text(NamedTuple):
    """A text construct as the feed gave it: markup or plain text."""

    value: str = ""
    is_html: bool = False


class RawEntry(NamedTuple):
    """One entry read from the document, before cleaning."""

    guid: str
    link: str
    title: Text
    summary: Text
    contents: tuple[Text, ...]
    author: str
    language: str
    date: datetime | None  # UTC; None when missing or not a real date
    date_raw: str | None
    source: str = ""  # RSS <source> text, or Bing's News:Source: an aggregator's publisher
    source_url: str = ""  # RSS <source url="...">


@dataclass(frozen=True)
class RawFeed:
    """A document read by feedparser or as JSON Feed, before cleaning."""

    title: Text
    link: str
    language: str
    format: str
    entries: tuple[RawEntry, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limits:
    """The caller's caps on one document."""

    max_items: int
    max_field_chars: int
