"""Checking a feed before ``feeds add`` writes it: one fetch, one parse.

Owns what makes a URL worth adding: it answers, through the same guarded ``Fetcher``
as every poll (its address rule, ``allow_private``, its limits), with a document the
parser reads as a feed, as ``feedsurvey`` judges it for ``feeds check``; or it is a web
page whose ``<link rel="alternate">`` names exactly one feed, which is then checked
the same way. Finding a page's feed links is this module's own; the judgement is not.
A 404, a 410, an unreachable host, anything that is not a feed, a page with no feed
link or with several is refused (``FeedRefused``; with the candidates for the last).
Without a check (offline set-up), only the address rule is applied, on the addresses
the host resolves to now.

Must not: write the config or the database, or print (the CLI does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

from tracker import feedsurvey
from tracker.errors import FeedRefused
from tracker.fetch import Fetcher, address_refusal, resolve_host
from tracker.models import FetchResult, Settings
from tracker.urls import absolute_url, is_http_url, redact_text, redact_url

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"}
)


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


def check_feed(url: str, settings: Settings, now: datetime) -> CheckedFeed:
    """Fetch and parse ``url`` once (following a page's one feed link); ``FeedRefused``
    when it is not a feed tracker can poll."""
    return asyncio.run(_check(url, settings, now))


async def _check(url: str, settings: Settings, now: datetime) -> CheckedFeed:
    async with Fetcher(settings) as fetcher:
        check, result = await feedsurvey.check_url(fetcher, url, settings, now)
        refusal = feedsurvey.failure(check)
        if refusal is None:
            return CheckedFeed(url, check.title, check.items)
        if refusal[0] != feedsurvey.HTML:
            raise FeedRefused(f"{redact_url(url)}: {refusal[1]}")
        feed_url = _only_link(url, result)
        linked, _ = await feedsurvey.check_url(fetcher, feed_url, settings, now)
        refusal = feedsurvey.failure(linked)
        if refusal is not None:
            raise FeedRefused(f"{redact_url(feed_url)}: {refusal[1]}")
        return CheckedFeed(feed_url, linked.title, linked.items, page=url)


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
