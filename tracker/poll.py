"""The poll cycle: the imperative shell that ties fetch, parse, match and store.

For a set of feeds: fetch them concurrently over one shared client, parse each
body in a worker process (bounded in time, killable), match new and changed items
against the topics, and write each feed's outcome in one transaction. Per-feed
errors are recorded on the feed and the cycle goes on; anything unexpected is
logged loudly and re-raised. Below the CLI and the service, this is the only place
that reads the clock for what is stored (``Poller.clock``, passed to the decider as
``now``); the fetcher only times its requests and, when a response has no ``Date``,
ages its ``Expires`` against its own clock.

Each feed's write is planned here (``poll_plan``): the items the parser workers did
not assess are matched, and ``decide`` says what to write, before the store's
transaction. The fetcher is handed in (``Poller.fetcher``), the real one by default.

Must not: decide anything itself (``decide``, ``schedule`` and ``matching`` do) or
touch the database except through the store.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tracker import decide
from tracker.errors import ParseError, one_line
from tracker.fetch import Fetcher
from tracker.models import (
    Assessor,
    FeedFetcher,
    FeedPoll,
    FeedSnapshot,
    FeedState,
    FetchRequest,
    FetchResult,
    FlagDecision,
    ItemText,
    PollPlan,
    PollStore,
    PollSummary,
    PollWrite,
    Settings,
)
from tracker.parsepool import ParsePool
from tracker.urls import redact_url, without_userinfo

__all__ = ["CycleSummary", "ParsePool", "Poller", "poll_plan", "run_poll", "utcnow"]

log = logging.getLogger(__name__)

# Feeds in progress at once (fetching, waiting for a parser, being written), beyond
# the fetch concurrency: enough to keep every parser busy, few enough that fetched
# bodies never pile up in memory while the parsers catch up.
PARSE_BACKLOG_PER_WORKER = 2


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class CycleSummary:
    """What one poll cycle did, for the CLI, the logs and the service's record."""

    started_at: datetime
    duration: float
    polls: tuple[PollSummary, ...] = ()

    @property
    def feeds(self) -> int:
        return len(self.polls)

    @property
    def new_items(self) -> int:
        return sum(p.new_items for p in self.polls)

    @property
    def updated_items(self) -> int:
        return sum(p.updated_items for p in self.polls)

    @property
    def new_flags(self) -> int:
        return sum(len(p.new_flags) for p in self.polls)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.polls if p.outcome == "error")

    def as_dict(self) -> dict[str, object]:
        return {
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration, 3),
            "feeds": self.feeds,
            "new_items": self.new_items,
            "updated_items": self.updated_items,
            "new_flags": self.new_flags,
            "errors": self.errors,
        }


def real_fetcher(settings: Settings, clock: Callable[[], datetime]) -> Fetcher:
    """The network fetcher, reading the same clock as the poll cycle."""
    return Fetcher(settings, clock=clock)


@dataclass
class Poller:
    """Polls feeds into a store; one per process, used from one event loop."""

    store: PollStore
    settings: Settings
    assess: Assessor
    pool: ParsePool
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], datetime] = utcnow
    # Opens the fetcher of a cycle with the poller's clock: the real one, or a fake in tests.
    fetcher: Callable[[Settings, Callable[[], datetime]], FeedFetcher] = real_fetcher
    # The URL to fetch for a stored feed URL whose credentials were redacted (from the
    # config): the database never holds them, so the fetch must get them from here.
    fetch_urls: Mapping[str, str] = field(default_factory=dict)
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def poll(
        self, states: Sequence[FeedState], on_poll: Callable[[PollSummary], None] | None = None
    ) -> CycleSummary:
        """Poll these feeds once; return what happened to each."""
        started = self.clock()
        by_url = {self.fetch_urls.get(state.url, state.url): state for state in states}
        summaries: list[PollSummary] = []
        queue = iter(_interleave_hosts(by_url.items()))
        # One thread for the index batches, started at the first: what SQLite allocates
        # there stays in one malloc arena, not in one per thread of a shared pool.
        with ThreadPoolExecutor(1, thread_name_prefix="tracker-index") as indexer:
            async with self.fetcher(self.settings, self.clock) as fetcher:

                async def lane() -> None:
                    # Lanes share the queue: each takes the next feed, fetches it, waits
                    # for a parser and writes the outcome (one write at a time: ``_writing``).
                    for url, state in queue:
                        result = await fetcher.fetch(_request(state, url))
                        result = _without_credentials(result, state.url)
                        summary = await self._finish(state, result, indexer)
                        summaries.append(summary)
                        if on_poll is not None:
                            on_poll(summary)

                await _run_all([lane() for _ in range(self._lanes(len(by_url)))])
        self.store.end_cycle()  # the cycle's last new items, or a killed run's
        duration = (self.clock() - started).total_seconds()
        return CycleSummary(started, duration, tuple(summaries))

    def _lanes(self, feeds: int) -> int:
        backlog = PARSE_BACKLOG_PER_WORKER * self.pool.workers
        return max(1, min(feeds, max(1, self.settings.concurrency) + backlog))

    async def _finish(
        self, state: FeedState, result: FetchResult, indexer: Executor
    ) -> PollSummary:
        now = self.clock()
        started_at = now - timedelta(seconds=result.elapsed)
        poll = await self._parsed(state, result, started_at, now)
        async with self._writing:
            write_at = self.clock()
            plan = poll_plan(state, poll, self.assess, self.settings, self.rng, write_at)
            summary = self.store.record_poll(state, poll, plan, write_at, index_when_due=False)
            if self.store.index_due:
                # Inside SQLite, on a thread: this one fetches and hands out parses
                # meanwhile, and the next write waits for the batch.
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(indexer, self.store.index_aside)
        _log_poll(summary)
        return summary

    async def _parsed(
        self, state: FeedState, result: FetchResult, started_at: datetime, now: datetime
    ) -> FeedPoll:
        if not result.ok:
            return FeedPoll(state.url, started_at, result, None, result.error_kind, result.error)
        if result.not_modified:
            return FeedPoll(state.url, started_at, result)
        # Items stored from the feed's last document need no new verdicts unless changed.
        known = self.store.last_document_entries(state.id) if state.last_success_at else {}
        try:
            parsed, analyses = await self.pool.parse(
                result, now, self.settings, assess=self.assess, known=known, language=state.language
            )
        except ParseError as exc:
            return FeedPoll(state.url, started_at, result, None, exc.kind, one_line(str(exc)))
        return FeedPoll(state.url, started_at, result, parsed, analyses=analyses)


def poll_plan(
    state: FeedState,
    poll: FeedPoll,
    assess: Assessor,
    settings: Settings,
    rng: random.Random,
    now: datetime,
) -> PollPlan:
    """How to decide this poll's write for the snapshot the store reads: the new and
    changed items the parser workers did not assess are matched here (before the
    store's transaction, and once each), the rest is ``decide``'s."""
    verdicts: dict[str, Sequence[FlagDecision]] = {}

    def plan(snapshot: FeedSnapshot, refused: str | None) -> PollWrite:
        if refused is not None:
            inputs = decide.PollInputs(state, poll, {}, settings, rng, now)
            return decide.decide_refused(inputs, snapshot, refused)
        for item in decide.unassessed(poll, snapshot):
            if item.key not in verdicts:
                verdicts[item.key] = assess(
                    ItemText(item.title, item.summary, item.content, item.language)
                )
        inputs = decide.PollInputs(state, poll, dict(verdicts), settings, rng, now)
        return decide.decide_poll(inputs, snapshot)

    return plan


async def _run_all(lanes: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run the lanes to the end; the first failure (a bug) cancels the others."""
    tasks = [asyncio.create_task(lane) for lane in lanes]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _interleave_hosts(
    feeds: Iterable[tuple[str, FeedState]],
) -> Iterator[tuple[str, FeedState]]:
    """Feeds in turn by host, so lanes waiting for one busy host do not hold up others."""
    by_host: dict[str, list[tuple[str, FeedState]]] = {}
    for url, state in feeds:
        by_host.setdefault(urlsplit(url).hostname or "", []).append((url, state))
    for round_ in itertools.zip_longest(*by_host.values()):
        yield from (feed for feed in round_ if feed is not None)


def _request(state: FeedState, url: str) -> FetchRequest:
    return FetchRequest(url, state.etag, state.last_modified, state.content_hash)


def _without_credentials(result: FetchResult, stored_url: str) -> FetchResult:
    """A result fetched with credentials, made safe to parse and store: item links are
    resolved against a base without them, and the feed keeps its configured URL (a
    permanent redirect is followed on every poll instead of being recorded)."""
    if result.url == stored_url:
        return result
    return replace(
        result,
        url=stored_url,
        final_url=without_userinfo(result.final_url),
        permanent_redirect=None,
    )


def _log_poll(summary: PollSummary) -> None:
    if summary.outcome == "error":
        log.info(
            "poll failed feed=%s kind=%s error=%s",
            redact_url(summary.feed_url),
            summary.error_kind,
            summary.error,
        )
        if summary.stopped:
            log.warning(
                "feed gone, polling stopped feed=%s kind=%s resume='tracker feeds resume URL'",
                redact_url(summary.feed_url),
                summary.error_kind,
            )
    else:
        log.debug(
            "polled feed=%s outcome=%s new=%d updated=%d flags=%d",
            redact_url(summary.feed_url),
            summary.outcome,
            summary.new_items,
            summary.updated_items,
            len(summary.new_flags),
        )


def run_poll(
    poller: Poller,
    states: Sequence[FeedState],
    on_poll: Callable[[PollSummary], None] | None = None,
) -> CycleSummary:
    """Run one poll of these feeds to completion (for the CLI)."""
    return asyncio.run(poller.poll(states, on_poll))
