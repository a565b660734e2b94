"""The poll cycle: the imperative shell that ties fetch, parse, match and store.

For a set of feeds: fetch them concurrently over one shared client, parse each
body in a worker process (bounded in time, killable), match new and changed items
against the topics, and write each feed's outcome in one transaction. Per-feed
errors are recorded on the feed and the cycle goes on; anything unexpected is
logged loudly and re-raised. This is the only place below the CLI and the
service that reads the clock.

Must not: decide anything itself (``schedule``, ``matching`` and ``store`` do).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tracker import schedule
from tracker.errors import ParseError
from tracker.fetch import Fetcher
from tracker.models import FeedPoll, FetchRequest, FetchResult, ParsedFeed, Settings
from tracker.parse import parse_feed
from tracker.store import Assessor, FeedState, PollSummary, Store, parse_iso
from tracker.urls import redact_url

log = logging.getLogger(__name__)


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


class ParsePool:
    """Worker processes for parsing: feedparser is pure Python, so parsing runs
    in processes to use every core, and a parse that runs past its time limit
    is stopped by killing its worker."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            self._executor = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=context
            )
        return self._executor

    async def parse(self, result: FetchResult, now: datetime, settings: Settings) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._pool(),
            _parse_job,
            result.body,
            dict(result.headers),
            result.final_url,
            now,
            settings.max_items_per_poll,
        )
        try:
            return await asyncio.wait_for(future, settings.parse_timeout)
        except TimeoutError:
            self.kill()
            raise ParseError(
                f"parsing took longer than {settings.parse_timeout:g}s; stopped",
                kind="parse_timeout",
            ) from None
        except concurrent.futures.process.BrokenProcessPool:
            self.kill()
            raise ParseError(
                "the parser worker crashed on this document", kind="parse_crash"
            ) from None

    def kill(self) -> None:
        """Stop every worker now (a runaway parse cannot be interrupted otherwise)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # ProcessPoolExecutor has no public way to stop a running task.
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _parse_job(
    body: bytes, headers: dict[str, str], url: str, now: datetime, max_items: int
) -> ParsedFeed:
    return parse_feed(body, headers, url, now, max_items=max_items)


@dataclass
class Poller:
    """Polls feeds into a store; one per process, used from one event loop."""

    store: Store
    settings: Settings
    assess: Assessor
    pool: ParsePool
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], datetime] = utcnow

    async def poll(
        self, states: Sequence[FeedState], on_poll: Callable[[PollSummary], None] | None = None
    ) -> CycleSummary:
        """Poll these feeds once; return what happened to each."""
        started = self.clock()
        by_url = {state.url: state for state in states}
        summaries: list[PollSummary] = []
        requests = [_request(state) for state in states]
        async with Fetcher(self.settings) as fetcher:
            async for result in fetcher.fetch_many(requests):
                summary = await self._finish(by_url[result.url], result)
                summaries.append(summary)
                if on_poll is not None:
                    on_poll(summary)
        duration = (self.clock() - started).total_seconds()
        return CycleSummary(started, duration, tuple(summaries))

    async def _finish(self, state: FeedState, result: FetchResult) -> PollSummary:
        now = self.clock()
        started_at = now - timedelta(seconds=result.elapsed)
        poll = await self._parsed(state, result, started_at, now)
        summary = self.store.record_poll(
            state,
            poll,
            self.assess,
            lambda new: self._timing(state, poll, new, now),
            self.clock(),
        )
        _log_poll(summary)
        return summary

    async def _parsed(
        self, state: FeedState, result: FetchResult, started_at: datetime, now: datetime
    ) -> FeedPoll:
        if not result.ok:
            return FeedPoll(state.url, started_at, result, None, result.error_kind, result.error)
        if result.not_modified:
            return FeedPoll(state.url, started_at, result)
        try:
            parsed = await self.pool.parse(result, now, self.settings)
        except ParseError as exc:
            return FeedPoll(state.url, started_at, result, None, exc.kind, str(exc)[:1024])
        return FeedPoll(state.url, started_at, result, parsed)

    def _timing(
        self, state: FeedState, poll: FeedPoll, new_items: int, now: datetime
    ) -> tuple[datetime, float]:
        configured = state.interval or self.settings.interval
        if poll.error is None:
            timing = schedule.after_success(
                configured,
                state.poll_interval,
                new_items,
                poll.fetch.max_age,
                self.settings,
                now,
                self.rng,
            )
        else:
            failing_since = parse_iso(state.failing_since) or now
            timing = schedule.after_failure(
                configured,
                state.poll_interval,
                state.consecutive_failures + 1,
                poll.fetch.retry_after,
                (now - failing_since).total_seconds(),
                now,
                self.rng,
            )
        return timing.next_poll_at, timing.interval


def _request(state: FeedState) -> FetchRequest:
    return FetchRequest(state.url, state.etag, state.last_modified, state.content_hash)


def _log_poll(summary: PollSummary) -> None:
    if summary.outcome == "error":
        log.info(
            "poll failed feed=%s kind=%s error=%s",
            redact_url(summary.feed_url),
            summary.error_kind,
            summary.error,
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
