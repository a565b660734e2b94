"""Article pages for items whose feed text is too short to decide (#19): relevant to a
topic, or near a topic's seed article.

Owns the after-cycle hook ``fetch_article_text`` (off unless ``settings.article_text``;
a feed opts out with ``article_text = false``) and fetching the pages
(``fetch_articles``): through the same guarded ``Fetcher`` as feeds (an article URL
is not configured by the user, so a private address is refused even at its first
hop), with ``article_max_bytes`` as the size cap, the feed fetch's time caps and
User-Agent, robots.txt honoured (fetched once per host a cycle), one page at a time
per host with ``article_delay`` between them, and the whole batch within
``ARTICLE_BUDGET`` deadlines so that the service is not held up (pages not reached
are tried next cycle). The page's main text is extracted by ``seedtext.main_text``
(trafilatura: it keeps the article and drops menus, comments and related links,
and detects the page's real encoding). Failures are recorded on the item.

Must not: decide which items need a page or their verdicts (``articletext``), write
SQL (the store does), or read the clock (``now`` is the cycle's).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from urllib import robotparser
from urllib.parse import urlsplit

from tracker import USER_AGENT, articletext
from tracker.errors import ErrorKind, cap_message, one_line
from tracker.fetch import Fetcher, Resolver
from tracker.hooks import FinishedCycle
from tracker.models import ArticleCandidate, ArticleResult, FetchRequest, Settings
from tracker.urls import redact_url

log = logging.getLogger(__name__)

ARTICLE_BUDGET = 3  # the batch's time: this many fetch deadlines
MAX_ARTICLE_CHARS = 100_000  # the article text kept, like a feed field's cap
CANDIDATE_CHARS_PER_WORD = 30  # a cheap bound on feed text that may be under the word count


def fetch_article_text(cycle: FinishedCycle) -> Mapping[str, object] | None:
    """After-cycle hook: fetch the article pages the newest short items need, decide
    those items again with the text, and record every try on its item."""
    settings = cycle.config.settings
    if not settings.article_text:
        return None
    candidates = cycle.store.article_candidates(
        settings.article_min_words * CANDIDATE_CHARS_PER_WORD, settings.article_per_cycle * 5
    )
    off = frozenset(redact_url(f.url) for f in cycle.config.feeds if not f.article_text)
    chosen, skipped = articletext.choose(
        candidates,
        settings.article_min_words,
        off,
        settings.article_per_cycle,
        lambda text: articletext.near_seed(cycle.topics.decide(text)),
    )
    if not chosen and not skipped:
        return None
    results = _in_thread(settings, chosen) if chosen else []
    flagged = cycle.store.flags_of_items([r.item_id for r in results])
    verdicts = articletext.article_verdicts(
        cycle.topics.assess, chosen, results, flagged, cycle.now
    )
    cycle.store.record_articles([*results, *skipped], verdicts, cycle.now)
    fetched = sum(r.status == "ok" for r in results)
    log.info("article pages fetched=%d failed=%d", fetched, len(results) - fetched)
    return {"articles_fetched": fetched, "articles_failed": len(results) - fetched}


def _in_thread(settings: Settings, chosen: Sequence[ArticleCandidate]) -> list[ArticleResult]:
    """Run the fetches on their own event loop: the hook is called from the service's."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="articles") as pool:
        return pool.submit(asyncio.run, fetch_articles(settings, chosen)).result()


async def fetch_articles(
    settings: Settings,
    chosen: Sequence[ArticleCandidate],
    *,
    resolver: Resolver | None = None,
) -> list[ArticleResult]:
    """Fetch and extract these items' pages; the ones not reached within the budget
    are left out (tried again next cycle)."""
    page_settings = replace(settings, max_bytes=settings.article_max_bytes)
    done: list[ArticleResult] = []
    by_host: dict[str, list[ArticleCandidate]] = {}
    for candidate in chosen:
        by_host.setdefault(urlsplit(candidate.url).netloc.lower(), []).append(candidate)
    async with Fetcher(page_settings, resolver=resolver) as fetcher:
        robots = _Robots(fetcher, settings.user_agent or USER_AGENT)
        lanes = [_host_lane(fetcher, robots, items, settings, done) for items in by_host.values()]
        try:
            async with asyncio.timeout(settings.deadline * ARTICLE_BUDGET):
                await asyncio.gather(*lanes)
        except TimeoutError:
            log.warning("article pages left for next cycle left=%d", len(chosen) - len(done))
    return done


async def _host_lane(
    fetcher: Fetcher,
    robots: _Robots,
    items: Sequence[ArticleCandidate],
    settings: Settings,
    done: list[ArticleResult],
) -> None:
    for index, candidate in enumerate(items):
        if index:
            await asyncio.sleep(settings.article_delay)  # politeness: one host, one at a time
        done.append(await _article(fetcher, robots, candidate))


async def _article(fetcher: Fetcher, robots: _Robots, candidate: ArticleCandidate) -> ArticleResult:
    item_id, url = candidate.item_id, candidate.url
    if not await robots.allows(url):
        return ArticleResult(item_id, "robots", error="robots.txt disallows the page")
    result = await fetcher.fetch(FetchRequest(url, configured=False))
    if not result.ok:
        kind = str(result.error_kind or ErrorKind.FETCH)
        return ArticleResult(item_id, kind, error=one_line(result.error or kind))
    content_type = result.headers.get("content-type", "")
    text = await asyncio.to_thread(page_text, result.body, content_type)
    if not text.strip():
        return ArticleResult(item_id, "empty", error="no article text found in the page")
    return ArticleResult(item_id, "ok", text=cap_message(text, MAX_ARTICLE_CHARS))


def page_text(body: bytes, content_type: str) -> str:
    """A page's main text, read in its real encoding: the charset its headers or markup
    declare, or, for a page that is not what it declares, as the parser reads such a
    feed (``parse.decoding``: windows-1252 for a page "in UTF-8" that is not)."""
    # Imported here: trafilatura costs the service's start a quarter of a second, and
    # article text is off by default.
    from tracker.parse.decoding import decode
    from tracker.seedtext import main_text

    text, _ = decode(body, content_type)
    return main_text(text)


class _Robots:
    """robots.txt of each host, fetched once through the same fetcher."""

    def __init__(self, fetcher: Fetcher, agent: str) -> None:
        self._fetcher = fetcher
        self._agent = agent
        self._rules: dict[str, asyncio.Task[robotparser.RobotFileParser | None]] = {}

    async def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._rules:
            self._rules[site] = asyncio.ensure_future(self._read(site))
        rules = await self._rules[site]
        return rules is None or rules.can_fetch(self._agent, url)

    async def _read(self, site: str) -> robotparser.RobotFileParser | None:
        """The host's rules; None (everything allowed) when it has none, or when the
        address guard refused the host (the page's fetch then says so)."""
        result = await self._fetcher.fetch(FetchRequest(f"{site}/robots.txt", configured=False))
        rules = robotparser.RobotFileParser()
        if result.ok:
            rules.parse(result.body.decode("utf-8", "replace").splitlines())
            return rules
        if result.error_kind == ErrorKind.BLOCKED or (
            result.status is not None and 400 <= result.status < 500
        ):
            return None
        # Unreachable, or a server error: RFC 9309 says to keep off the whole site.
        rules.parse(["User-agent: *", "Disallow: /"])
        return rules
