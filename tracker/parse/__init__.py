"""Feed parsing: response bytes in, a ``ParsedFeed`` of plain-text items out.

Owns ``parse_feed`` and everything between a fetched body and the typed
records: charset decoding, refusing entity-expansion documents, RSS/Atom/RDF
through feedparser, JSON Feed through the stdlib, and reducing each entry to
plain text, a stable key and a UTC date.

It must not do I/O: feedparser only ever gets an in-memory stream of UTF-8
bytes (never a string, which it would treat as a URL or a file path), and
nothing here reads the clock (``now`` is passed in). The caller runs it in a
killable worker process, so it needs no timeout of its own.

Pipeline: decode the bytes to text (trusting valid UTF-8 over a wrong
declaration, repairing a few bad bytes) -> read entries (JSON Feed, the lxml
fast path or feedparser) into ``RawEntry`` records -> build ``ParsedItem`` records.
Its modules, in that order:

- :mod:`.decoding`: bytes to text; refusing entity declarations; illegal XML characters
- :mod:`.fastpath`: lxml reads plain RSS 2.0 and Atom 1.0 by feedparser's rules
- :mod:`.feedparser_adapter`: feedparser (the only module importing it), and its result
  read into raw records
- :mod:`.jsonfeed`: JSON Feed
- :mod:`.items`: items, their keys and dates
- :mod:`.language`: each item's language, detected (pycld2), the declared one as a hint
- :mod:`.aggregators`: Google News and Bing News items: publishers, the articles' own URLs
- :mod:`.htmltext`: HTML to plain text
- :mod:`.records`: the raw records and tunables they share

This module only wires them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tracker.errors import ErrorKind, ParseError
from tracker.models import ParsedFeed
from tracker.parse.decoding import (
    decode,
    looks_like_json,
    refuse_entity_declarations,
    without_illegal_xml_chars,
)
from tracker.parse.fastpath import fast_result
from tracker.parse.feedparser_adapter import raw_feed, run_feedparser
from tracker.parse.items import as_utc, build_feed
from tracker.parse.jsonfeed import read_json_feed
from tracker.parse.records import Limits, RawFeed

__all__ = ["parse_feed"]


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    now: datetime,
    *,
    max_items: int = 1000,
    max_field_chars: int = 200_000,
    fast: bool = True,
    language: str = "",
    known: Mapping[str, str] | None = None,
) -> ParsedFeed:
    """Parse one fetched feed document; raise ``ParseError`` if it is not a usable feed.

    With ``fast``, plain RSS 2.0 and Atom 1.0 documents are read with lxml and
    feedparser's rules (the same items, several times faster); feedparser reads the rest.
    ``language`` is the feed's configured language: the hint for detecting its items'
    languages when the document declares none, before any Content-Language header.
    ``known`` (entry key -> content hash of what is stored) names the items stored
    unchanged: their languages are not detected again (they get the declared one), as
    their rows keep the language detected when they were new and nothing reads theirs.
    """
    headers = {name.lower(): value for name, value in headers.items()}
    text, decode_warnings = decode(body, headers.get("content-type", ""))
    if not text.replace("\x00", "").strip():
        raise ParseError("empty body: no feed to parse", kind=ErrorKind.EMPTY)
    raw = read_json_feed(text) if looks_like_json(text) else _read_xml_feed(text, fast=fast)
    limits = Limits(max(0, max_items), max(1, max_field_chars))
    declared = language or headers.get("content-language", "").split(",")[0]
    return build_feed(raw, url, as_utc(now), declared, limits, decode_warnings, known or {})


def _read_xml_feed(text: str, *, fast: bool) -> RawFeed:
    refuse_entity_declarations(text)
    text, data, illegal = without_illegal_xml_chars(text)
    result = (fast_result(data) if fast else None) or run_feedparser(data)
    return raw_feed(result, text, illegal)
