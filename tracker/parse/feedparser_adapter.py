"""feedparser, behind one door: the only module of tracker that imports it.

Owns ``run_feedparser`` (an in-memory UTF-8 document in, feedparser's result out,
its own failures wrapped in ``ParseError``) and ``raw_feed``, which reads such a
result into a :class:`~.records.RawFeed`; the fast path (:mod:`.fastpath`) builds
results of the same shape, so ``raw_feed`` reads both. Also hands the fast path the
pieces of feedparser's own rules it applies (its date parser, its HTML guess, its
content types, its URI and cp1252 fixes). Those are private names of feedparser's,
which a release may move: ``tests/test_feedparser_private_names.py`` names any that
the installed feedparser lacks.

Must not: let feedparser touch the network or the file system (it only ever gets a
stream of bytes, never a string, which it would take for a URL or a path), pass a
feedparser dict out of the package, or read the clock.
"""

from __future__ import annotations

import io
import re
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.datetimes import _parse_date
from feedparser.datetimes.rfc822 import timezone_names
from feedparser.mixin import _cp1252, _FeedParserMixin
from feedparser.urls import _urifixer

from tracker.errors import ErrorKind, ParseError, one_line
from tracker.parse.items import is_epoch_like
from tracker.parse.records import HTML_SNIFF_CHARS, RawEntry, RawFeed, Text
from tracker.urls import absolute_url

# feedparser's own rules, applied by the fast path so that its results are feedparser's.
# Private names all (a timezone table in a submodule included): a feedparser release may
# move them, and tests/test_feedparser_private_names.py then names the one that moved.
fp_parse_date: Callable[[str], time.struct_time | None] = _parse_date  # a dozen formats
FP_RFC822_ZONES: Mapping[str, int] = timezone_names  # zone name -> hours east of UTC
FP_CP1252: Mapping[int, str] = _cp1252  # C1 control code -> the cp1252 character
FP_URI_FIXER: re.Pattern[str] = _urifixer  # scheme://///path -> scheme://path
fp_looks_like_html: Callable[[str], object] = _FeedParserMixin.looks_like_html
fp_map_content_type: Callable[[str], str] = _FeedParserMixin.map_content_type

# Bing News's <News:Source>, as feedparser names an element of a namespace it does not
# know: by the prefix the document gives it.
BING_SOURCE = "news_source"
_HTML_PAGE = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)


def raw_feed(result: Any, text: str, illegal_chars: int) -> RawFeed:
    """The feed in feedparser's ``result`` (or the fast path's), read from ``text``
    after ``illegal_chars`` characters XML does not allow were removed."""
    entries = tuple(_fp_entry(entry) for entry in _get_list(result, "entries"))
    version = str(_get(result, "version") or "")
    problem = _bozo_message(result)
    if not entries and not version:
        raise ParseError(_not_a_feed_message(text, problem), kind=ErrorKind.NOT_A_FEED)
    feed = _get_dict(result, "feed")
    return RawFeed(
        title=_fp_text(feed, "title"),
        link=_get_str(feed, "link"),
        language=_get_str(feed, "language"),
        format=version or "unknown",
        entries=entries,
        warnings=_xml_warnings(illegal_chars, problem),
    )


def _xml_warnings(illegal_chars: int, problem: str) -> tuple[str, ...]:
    found = []
    if illegal_chars:
        found.append(f"removed {illegal_chars} characters not allowed in XML")
    if problem:
        found.append(f"not well-formed, read leniently: {problem}")
    return tuple(found)


def run_feedparser(data: bytes) -> Any:
    # A stream, never bytes or str: feedparser.parse() opens a str or bytes that names
    # a file or URL. Of the response headers only the charset matters to feedparser, and
    # it is settled already: the body is UTF-8 now. Content-Location is left out on
    # purpose, as feedparser would resolve relative guids against it and change item keys;
    # Content-Language is applied in build_feed. feedparser warns about its own
    # deprecated APIs, which are no concern of tracker's users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return feedparser.parse(
                io.BytesIO(data),
                response_headers={"content-type": "application/xml; charset=utf-8"},
                sanitize_html=False,
                resolve_relative_uris=False,
            )
        except Exception as exc:  # feedparser's own bugs must not escape as foreign errors
            raise ParseError(one_line(f"feedparser failed: {exc!r}"), kind=ErrorKind.PARSE) from exc


def _bozo_message(result: Any) -> str:
    if not _get(result, "bozo"):
        return ""
    return one_line(str(_get(result, "bozo_exception") or "malformed document"))


def _not_a_feed_message(text: str, problem: str) -> str:
    if _HTML_PAGE.search(text[:HTML_SNIFF_CHARS]):
        return "got an HTML page, not a feed"
    detail = f" ({problem})" if problem else ""
    return one_line(f"not a feed: no RSS, Atom or JSON Feed found{detail}")


def _fp_entry(entry: Any) -> RawEntry:
    guid = _get_str(entry, "id")
    link = _get_str(entry, "link")
    if _get(entry, "guidislink") and link == guid and absolute_url(link) is None:
        link = ""  # feedparser copied a non-URL guid into link
    date, date_raw = _fp_date(entry)
    summary = _fp_text(entry, "summary") if _get(entry, "summary_detail") else Text()
    source = _get_dict(entry, "source")
    return RawEntry(
        guid=guid,
        link=link,
        title=_fp_text(entry, "title"),
        summary=summary,
        contents=tuple(_fp_detail_text(c) for c in _get_list(entry, "content")),
        author=_fp_author(entry),
        language=_fp_language(entry),
        date=date,
        date_raw=date_raw,
        source=_get_str(source, "title") or _get_str(entry, BING_SOURCE),
        source_url=_get_str(source, "href"),
    )


def _fp_text(parent: Any, key: str) -> Text:
    detail = _get(parent, f"{key}_detail")
    if isinstance(detail, dict):
        return _fp_detail_text(detail)
    return Text(_get_str(parent, key), is_html=False)


def _fp_detail_text(detail: Any) -> Text:
    content_type = _get_str(detail, "type").lower()
    return Text(_get_str(detail, "value"), is_html="html" in content_type)


def _fp_author(entry: Any) -> str:
    return _get_str(entry, "author") or _get_str(_get_dict(entry, "author_detail"), "name")


def _fp_language(entry: Any) -> str:
    details = [_get(entry, "title_detail"), _get(entry, "summary_detail")]
    details.extend(_get_list(entry, "content"))
    languages = [_get_str(entry, "language")] + [_get_str(d, "language") for d in details]
    return next((lang for lang in languages if lang), "")


def _fp_date(entry: Any) -> tuple[datetime | None, str | None]:
    """The entry's date (feedparser's struct_time is UTC) and the string it came from."""
    raws = [_get_str(entry, key) for key in ("published", "updated", "created")]
    first_raw = next((raw for raw in raws if raw), None)
    for key, raw in zip(("published", "updated", "created"), raws, strict=True):
        parsed = _get(entry, f"{key}_parsed")
        if parsed and not is_epoch_like(raw):
            return _struct_time_to_utc(parsed), raw or first_raw
    return None, first_raw


def _struct_time_to_utc(parsed: Any) -> datetime | None:
    if isinstance(parsed, datetime):  # read by the fast path, in UTC already
        return parsed
    try:
        year, month, day, hour, minute, second = tuple(parsed)[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _get(mapping: Any, key: str) -> Any:
    # dict.get, not FeedParserDict.get: its key aliases emit DeprecationWarnings.
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _get_str(mapping: Any, key: str) -> str:
    value = _get(mapping, key)
    return value.strip() if isinstance(value, str) else ""


def _get_dict(mapping: Any, key: str) -> dict[str, Any]:
    value = _get(mapping, key)
    return value if isinstance(value, dict) else {}


def _get_list(mapping: Any, key: str) -> list[Any]:
    value = _get(mapping, key)
    return value if isinstance(value, list) else []
