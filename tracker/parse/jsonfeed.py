"""JSON Feed 1.0 and 1.1, read with the standard library (feedparser 6 does not know
the format).

Owns ``read_json_feed``: a JSON document's items as :class:`~.records.RawEntry`
records, numbers accepted as ids, dates read as ISO 8601.

Must not: clean text or make keys (:mod:`.items` does), import feedparser, or do I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tracker.errors import ErrorKind, ParseError, one_line
from tracker.parse.items import as_utc, is_epoch_like
from tracker.parse.records import RawEntry, RawFeed, Text


def read_json_feed(text: str) -> RawFeed:
    """Read a JSON Feed 1.0/1.1 document (feedparser 6 does not know the format)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(
            one_line(f"not a feed: invalid JSON ({exc})"), kind=ErrorKind.NOT_A_FEED
        ) from exc
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ParseError(
            "not a feed: JSON without a JSON Feed items list", kind=ErrorKind.NOT_A_FEED
        )
    version = _json_str(document.get("version"))
    entries = tuple(_json_entry(item) for item in items if isinstance(item, dict))
    return RawFeed(
        title=Text(_json_str(document.get("title"))),
        link=_json_str(document.get("home_page_url")),
        language=_json_str(document.get("language")),
        format="json11" if version.endswith("/1.1") else "json10",
        entries=entries,
        warnings=_json_feed_warnings(version, len(items) - len(entries)),
    )


def _json_feed_warnings(version: str, skipped: int) -> tuple[str, ...]:
    found = []
    if not version.startswith("https://jsonfeed.org/version/"):
        found.append("JSON document has no JSON Feed version; read as JSON Feed")
    if skipped:
        found.append(f"skipped {skipped} JSON Feed item(s) that are not objects")
    return tuple(found)


def _json_entry(item: Mapping[str, Any]) -> RawEntry:
    contents = (
        Text(_json_str(item.get("content_html")), is_html=True),
        Text(_json_str(item.get("content_text"))),
    )
    date_raw = _json_str(item.get("date_published")) or _json_str(item.get("date_modified"))
    return RawEntry(
        guid=_json_id(item.get("id")),
        link=_json_str(item.get("url")) or _json_str(item.get("external_url")),
        title=Text(_json_str(item.get("title"))),
        summary=Text(_json_str(item.get("summary"))),
        contents=tuple(c for c in contents if c.value),
        author=_json_author(item),
        language=_json_str(item.get("language")),
        date=_iso_date(date_raw),
        date_raw=date_raw or None,
    )


def _json_str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _json_id(value: Any) -> str:
    # The spec says string, but numbers are common in the wild.
    if isinstance(value, bool):
        return ""
    return str(value) if isinstance(value, int | float) else _json_str(value)


def _json_author(item: Mapping[str, Any]) -> str:
    authors = item.get("authors")
    people = authors if isinstance(authors, list) else [item.get("author")]
    names = [_json_str(p.get("name")) for p in people if isinstance(p, dict)]
    return ", ".join(name for name in names if name)


def _iso_date(raw: str) -> datetime | None:
    if not raw or is_epoch_like(raw):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return as_utc(parsed)
