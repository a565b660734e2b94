"""Feed parsing: response bytes in, a ``ParsedFeed`` of plain-text items out.

Owns ``parse_feed`` and everything between a fetched body and the typed
records: charset decoding, refusing entity-expansion documents, RSS/Atom/RDF
through feedparser (the only module importing it), JSON Feed through the
stdlib, and reducing each entry to plain text, a stable key and a UTC date.

It must not do I/O: feedparser only ever gets an in-memory stream of UTF-8
bytes (never a string, which it would treat as a URL or a file path), and
nothing here reads the clock (``now`` is passed in). The caller runs it in a
killable worker process, so it needs no timeout of its own.

Pipeline: decode the bytes to text (trusting valid UTF-8 over a wrong
declaration, repairing a few bad bytes) -> read entries (JSON Feed or
feedparser) into ``_RawEntry`` records -> build ``ParsedItem`` records.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import html
import io
import json
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, NamedTuple

import feedparser
from feedparser.datetimes import _parse_date as _fp_parse_date
from feedparser.datetimes.rfc822 import timezone_names as _FP_RFC822_ZONES
from feedparser.mixin import _cp1252 as _fp_cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urifixer as _fp_urifixer

from tracker import fastxml
from tracker.errors import ParseError
from tracker.models import ParsedFeed, ParsedItem
from tracker.urls import absolute_url, canonical_url

OLDEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)  # earlier dates are placeholders, not news
FUTURE_SLACK = timedelta(days=1)  # later than now + this: a wrong clock or a scheduled post
MAX_MESSAGE_CHARS = 500  # error and warning messages stay well under 1 KB
MAX_GUID_CHARS = 1000  # longer guids are hashed into the key
MAX_LANGUAGE_CHARS = 35  # the longest sensible BCP 47 tag
MAX_RAW_DATE_CHARS = 200
RAW_MARKUP_FACTOR = 4  # markup kept before text extraction, in multiples of max_field_chars
UTF8_REPAIR_RATIO = 4  # valid non-ASCII characters needed per bad byte to repair as UTF-8
HTML_SNIFF_CHARS = 2048

# Tags whose text is not content, and tags that end a paragraph or line.
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol p pre section table td th tr ul".split()
)

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # \t \n \v \f \r are spaces
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])  # the same, in ASCII
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_NUMBER = re.compile(r"\s*[+-]?(\d+)(\.\d+)?\s*")
_XML_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The same characters in UTF-8: the C0 controls are single bytes (never part of a
# multi-byte sequence), U+FFFE and U+FFFF three bytes each.
_XML_ILLEGAL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_XML_ILLEGAL_NONCHARACTERS = ("\ufffe".encode(), "\uffff".encode())
_LEFTOVER_TAG = re.compile(
    r"</?(?:a|b|i|em|strong|p|br|div|span|img|ul|ol|li|h[1-6]|table|tr|td|blockquote|figure)"
    r"\b[^<>]{0,500}>",
    re.IGNORECASE,
)
# A start or end tag in its plainest form: a name of letters and digits, then attributes,
# each a name with a quoted value or none. Every Python version's HTMLParser reads such
# a tag the same way, as it does the text between tags (character references resolved).
_TAG_SPACE = "[ \t\n\r\f]"
_SIMPLE_TAG = re.compile(
    rf"<(?:/([A-Za-z][A-Za-z0-9]*){_TAG_SPACE}*"
    rf"|([A-Za-z][A-Za-z0-9]*)"
    rf"(?:{_TAG_SPACE}+[A-Za-z_:][-A-Za-z0-9_:.]*"
    rf"(?:{_TAG_SPACE}*={_TAG_SPACE}*(?:\"[^\"]*\"|'[^']*'))?)*"
    rf"{_TAG_SPACE}*(/?))>"
)
# Tags left to HTMLParser: skipped content, and content some Python version's
# HTMLParser reads as raw text.
_UNSURE_TAGS = _SKIPPED_TAGS | frozenset(
    "script style title textarea xmp iframe noembed noframes noscript plaintext".split()
)
_LINE_BREAK_TAGS = dict.fromkeys(_BLOCK_TAGS, "\n")
_HTML_PAGE = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)

_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_EBCDIC_XML_DECL = b"\x4c\x6f\xa7\x94"  # "<?xm" in cp037
# Which of the first four bytes are zero, for "<?" or "{" in UTF-16/32 without a BOM.
_ZERO_BYTE_PATTERNS = {
    (False, True, False, True): "utf-16-le",
    (True, False, True, False): "utf-16-be",
    (False, True, True, True): "utf-32-le",
    (True, True, True, False): "utf-32-be",
}
# Declared names that really mean another codec (what browsers do too).
_CODEC_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
}
_FALLBACK_CODEC = "windows-1252"


# The two records made for every entry are named tuples: they build several times faster
# than frozen dataclasses.
class _Text(NamedTuple):
    """A text construct as the feed gave it: markup or plain text."""

    value: str = ""
    is_html: bool = False


class _RawEntry(NamedTuple):
    """One entry read from the document, before cleaning."""

    guid: str
    link: str
    title: _Text
    summary: _Text
    contents: tuple[_Text, ...]
    author: str
    language: str
    date: datetime | None  # UTC; None when missing or not a real date
    date_raw: str | None


@dataclass(frozen=True)
class _RawFeed:
    """A document read by feedparser or as JSON Feed, before cleaning."""

    title: _Text
    link: str
    language: str
    format: str
    entries: tuple[_RawEntry, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Limits:
    """The caller's caps on one document."""

    max_items: int
    max_field_chars: int


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    now: datetime,
    *,
    max_items: int = 1000,
    max_field_chars: int = 200_000,
    fast: bool = True,
) -> ParsedFeed:
    """Parse one fetched feed document; raise ``ParseError`` if it is not a usable feed.

    With ``fast``, plain RSS 2.0 and Atom 1.0 documents are read with lxml and
    feedparser's rules (the same items, several times faster); feedparser reads the rest.
    """
    headers = {name.lower(): value for name, value in headers.items()}
    text, decode_warnings = _decode(body, headers.get("content-type", ""))
    if not text.replace("\x00", "").strip():
        raise ParseError("empty body: no feed to parse", kind="empty")
    raw = _read_json_feed(text) if _looks_like_json(text) else _read_xml_feed(text, fast=fast)
    limits = _Limits(max(0, max_items), max(1, max_field_chars))
    header_language = headers.get("content-language", "").split(",")[0]
    return _build_feed(raw, url, _as_utc(now), header_language, limits, decode_warnings)


# --- decoding --------------------------------------------------------------------------


def _decode(body: bytes, content_type: str) -> tuple[str, tuple[str, ...]]:
    """The body as text, and warnings about how its charset was settled."""
    sniffed = _sniff_codec(body)
    if sniffed is not None:
        return _decode_as(body, sniffed)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_non_utf8(body, content_type)
    declared = _declared_codecs(body, content_type)
    if declared and not declared[0].startswith("utf-8") and not body.isascii():
        return text, (f"body is valid UTF-8 although declared as {declared[0]}; read as UTF-8",)
    return text, ()


def _sniff_codec(body: bytes) -> str | None:
    """The codec a BOM or the byte pattern of the first characters gives away."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec
    if body.startswith(_EBCDIC_XML_DECL):
        return "cp037"
    if len(body) < 4:
        return None
    return _ZERO_BYTE_PATTERNS.get((body[0] == 0, body[1] == 0, body[2] == 0, body[3] == 0))


def _decode_as(body: bytes, codec: str) -> tuple[str, tuple[str, ...]]:
    try:
        return body.decode(codec).lstrip("\ufeff"), ()
    except UnicodeDecodeError:
        text = body.decode(codec, errors="replace").lstrip("\ufeff")
        return text, (f"body is not valid {codec}; undecodable bytes replaced",)


def _decode_non_utf8(body: bytes, content_type: str) -> tuple[str, tuple[str, ...]]:
    """Decode a body that is not valid UTF-8: mostly-UTF-8, else its declared charset."""
    repaired = _repair_utf8(body)
    if repaired is not None:
        return repaired
    declared = _declared_codecs(body, content_type)
    legacy = [codec for codec in declared if not _is_unicode(codec)]
    for codec in legacy:
        try:
            return body.decode(codec), ()
        except UnicodeDecodeError:
            continue
    if legacy:
        return _decode_as(body, legacy[0])
    text, found = _decode_as(body, _FALLBACK_CODEC)
    if declared:
        found = (f"body is not {declared[0]} as declared; read as {_FALLBACK_CODEC}", *found)
    return text, found


def _repair_utf8(body: bytes) -> tuple[str, tuple[str, ...]] | None:
    """UTF-8 text with a few bad bytes replaced, or None when it is not mostly UTF-8.

    Legacy single-byte text is almost never valid UTF-8, so when valid multi-byte
    characters far outnumber the bad bytes, the bad bytes are damage, not a charset.
    """
    repaired = body.decode("utf-8", errors="replace")
    bad = repaired.count("\ufffd") - body.count("\ufffd".encode())
    valid = len(repaired) - len(repaired.encode("ascii", "ignore")) - repaired.count("\ufffd")
    if valid < UTF8_REPAIR_RATIO * bad:
        return None
    return repaired, (f"replaced {bad} invalid UTF-8 byte sequence(s)",)


def _declared_codecs(body: bytes, content_type: str) -> list[str]:
    """Python codec names declared by the Content-Type header, then the XML declaration."""
    names = []
    if header_match := _CHARSET_PARAM.search(content_type):
        names.append(header_match.group(1))
    if xml_match := _XML_ENCODING.match(body[:1024]):
        names.append(xml_match.group(1).decode("ascii"))
    codecs_found = (_python_codec(name) for name in names)
    return [codec for codec in codecs_found if codec is not None]


def _python_codec(name: str) -> str | None:
    name = _CODEC_ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _is_unicode(codec: str) -> bool:
    return codec.startswith("utf")


def _looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] == "{"


# --- reading: XML through feedparser --------------------------------------------------------


def _read_xml_feed(text: str, *, fast: bool) -> _RawFeed:
    _refuse_entity_declarations(text)
    data, illegal = text.encode("utf-8"), 0
    if _has_illegal_xml_chars(data):
        text, illegal = _XML_ILLEGAL_CHARS.subn("", text)
        data = text.encode("utf-8")
    result = (_fast_result(data) if fast else None) or _run_feedparser(data)
    entries = tuple(_fp_entry(entry) for entry in _get_list(result, "entries"))
    version = str(_get(result, "version") or "")
    problem = _bozo_message(result)
    if not entries and not version:
        raise ParseError(_not_a_feed_message(text, problem), kind="not_a_feed")
    feed = _get_dict(result, "feed")
    return _RawFeed(
        title=_fp_text(feed, "title"),
        link=_get_str(feed, "link"),
        language=_get_str(feed, "language"),
        format=version or "unknown",
        entries=entries,
        warnings=_xml_warnings(illegal, problem),
    )


def _has_illegal_xml_chars(data: bytes) -> bool:
    # A byte-level check is several times faster than searching the text.
    if len(data.translate(None, _XML_ILLEGAL_BYTES)) != len(data):
        return True
    return any(noncharacter in data for noncharacter in _XML_ILLEGAL_NONCHARACTERS)


def _xml_warnings(illegal_chars: int, problem: str) -> tuple[str, ...]:
    found = []
    if illegal_chars:
        found.append(f"removed {illegal_chars} characters not allowed in XML")
    if problem:
        found.append(f"not well-formed, read leniently: {problem}")
    return tuple(found)


def _refuse_entity_declarations(text: str) -> None:
    """Refuse any document declaring entities: the cheap, sure defence against expansion bombs.

    The whole text is searched, not just the first bytes, so padding the prolog does not
    hide a declaration; a plain substring search takes milliseconds even on 15 MB.
    """
    entity_at = text.find("<!ENTITY")
    if entity_at >= 0 and text.find("<!DOCTYPE", 0, entity_at) >= 0:
        raise ParseError(
            "document declares XML entities in its DOCTYPE; refused (entity expansion risk)",
            kind="entities",
        )


def _run_feedparser(data: bytes) -> Any:
    # A stream, never bytes or str: feedparser.parse() opens a str or bytes that names
    # a file or URL. Of the response headers only the charset matters to feedparser, and
    # it is settled already: the body is UTF-8 now. Content-Location is left out on
    # purpose, as feedparser would resolve relative guids against it and change item keys;
    # Content-Language is applied in _build_feed. feedparser warns about its own
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
            raise ParseError(_one_line(f"feedparser failed: {exc!r}"), kind="parse") from exc


def _bozo_message(result: Any) -> str:
    if not _get(result, "bozo"):
        return ""
    return _one_line(str(_get(result, "bozo_exception") or "malformed document"))


def _not_a_feed_message(text: str, problem: str) -> str:
    if _HTML_PAGE.search(text[:HTML_SNIFF_CHARS]):
        return "got an HTML page, not a feed"
    detail = f" ({problem})" if problem else ""
    return _one_line(f"not a feed: no RSS, Atom or JSON Feed found{detail}")


def _fp_entry(entry: Any) -> _RawEntry:
    guid = _get_str(entry, "id")
    link = _get_str(entry, "link")
    if _get(entry, "guidislink") and link == guid and absolute_url(link) is None:
        link = ""  # feedparser copied a non-URL guid into link
    date, date_raw = _fp_date(entry)
    summary = _fp_text(entry, "summary") if _get(entry, "summary_detail") else _Text()
    return _RawEntry(
        guid=guid,
        link=link,
        title=_fp_text(entry, "title"),
        summary=summary,
        contents=tuple(_fp_detail_text(c) for c in _get_list(entry, "content")),
        author=_fp_author(entry),
        language=_fp_language(entry),
        date=date,
        date_raw=date_raw,
    )


def _fp_text(parent: Any, key: str) -> _Text:
    detail = _get(parent, f"{key}_detail")
    if isinstance(detail, dict):
        return _fp_detail_text(detail)
    return _Text(_get_str(parent, key), is_html=False)


def _fp_detail_text(detail: Any) -> _Text:
    content_type = _get_str(detail, "type").lower()
    return _Text(_get_str(detail, "value"), is_html="html" in content_type)


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
        if parsed and not _is_epoch_like(raw):
            return _struct_time_to_utc(parsed), raw or first_raw
    return None, first_raw


def _is_epoch_like(raw: str) -> bool:
    """True for a bare number (a Unix time or junk); YYYYMMDD[hhmmss] are real dates."""
    match = _NUMBER.fullmatch(raw)
    return match is not None and not (match[2] is None and len(match[1]) in (8, 14))


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


# --- reading: the fast path, with feedparser's own rules ---------------------------------
#
# lxml (tracker.fastxml) reads the structure of plain RSS 2.0 and Atom 1.0 documents;
# what follows turns it into the result feedparser would have given for that document,
# applying feedparser's own rules (its text clean-up, date parser, HTML guess, link and
# guid handling) so that _read_xml_feed cannot tell the two apart. Any element or
# attribute whose effect is not modelled here sends the whole document to feedparser.

_FP_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FP_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_FP_AMP_ENTITY = re.compile("&([A-Za-z0-9_]+);")
# The two date forms most feeds use, read without feedparser's chain of date parsers.
# An RFC 822 date starts with a weekday or a one- or two-digit day, which its W3DTF
# parser (first in the chain) always refuses; a W3DTF date has exactly one "T".
_RFC822_DATE = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun), )?(\d{1,2}) "
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) "
    r"([+-]\d{4}|[a-z]{1,5})",
    re.ASCII | re.IGNORECASE,
)
_W3DTF_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:\d{2})?",
    re.ASCII | re.IGNORECASE,
)
_FP_MONTHS = {
    name: number
    for number, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)
}
# Elements read at most once per entry or head (feedparser's order-dependent rules for
# repeats are not modelled); aliases share their slot.
_FP_SLOTS = {
    "dc_creator": "author",
    "dc_language": "language",
    "description": "summary",
}
_FP_ONCE = frozenset(
    "title link summary guid pubdate dc_date content_encoded author language id updated "
    "published content".split()
)
_RSS_ENTRY_STORED = frozenset(
    "category comments enclosure source dc_subject media_thumbnail media_content "
    "slash_comments wfw_commentrss wfw_comment feedburner_origlink".split()
)
_RSS_HEAD_STORED = frozenset(
    "description copyright managingeditor webmaster pubdate lastbuilddate category "
    "generator docs ttl cloud dc_creator dc_date dc_rights dc_publisher sy_updateperiod "
    "sy_updatefrequency sy_updatebase feedburner_info".split()
)
_RSS_IMAGE_PARTS = frozenset({"url", "title", "link", "width", "height", "description"})
_ATOM_STORED = frozenset({"category"})
_ATOM_HEAD_STORED = frozenset(
    {"subtitle", "updated", "generator", "icon", "logo", "rights", "category"}
)
_ATOM_AUTHOR_PARTS = frozenset({"name", "email", "uri"})
_LINK_ATTRIBUTES = frozenset({"href", "rel", "type", "hreflang", "title", "length"})


class _Unsure(Exception):
    """The document has something the fast path does not model: feedparser reads it."""


def _fast_result(data: bytes) -> dict[str, Any] | None:
    """feedparser's result for a plain RSS 2.0 or Atom 1.0 document, or None."""
    document = fastxml.read_document(data)
    if document is None:
        return None
    try:
        if document.format == "rss":
            return _rss_result(document)
        return _atom_result(document)
    except _Unsure:
        return None


def _rss_result(document: fastxml.Document) -> dict[str, Any]:
    if not document.version.startswith("2."):
        raise _Unsure
    feed: dict[str, Any] = {}
    for node in _once_each(document.head):
        _rss_head_node(feed, node)
    entries = []
    for nodes in document.entries:
        entry: dict[str, Any] = {}
        for node in _once_each(nodes):
            _rss_entry_node(entry, node)
        entries.append(entry)
    return {"version": "rss20", "bozo": 0, "feed": feed, "entries": entries}


def _rss_head_node(feed: dict[str, Any], node: fastxml.Node) -> None:
    name = node.name
    if name == "title":
        _fp_title(feed, _leaf(node), None, guess_html=True)
    elif name == "link":
        feed["link"] = _FP_AMP_ENTITY.sub(r"&\g<1>", _fp_pop(_leaf(node).text, uri=True)[0])
    elif name in ("language", "dc_language"):
        feed["language"] = _fp_pop(_leaf(node).text)[0]
    elif name == "image":
        _bare(node)
        for part in node.children:
            if part.name not in _RSS_IMAGE_PARTS:
                raise _Unsure
            _leaf(part)
    elif name == "atom_link":
        _not_alternate(node)
    elif not (name in _RSS_HEAD_STORED or node.extension) or node.children:
        raise _Unsure


def _rss_entry_node(entry: dict[str, Any], node: fastxml.Node) -> None:
    name = node.name
    if name == "title":
        _fp_title(entry, _leaf(node), None, guess_html=True)
    elif name == "description":
        value = _fp_pop(_leaf(node).text)[0]
        entry["summary"] = value
        entry["summary_detail"] = _fp_detail(value, "text/html", None)
    elif name == "content_encoded":
        value = _fp_pop(_leaf(node).text)[0]
        entry.setdefault("content", []).append(_fp_detail(value, "text/html", None))
        entry.setdefault("summary", value)
    elif name == "link":
        value = _fp_pop(_leaf(node).text, uri=True)[0].replace("&amp;", "&")
        entry["link"] = _FP_AMP_ENTITY.sub(r"&\g<1>", value)
    elif name == "guid":
        _fp_guid(entry, node)
    elif name in ("pubdate", "dc_date"):
        _fp_date_node(entry, "published" if name == "pubdate" else "updated", node)
    elif name in ("author", "dc_creator"):
        entry["author"] = _fp_pop(_leaf(node).text)[0]
    elif name == "atom_link":
        _not_alternate(node)
    elif not (name in _RSS_ENTRY_STORED or node.extension) or node.children:
        raise _Unsure


def _atom_result(document: fastxml.Document) -> dict[str, Any]:
    language = document.language.replace("_", "-") if document.language else None
    feed: dict[str, Any] = {"language": language} if language else {}
    for node in _once_each(document.head):
        _atom_node(feed, node, language, _ATOM_HEAD_STORED)
    entries = []
    for nodes in document.entries:
        entry: dict[str, Any] = {}
        for node in _once_each(nodes):
            _atom_node(entry, node, language, _ATOM_STORED)
        entries.append(entry)
    return {"version": "atom10", "bozo": 0, "feed": feed, "entries": entries}


def _atom_node(
    context: dict[str, Any], node: fastxml.Node, language: str | None, stored: frozenset[str]
) -> None:
    name = node.name
    if name == "title":
        _fp_title(context, _leaf(node, "type"), language, guess_html=False)
    elif name in ("summary", "content"):
        leaf = _leaf(node, "type")
        content_type = _fp_text_type(leaf)
        value = _fp_pop(leaf.text)[0]
        if name == "summary":
            context["summary"] = value
            context["summary_detail"] = _fp_detail(value, content_type, language)
        else:
            context.setdefault("content", []).append(_fp_detail(value, content_type, language))
            context.setdefault("summary", value)
    elif name == "link":
        _fp_atom_link(context, node)
    elif name == "id":
        _fp_guid(context, node)
    elif name in ("published", "updated") and name not in stored:
        _fp_date_node(context, name, node)
    elif name == "author":
        _fp_atom_author(context, node)
    elif not (name in stored or node.extension) or node.children:
        raise _Unsure


def _once_each(nodes: Iterable[fastxml.Node]) -> Iterator[fastxml.Node]:
    """The nodes, refusing a second one of the elements whose repeats are not modelled."""
    seen: set[str] = set()
    for node in nodes:
        slot = _FP_SLOTS.get(node.name, node.name)
        if slot in _FP_ONCE:
            if slot in seen:
                raise _Unsure
            seen.add(slot)
        yield node


def _leaf(node: fastxml.Node, *allowed: str) -> fastxml.Node:
    if node.children or set(node.attributes) - set(allowed):
        raise _Unsure
    return node


def _bare(node: fastxml.Node) -> None:
    if node.attributes or node.text.strip():
        raise _Unsure


def _not_alternate(node: fastxml.Node) -> None:
    """An Atom link in RSS that feedparser would not take as the item's or feed's link."""
    leaf = _leaf(node, *_LINK_ATTRIBUTES)
    if "href" not in leaf.attributes or leaf.attributes.get("rel", "").lower() in ("", "alternate"):
        raise _Unsure


def _fp_pop(text: str, *, uri: bool = False, guess_html: bool = False) -> tuple[str, bool]:
    """What feedparser's ``pop`` makes of an element's text, and whether it took plain
    text for HTML: stripped, a URI's slashes fixed, mis-decoded UTF-8 repaired and C1
    controls mapped to their cp1252 characters."""
    output = text.strip()
    if uri and ":///" in output:  # joined with feedparser's empty base: extra slashes go
        output = _fp_urifixer.sub(r"\1\3", output)
    is_html = guess_html and _fp_looks_like_html(output)
    if output.isascii():  # neither the repair nor the cp1252 mapping changes ASCII
        return output, is_html
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    return output.translate(_fp_cp1252), is_html


def _fp_looks_like_html(text: str) -> bool:
    # feedparser wants a close tag or an entity before looking any further.
    return ("<" in text or "&" in text) and bool(_FeedParserMixin.looks_like_html(text))


def _fp_detail(value: str, content_type: str, language: str | None) -> dict[str, Any]:
    return {"type": content_type, "language": language, "base": "", "value": value}


def _fp_title(
    context: dict[str, Any], node: fastxml.Node, language: str | None, *, guess_html: bool
) -> None:
    content_type = _fp_text_type(node)
    value, is_html = _fp_pop(node.text, guess_html=guess_html and content_type == "text/plain")
    context["title"] = value
    context["title_detail"] = _fp_detail(value, "text/html" if is_html else content_type, language)


def _fp_text_type(node: fastxml.Node) -> str:
    declared = node.attributes.get("type", "text/plain")
    content_type = str(_FeedParserMixin.map_content_type(declared))
    if content_type not in _FP_TEXT_TYPES:
        raise _Unsure
    return content_type


def _fp_guid(context: dict[str, Any], node: fastxml.Node) -> None:
    """A guid (or Atom id): feedparser takes a permalink guid as the link when no link
    came before it."""
    leaf = _leaf(node, "ispermalink")
    permalink = leaf.attributes.get("ispermalink", "true") == "true"
    value = _fp_pop(leaf.text, uri=permalink)[0]
    context["id"] = value
    context.setdefault("guidislink", permalink and "link" not in context)
    if permalink:
        context.setdefault("link", value)


def _fp_date_node(context: dict[str, Any], key: str, node: fastxml.Node) -> None:
    value = _fp_pop(_leaf(node).text)[0]
    context[key] = value
    context[f"{key}_parsed"] = _fp_date_parsed(value)


def _fp_date_parsed(value: str) -> datetime | time.struct_time | None:
    """feedparser's reading of a date: its own parser, which tries a dozen formats in
    turn and gives a struct_time, unless the date is in one of the two common forms,
    read directly here into the same moment as a UTC datetime."""
    with contextlib.suppress(ValueError, OverflowError):
        if rfc822 := _RFC822_DATE.fullmatch(value):
            return _fp_rfc822_date(*rfc822.groups())
        if w3dtf := _W3DTF_DATE.fullmatch(value):
            return _fp_w3dtf_date(*w3dtf.groups())
    parsed: time.struct_time | None = _fp_parse_date(value)
    return parsed


def _fp_rfc822_date(
    day: str, month: str, year: str, hour: str, minute: str, second: str, zone: str
) -> datetime:
    """What feedparser's RFC 822 parser makes of a date its W3DTF parser (tried first)
    cannot read: as its unknown zone names, an unknown name counts as UTC."""
    zone = zone.lower()
    if zone.startswith("gmt"):
        raise ValueError(zone)  # rare forms such as GMT+2: feedparser reads them
    if zone[0] in "+-":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:]) * 60)
    else:
        offset = _FP_RFC822_ZONES.get(zone, 0) * 3600
    month_number = _FP_MONTHS[month.lower()]
    stamp = datetime(
        int(year), month_number, int(day), int(hour), int(minute), int(second), tzinfo=UTC
    )
    return stamp - timedelta(0, offset)


def _fp_w3dtf_date(
    year: str, month: str, day: str, hour: str, minute: str, second: str, zone: str | None
) -> datetime:
    """What feedparser's W3DTF parser makes of an ISO 8601 date and time (the fraction
    of a second dropped, the offset's minutes read from its fifth character on)."""
    offset = 0
    if zone and zone[0] in "+-":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:]) * 60)
    stamp = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(float(second)), tzinfo=UTC
    )
    return stamp - timedelta(0, offset)


def _fp_atom_link(context: dict[str, Any], node: fastxml.Node) -> None:
    attributes = _leaf(node, *_LINK_ATTRIBUTES).attributes
    if "href" not in attributes:
        raise _Unsure
    rel = attributes.get("rel", "alternate").lower()
    default_type = "application/atom+xml" if rel == "self" else "text/html"
    content_type = _FeedParserMixin.map_content_type(attributes.get("type", default_type).lower())
    if rel == "alternate" and content_type in _FP_HTML_TYPES:
        context["link"] = _fp_urifixer.sub(r"\1\3", attributes["href"])


def _fp_atom_author(context: dict[str, Any], node: fastxml.Node) -> None:
    """An Atom author: feedparser joins its name and email ("Name (email)")."""
    if not node.children:
        context["author"] = _fp_pop(_leaf(node).text)[0]
        return
    _bare(node)
    parts: dict[str, str] = {}
    for part in node.children:
        if part.name not in _ATOM_AUTHOR_PARTS or part.name in parts:
            raise _Unsure
        parts[part.name] = _leaf(part).text.strip()
    name, email = parts.get("name"), parts.get("email")
    context["author"] = f"{name} ({email})" if name and email else name or email or ""


# --- reading: JSON Feed -------------------------------------------------------------------


def _read_json_feed(text: str) -> _RawFeed:
    """Read a JSON Feed 1.0/1.1 document (feedparser 6 does not know the format)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(_one_line(f"not a feed: invalid JSON ({exc})"), kind="not_a_feed") from exc
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ParseError("not a feed: JSON without a JSON Feed items list", kind="not_a_feed")
    version = _json_str(document.get("version"))
    entries = tuple(_json_entry(item) for item in items if isinstance(item, dict))
    return _RawFeed(
        title=_Text(_json_str(document.get("title"))),
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


def _json_entry(item: Mapping[str, Any]) -> _RawEntry:
    contents = (
        _Text(_json_str(item.get("content_html")), is_html=True),
        _Text(_json_str(item.get("content_text"))),
    )
    date_raw = _json_str(item.get("date_published")) or _json_str(item.get("date_modified"))
    return _RawEntry(
        guid=_json_id(item.get("id")),
        link=_json_str(item.get("url")) or _json_str(item.get("external_url")),
        title=_Text(_json_str(item.get("title"))),
        summary=_Text(_json_str(item.get("summary"))),
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
    if not raw or _is_epoch_like(raw):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return _as_utc(parsed)


# --- building items -------------------------------------------------------------------------


def _build_feed(
    raw: _RawFeed,
    url: str,
    now: datetime,
    header_language: str,
    limits: _Limits,
    decode_warnings: tuple[str, ...],
) -> ParsedFeed:
    feed_language = _language(raw.language) or _language(header_language)
    base = absolute_url(url) or absolute_url(raw.link)
    items, build_warnings = _build_items(raw.entries, base, feed_language, now, limits)
    title, _ = _plain_text(raw.title, limits.max_field_chars, single_line=True)
    return ParsedFeed(
        title=title,
        link=absolute_url(raw.link, base),
        language=feed_language,
        format=raw.format,
        items=items,
        warnings=decode_warnings + raw.warnings + build_warnings,
    )


def _build_items(
    entries: Iterable[_RawEntry],
    base: str | None,
    feed_language: str,
    now: datetime,
    limits: _Limits,
) -> tuple[tuple[ParsedItem, ...], tuple[str, ...]]:
    """Items in document order: empty entries skipped, first of each key kept, capped."""
    items: dict[str, ParsedItem] = {}
    skipped = {"empty": 0, "duplicate": 0, "over_limit": 0}
    for entry in entries:
        if len(items) >= limits.max_items:
            skipped["over_limit"] += 1
        elif _is_empty(entry):
            skipped["empty"] += 1
        else:
            item = _build_item(entry, base, feed_language, now, limits.max_field_chars)
            skipped["duplicate"] += item.key in items
            items.setdefault(item.key, item)
    return tuple(items.values()), tuple(_skip_warnings(skipped, limits))


def _skip_warnings(skipped: Mapping[str, int], limits: _Limits) -> Iterator[str]:
    if skipped["empty"]:
        yield f"entries skipped as empty: {skipped['empty']}"
    if skipped["duplicate"]:
        yield f"entries dropped for repeating an earlier key (first kept): {skipped['duplicate']}"
    if skipped["over_limit"]:
        yield f"entries dropped beyond max_items={limits.max_items}: {skipped['over_limit']}"


def _is_empty(entry: _RawEntry) -> bool:
    texts = (entry.title.value, entry.summary.value, *(c.value for c in entry.contents))
    return not (entry.guid or entry.link or any(t.strip() for t in texts))


def _build_item(
    entry: _RawEntry, base: str | None, feed_language: str, now: datetime, max_chars: int
) -> ParsedItem:
    title, cut_title = _plain_text(entry.title, max_chars, single_line=True)
    summary, cut_summary = _plain_text(entry.summary, max_chars)
    content, cut_content = _longest_text(entry.contents, max_chars)
    author, cut_author = _plain_text(_Text(entry.author), max_chars, single_line=True)
    link = absolute_url(entry.link, base)
    url = _canonical_url(entry.link, link, base)
    key, key_kind = _item_key(_clean_guid(entry.guid), url, (title, summary, content))
    published, estimated = _published(entry.date, now)
    return ParsedItem(
        key=key,
        key_kind=key_kind,
        url=url,
        link=link,
        title=title,
        summary=summary,
        content=content,
        author=author,
        language=_language(entry.language) or feed_language,
        published=published,
        published_raw=entry.date_raw[:MAX_RAW_DATE_CHARS] if entry.date_raw else None,
        date_estimated=estimated,
        content_hash=_sha256(title, summary, content, url or ""),
        truncated=cut_title or cut_summary or cut_content or cut_author,
    )


def _canonical_url(raw: str, resolved: str | None, base: str | None) -> str | None:
    """``canonical_url(raw, base)``, from the link already resolved when that is the
    same (resolving is what costs)."""
    if resolved is not None and resolved == resolved.strip() and " " not in resolved:
        return canonical_url(resolved)
    return canonical_url(raw, base)


def _item_key(guid: str, url: str | None, texts: tuple[str, str, str]) -> tuple[str, str]:
    if guid:
        return (guid if len(guid) <= MAX_GUID_CHARS else f"sha256:{_sha256(guid)}"), "guid"
    if url:
        return url, "link"
    return f"sha256:{_sha256(*texts)}", "hash"


def _clean_guid(guid: str) -> str:
    return _CONTROL_CHARS.sub("", guid).strip()


def _published(date: datetime | None, now: datetime) -> tuple[datetime, bool]:
    """The item's date, or ``now`` flagged as estimated when missing or absurd."""
    if date is None or date < OLDEST_DATE or date > now + FUTURE_SLACK:
        return now, True
    return date, False


def _language(raw: str) -> str:
    return raw.strip().lower().replace("_", "-")[:MAX_LANGUAGE_CHARS]


def _sha256(*parts: str) -> str:
    joined = "\x1f".join(parts).encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(joined).hexdigest()


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _one_line(message: str) -> str:
    return " ".join(message.split())[:MAX_MESSAGE_CHARS]


# --- plain text -----------------------------------------------------------------------------


def _longest_text(texts: Iterable[_Text], max_chars: int) -> tuple[str, bool]:
    results = [_plain_text(text, max_chars) for text in texts]
    return max(results, key=lambda result: len(result[0]), default=("", False))


def _plain_text(text: _Text, max_chars: int, *, single_line: bool = False) -> tuple[str, bool]:
    """Plain text of a text construct, capped at ``max_chars``; True when it was cut."""
    raw_cap = max_chars * RAW_MARKUP_FACTOR
    value, cut = text.value[:raw_cap], len(text.value) > raw_cap
    if text.is_html:
        value = _html_to_text(value)
        if "<" in value and _LEFTOVER_TAG.search(value):  # escaped twice: &lt;p&gt; in CDATA
            value = _html_to_text(value)
    value = _tidy(value, single_line=single_line)
    return value[:max_chars].rstrip(), cut or len(value) > max_chars


def _tidy(value: str, *, single_line: bool) -> str:
    """Without control characters, each run of spaces one space; unless ``single_line``,
    line breaks kept, but neither blank lines nor spaces around line breaks."""
    value = _without_control_chars(value)
    if single_line:
        return " ".join(value.split())
    lines = (" ".join(line.split()) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def _without_control_chars(value: str) -> str:
    if value.isascii():  # most text: a byte-level check is several times faster
        data = value.encode("ascii")
        if len(data.translate(None, _CONTROL_BYTES)) == len(data):
            return value
    return _CONTROL_CHARS.sub("", value)


def _html_to_text(markup: str) -> str:
    """The text of an HTML fragment as ``_TextExtractor`` gives it; simple markup is read
    with one regular expression instead, which gives the same text several times faster."""
    if "<" not in markup:
        return html.unescape(markup) if "&" in markup else markup
    text = _simple_html_to_text(markup)
    return text if text is not None else _extracted_text(markup)


def _simple_html_to_text(markup: str) -> str | None:
    """The text of markup made only of plain start and end tags (no comments, no stray
    "<", none of the elements whose content is skipped or read as raw text), or None."""
    # split() gives text, end tag name, start tag name, "/" of <br/>, text, ...
    pieces = _SIMPLE_TAG.split(markup)
    texts = pieces[::4]
    if any("<" in text for text in texts):
        return None
    names = [(end or start).lower() for end, start in zip(pieces[1::4], pieces[2::4], strict=True)]
    if not _UNSURE_TAGS.isdisjoint(names):
        return None
    # <br/> is a start tag and an end tag to HTMLParser: two line breaks.
    breaks = [
        _LINE_BREAK_TAGS.get(name, "") * (2 if slash else 1)
        for name, slash in zip(names, pieces[3::4], strict=True)
    ]
    parts = [html.unescape(text) if "&" in text else text for text in texts]
    joined: list[str] = [""] * (len(parts) + len(breaks))
    joined[::2] = parts
    joined[1::2] = breaks
    return "".join(joined)


def _extracted_text(markup: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return "".join(extractor.parts)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, with line breaks at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)
