"""News aggregators: Google News and Bing News feeds, and the publishers behind their items.

Owns ``recognise`` (is this document an aggregator's feed: by the host of its URL or of
its channel link, else by the shape of its item links) and ``publisher_of``, which reads
one entry of such a feed: the publisher's name (RSS ``<source>``, Bing's ``News:Source``),
its site (the ``url`` of ``<source>``, else the article's own host), the article's own URL
where it can be had offline (Bing's ``apiclick.aspx?...&url=...`` click-through unwrapped;
a Google News ``articles/CBMi...`` id decoded when it carries the URL, which the older form
does and the newer does not), and the entry's description without Google's publisher
label. ``without_publisher`` takes the " - Publisher" suffix off a title, so the outlet's
name (" - The Washington Times") is neither stored in the title nor matched as a term.

Must not: do I/O (a link is never followed: a Google News id that does not carry the URL
is kept as it is), or vouch for a URL it cannot check: an unwrapped or decoded URL that is
not http(s), or names a private, loopback or link-local address or a local host name, is
dropped and the aggregator's own link kept. Ordinary feeds are never touched: their
``<source>`` names a feed, not a publisher.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from tracker.parse.htmltext import plain_text
from tracker.parse.records import RawEntry, Text
from tracker.urls import absolute_url, canonical_url

GOOGLE_NEWS = "google_news"
BING_NEWS = "bing_news"
MAX_PUBLISHER_CHARS = 200
# A Google News article id is a base64url protobuf; in its older form, field 4 holds the
# article's URL ("CBMi" is 08 13 22: field 1 = 19, then field 4's bytes).
_GOOGLE_ARTICLE = re.compile(
    r"https?://news\.google\.com/(?:[\w.]+/){0,4}(?:articles|read)/([A-Za-z0-9_-]{4,4000})",
    re.IGNORECASE,
)
_GOOGLE_URL_FIELD = 4
_MAX_PROTOBUF_FIELDS = 8
# Google's description ends each headline with the outlet: <font color="#6f6f6f">X</font>.
_GOOGLE_LABEL = re.compile(r"<font\b[^>]*>.*?</font\s*>", re.IGNORECASE | re.DOTALL)
_TITLE_SEPARATORS = (" - ", " – ", " — ", " | ")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet")
_NUMERIC_HOST = re.compile(r"[0-9.]+|0x[0-9a-f.x]*", re.IGNORECASE)


class Publisher(NamedTuple):
    """Who published an aggregator's item, and where."""

    name: str  # "" when the feed does not say
    site: str  # canonical http(s) URL of the publisher's site, or ""
    article_url: str  # the article's own URL (http(s), public), or "" when not known offline


NO_PUBLISHER = Publisher("", "", "")


def recognise(feed_url: str | None, channel_link: str, entries: Iterable[RawEntry]) -> str | None:
    """``GOOGLE_NEWS``, ``BING_NEWS`` or None for any other feed."""
    for url in (feed_url, channel_link):
        kind = _aggregator_of_host(url or "")
        if kind:
            return kind
    links = [entry.link for entry in entries if entry.link]
    for kind, test in ((GOOGLE_NEWS, _is_google_article), (BING_NEWS, _is_bing_click)):
        if links and all(test(link) for link in links):
            return kind  # a copy of an aggregator's feed, served from elsewhere
    return None


def publisher_of(aggregator: str, entry: RawEntry) -> tuple[RawEntry, Publisher]:
    """The entry with Google's publisher labels out of its description, and its publisher."""
    if aggregator == GOOGLE_NEWS:
        article = google_article_url(entry.link)
        summary = entry.summary
        if summary.is_html:
            entry = entry._replace(summary=Text(_GOOGLE_LABEL.sub(" ", summary.value), True))
    else:
        article = bing_article_url(entry.link)
    name = publisher_name(entry.source)
    site = _site(entry.source_url) or _site(article)
    return entry, Publisher(name, site, article)


def without_publisher(title: str, name: str) -> str:
    """``title`` without a trailing " - Publisher" naming ``name``."""
    if not name:
        return title
    for separator in _TITLE_SEPARATORS:
        suffix = separator + name
        if len(title) > len(suffix) and title[-len(suffix) :].casefold() == suffix.casefold():
            return title[: -len(suffix)].rstrip()
    return title


def publisher_name(raw: str) -> str:
    """The publisher's name as plain text on one line (markup in it is dropped)."""
    if "<" in raw or "&" in raw:
        return plain_text(Text(raw, is_html=True), MAX_PUBLISHER_CHARS, single_line=True)[0]
    return " ".join(raw.split())[:MAX_PUBLISHER_CHARS]


def google_article_url(link: str) -> str:
    """The article URL inside an older Google News id, or "" (newer ids, not base64)."""
    match = _GOOGLE_ARTICLE.match(link.strip())
    if match is None:
        return ""
    token = match[1]
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return ""
    for url in _protobuf_strings(data, _GOOGLE_URL_FIELD):
        if is_public_http_url(url):
            return url
    return ""


def bing_article_url(link: str) -> str:
    """The publisher's URL in a Bing ``apiclick.aspx`` link's ``url``, or ""."""
    if not _is_bing_click(link):
        return ""
    values = parse_qs(urlsplit(link.strip()).query).get("url", [])
    return values[0].strip() if values and is_public_http_url(values[0].strip()) else ""


def article_url(link: str) -> str:
    """The article's own URL behind an aggregator's link (a Bing click-through or an
    older Google News id), as ``publisher_of`` finds it; "" when the link gives none."""
    return bing_article_url(link) or google_article_url(link)


def is_public_http_url(url: str) -> bool:
    """An absolute http(s) URL whose host is a public name or address, never a local one."""
    if absolute_url(url) != url:
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    if not host or "@" in parts.netloc:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host and not host.endswith(_LOCAL_SUFFIXES) and not _numeric(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global


def _numeric(host: str) -> bool:
    # 2130706433, 0x7f.1, 127.1: forms that browsers read as an address
    return _NUMERIC_HOST.fullmatch(host) is not None


def _site(url: str) -> str:
    if not url or not is_public_http_url(url):
        return ""
    parts = urlsplit(url)
    return canonical_url(f"{parts.scheme}://{parts.netloc}/") or ""


def _aggregator_of_host(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if host == "news.google.com":
        return GOOGLE_NEWS
    if (host == "bing.com" or host.endswith(".bing.com")) and parts.path.lower().startswith(
        "/news"
    ):
        return BING_NEWS
    return None


def _is_google_article(link: str) -> bool:
    return _GOOGLE_ARTICLE.match(link.strip()) is not None


def _is_bing_click(link: str) -> bool:
    try:
        parts = urlsplit(link.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    is_bing = host == "bing.com" or host.endswith(".bing.com")
    return is_bing and parts.path.lower().endswith("/apiclick.aspx")


def _protobuf_strings(data: bytes, field: int) -> list[str]:
    """The UTF-8 strings of one length-delimited field of a protobuf message, read no
    further than the first field it cannot read."""
    found: list[str] = []
    position = 0
    for _ in range(_MAX_PROTOBUF_FIELDS):
        if position >= len(data):
            break
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            chunk = data[position : position + length]
            position += length
            if number == field and len(chunk) == length:
                found.append(chunk.decode("utf-8", errors="replace"))
        else:
            break
    return found


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    return value, len(data) + 1  # truncated: the caller stops
