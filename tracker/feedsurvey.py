"""``tracker feeds check``: every configured feed fetched and parsed once, nothing stored.

Owns judging one feed's fetch and parse (``judge``, pure: the time is passed in) into a
``FeedCheck`` with its problems (gone, redirected, HTML instead of a feed, stale,
empty, any fetch or parse error), and running the checks (``check_url`` for one URL,
``check_feeds`` for all feeds over one shared ``Fetcher``, with its limits and address
guard, then ``parse_feed``). ``feeds add`` refuses a URL on this same judgement
(``failure``); only its search of a web page for feed links is its own (``feedcheck``).

Must not: write the database, make HTTP requests or parse documents itself (``fetch``
and ``parse`` do), or read the clock below ``check_feeds``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import datetime

from tracker.errors import ErrorKind, ParseError
from tracker.fetch import Fetcher
from tracker.models import FeedCheck, FeedConfig, FetchRequest, FetchResult, ParsedFeed, Settings
from tracker.parse import parse_feed
from tracker.urls import redact_text, redact_url

DAY = 86_400.0
HTML_SNIFF_BYTES = 2048  # how much of a body is looked at to tell a web page
# The kinds of problem (a problem is "kind: detail") that ``feeds add`` tells apart.
GONE, HTML, REDIRECTED = "gone", "html", "redirected"


async def check_feeds(
    settings: Settings, feeds: Sequence[FeedConfig], now: datetime, stale_days: float
) -> list[FeedCheck]:
    """Fetch every feed at once through one fetcher, parsing and judging each one."""
    async with Fetcher(settings) as fetcher:
        checked = await asyncio.gather(
            *(check_url(fetcher, f.url, settings, now, stale_days, f.language) for f in feeds)
        )
    return [check for check, _ in checked]


async def check_url(
    fetcher: Fetcher,
    url: str,
    settings: Settings,
    now: datetime,
    stale_days: float = math.inf,
    language: str = "",
) -> tuple[FeedCheck, FetchResult]:
    """Fetch ``url`` once, parse and judge it; the fetch comes back too (``feeds add``
    reads a web page's feed links from it)."""
    result = await fetcher.fetch(FetchRequest(url))
    parsed, error = _parsed(result, now, settings, language)
    return judge(url, result, parsed, error, now, stale_days), result


def _parsed(
    result: FetchResult, now: datetime, settings: Settings, language: str
) -> tuple[ParsedFeed | None, ParseError | None]:
    if not result.ok:
        return None, None
    try:
        parsed = parse_feed(
            result.body,
            result.headers,
            result.final_url,
            now,
            max_items=settings.max_items_per_poll,
            language=language,
        )
    except ParseError as exc:
        return None, exc
    return parsed, None


def judge(
    url: str,
    result: FetchResult,
    parsed: ParsedFeed | None,
    parse_error: ParseError | None,
    now: datetime,
    stale_days: float,
) -> FeedCheck:
    """What one feed's fetch and parse say about it."""
    problems = [*_redirect_problems(url, result), *_failure_problems(result, parse_error)]
    newest = _newest(parsed)
    if parsed is not None:
        problems += _content_problems(parsed, newest, now, stale_days)
    return FeedCheck(
        url=redact_url(url),
        ok=parsed is not None,
        status=result.status,
        title=parsed.title if parsed is not None else "",
        items=len(parsed.items) if parsed is not None else 0,
        newest=newest,
        problems=tuple(problems),
    )


def _redirect_problems(url: str, result: FetchResult) -> list[str]:
    if result.permanent_redirect and result.permanent_redirect != url:
        return [f"{REDIRECTED}: moved permanently to {redact_url(result.permanent_redirect)}"]
    if result.final_url and result.final_url != url:
        return [f"{REDIRECTED}: served from {redact_url(result.final_url)}"]
    return []


def _failure_problems(result: FetchResult, parse_error: ParseError | None) -> list[str]:
    if result.error_kind == ErrorKind.GONE:
        return [f"{GONE}: {redact_text(result.error or '')}: the feed is gone for good; remove it"]
    if not result.ok:
        return [f"{result.error_kind or ErrorKind.FETCH}: {redact_text(result.error or '')}"]
    if parse_error is None:
        return []
    if _is_html(result, parse_error):
        return [f"{HTML}: got a web page, not a feed (look for the site's RSS or Atom link)"]
    return [f"{parse_error.kind}: {redact_text(str(parse_error))}"]


def _is_html(result: FetchResult, error: ParseError) -> bool:
    content_type = result.headers.get("content-type", "").lower()
    start = result.body[:HTML_SNIFF_BYTES].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html")) or (
        error.kind == ErrorKind.NOT_A_FEED and ("html" in content_type or "HTML" in str(error))
    )


def failure(check: FeedCheck) -> tuple[str, str] | None:
    """The kind (``gone``, ``html``, ``http``, ``not_a_feed``...) and the detail of the
    problem that makes ``check`` no usable feed; None when it is one."""
    if check.ok:
        return None
    failing = [p for p in check.problems if not p.startswith(f"{REDIRECTED}: ")]
    kind, _, detail = (failing or [f"{ErrorKind.FETCH}: no answer"])[0].partition(": ")
    return kind, detail


def _newest(parsed: ParsedFeed | None) -> datetime | None:
    dated = [item.published for item in (parsed.items if parsed else ()) if not item.date_estimated]
    return max(dated, default=None)


def _content_problems(
    parsed: ParsedFeed, newest: datetime | None, now: datetime, stale_days: float
) -> list[str]:
    if not parsed.items:
        return ["empty: the feed has no items"]
    if newest is None:
        return []
    age_days = (now - newest).total_seconds() / DAY
    if age_days > stale_days:
        return [f"stale: newest item is {int(age_days)} days old"]
    return []


def check_dict(check: FeedCheck) -> dict[str, object]:
    """A check as JSON-ready values."""
    return {
        "url": check.url,
        "ok": check.ok,
        "status": check.status,
        "title": check.title,
        "items": check.items,
        "newest": check.newest.isoformat(timespec="seconds") if check.newest else None,
        "problems": list(check.problems),
    }
