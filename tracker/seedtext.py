"""A seed article's text from what the user hands ``tracker seed suggest``.

Owns ``seed_text``: the bytes of a text file, a saved web page or a fetched one
become the article's plain text. A web page's main text (the article, without its
menus, dates and footers) is extracted by trafilatura, a maintained extractor, not by
stripping tags (which turned a page's "Sep", "Sun" and "Gov" into names). Input that
cannot be a seed is a ``SeedError`` saying why in one line: empty, too large, binary,
not UTF-8, or a page without article text.

``main_text`` also gives the article text of the pages ``articles`` fetches for items
whose feed text is too short to decide: one extractor, owned here.

Must not: fetch (the CLI hands in the bytes it fetched through ``tracker.fetch``),
suggest terms (``seedsuggest`` does) or print.
"""

from __future__ import annotations

import logging
from pathlib import PurePath

import trafilatura

from tracker.errors import SeedError

MAX_SEED_BYTES = 5 * 1024 * 1024  # a saved page with its inline scripts; an article is far less
_SNIFF = 8192  # bytes looked at to tell binary from text and HTML from text
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"PK\x03\x04", b"\x1f\x8b", b"GIF8", b"\xff\xd8\xff")
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".shtml"})
_HTML_MARKS = (b"<!doctype html", b"<html", b"<body", b"<head", b"<article", b"<p>")


def seed_text(body: bytes, source: str, content_type: str = "") -> str:
    """The article text of ``body`` (from file or URL ``source``); ``SeedError`` when
    there is none."""
    if not body.strip():
        raise SeedError("the seed is empty", path=source)
    if len(body) > MAX_SEED_BYTES:
        size = len(body) / 1e6
        limit = MAX_SEED_BYTES // (1024 * 1024)
        raise SeedError(f"the seed is too large ({size:.1f} MB; at most {limit} MiB)", path=source)
    if is_binary(body):
        raise SeedError("the seed is a binary file, not text or a web page", path=source)
    text = main_text(body) if is_html(body, source, content_type) else _decoded(body, source)
    if not text.strip():
        raise SeedError("no article text found in the page", path=source)
    return text


def is_binary(body: bytes) -> bool:
    """NUL bytes, or the signature of a PDF, an image or an archive."""
    head = body[:_SNIFF]
    return b"\x00" in head or head.startswith(_BINARY_MAGIC)


def is_html(body: bytes, source: str, content_type: str = "") -> bool:
    """A web page: said by its content type or file name, or seen in its first bytes."""
    if "html" in content_type.lower():
        return True
    if PurePath(source.split("?")[0]).suffix.lower() in _HTML_SUFFIXES:
        return True
    head = body[:_SNIFF].lstrip().lower()
    return head.startswith(b"<") and any(mark in head for mark in _HTML_MARKS)


def main_text(page: bytes | str) -> str:
    """The page's main text, one paragraph a line ("" when it has none)."""
    # trafilatura logs every page it finds no article in at ERROR: that is our
    # SeedError to tell, once.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    text = trafilatura.extract(
        page, favor_recall=True, include_comments=False, include_tables=False
    )
    # One paragraph a line; a blank line between them, so that a heading's last word
    # and the next paragraph's first are not read as one name.
    return "\n\n".join((text or "").splitlines())


def _decoded(body: bytes, source: str) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SeedError("the seed is not UTF-8 text", path=source) from None
