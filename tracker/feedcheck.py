"""Checking a feed before ``feeds add`` writes it: one fetch, one parse.

Owns what makes a URL worth adding: it answers, through the same guarded ``Fetcher``
as every poll (its address rule, ``allow_private``, its limits), with a document the
parser reads as a feed; or it is a web page whose ``<link rel="alternate">`` names
exactly one feed, which is then checked the same way. A 404, a 410, an unreachable
host, a page with no feed link or with several is refused (``FeedRefused``; with the
candidates for the last). Without a check (offline set-up), only the address rule is
applied, on the addresses the host resolves to now.

Must not: write the config or the database, or print (the CLI does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

from tracker.errors import FeedRefused, ParseError
from tracker.fetch import Fetcher, address_refusal, resolve_host
from tracker.models import FetchRequest, FetchResult, ParsedFeed, Settings
from tracker.urls import absolute_url, is_http_url, redact_text, redact_url

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"}
)
HTML_SNIFF_BYTES = 2048  # how much of a body is looked at to tell a web page


@dataclass(frozen=True)
class CheckedFeed:
    """A URL that answered a feed: where, its title, how many items it has now."""

    url: str  # the feed's URL: the one given, or the one the given page linked to
    title: str
    items: int
    page: str | None = None  # the web page it was found on, if any


class _FeedLinks(HTMLParser):
    """Collects ``<link rel="alternate" type="...feed type..." href>`` of a page."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            self.base = absolute_url(dict(attrs).get("href"), self.base) or self.base
        if tag != "link":
            return
        found = {name: (value or "").strip() for name, value in attrs}
        rels = found.get("rel", "").lower().split()
        kind = found.get("type", "").lower().split(";")[0].strip()
        href = absolute_url(found.get("href"), self.base)
        usable = href and is_http_url(href) and href not in self.links
        if "alternate" in rels and kind in FEED_TYPES and usable:
            self.links.append(str(href))


def feed_links(html: str, base: str) -> list[str]:
    """The feed URLs a web page declares, absolute, in page order, without duplicates."""
    collector = _FeedLinks(base)
    collector.feed(html)
    collector.close()
    return collector.links


def looks_like_html(result: FetchResult) -> bool:
    kind = result.headers.get("content-type", "").lower()
    start = result.body[:HTML_SNIFF_BYTES].lstrip().lower()
    return "html" in kind or start.startswith((b"<!doctype html", b"<html"))


def check_feed(url: str, settings: Settings, now: datetime) -> CheckedFeed:
    """Fetch and parse ``url`` once (following a page's one feed link); ``FeedRefused``
    when it is not a feed tracker can poll."""
    return asyncio.run(_check(url, settings, now))


async def _check(url: str, settings: Settings, now: datetime) -> CheckedFeed:
    async with Fetcher(settings) as fetcher:
        result = await _fetched(fetcher, url)
        try:
            return _checked(url, result, now, settings)
        except FeedRefused:
            if not looks_like_html(result):
                raise
        feed_url = _only_link(url, result)
        checked = _checked(feed_url, await _fetched(fetcher, feed_url), now, settings)
        return CheckedFeed(checked.url, checked.title, checked.items, page=url)


async def _fetched(fetcher: Fetcher, url: str) -> FetchResult:
    result = await fetcher.fetch(FetchRequest(url))
    if not result.ok:
        raise FeedRefused(f"{redact_url(url)}: {result.error}")
    return result


def _checked(url: str, result: FetchResult, now: datetime, settings: Settings) -> CheckedFeed:
    # Imported here: feedparser and lxml cost every command that loads the CLI (``poll``
    # among them, whose main process never parses) some 10 MB and 50 ms.
    from tracker.parse import parse_feed

    try:
        parsed: ParsedFeed = parse_feed(
            result.body,
            result.headers,
            result.final_url,
            now,
            max_items=settings.max_items_per_poll,
        )
    except ParseError as exc:
        raise FeedRefused(f"{redact_url(url)}: {redact_text(str(exc))}") from None
    return CheckedFeed(url, parsed.title, len(parsed.items))


def _only_link(url: str, result: FetchResult) -> str:
    links = feed_links(result.body.decode("utf-8", errors="replace"), result.final_url)
    if not links:
        raise FeedRefused(f"{redact_url(url)}: a web page that links to no feed")
    if len(links) > 1:
        raise FeedRefused(
            f"{redact_url(url)}: a web page that links to {len(links)} feeds; add one of them",
            choices=tuple(redact_url(link) for link in links),
        )
    return links[0]


def refused_address(url: str, settings: Settings) -> str | None:
    """Why the fetcher would refuse ``url``'s host (link-local, metadata, private with
    ``allow_private`` off), or None; a host that does not resolve now is not refused."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses = asyncio.run(resolve_host(parts.hostname or "", port))
    except OSError:
        return None
    reason = address_refusal(
        addresses, configured=True, after_private=False, allow_private=settings.allow_private
    )
    return redact_text(f"refused {parts.hostname}: {reason}") if reason else None
