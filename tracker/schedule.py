"""When to poll a feed next (pure).

Takes a feed's current state and the outcome of its last poll, returns the next
poll time and the interval the feed is now on. Feeds that publish often are
polled more often, quiet feeds less, within bounds around the configured
interval; ``Cache-Control``/``Expires`` and ``Retry-After`` are honoured; failures
back off exponentially (capped, with jitter); a feed failing for days is "dead"
and retried daily; a feed that answered 410 Gone, or failed for ``gone_after``, is
"gone": it is not polled again until resumed. Time and randomness are passed in.

Must not: read the clock, the database or the network.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker.errors import ErrorKind
from tracker.models import Settings

FASTER = 0.75  # interval factor after a poll that found new items
SLOWER = 1.25  # interval factor after a poll that found nothing new
SPEEDUP_BOUND = 4.0  # never poll more often than the configured interval / this
SLOWDOWN_BOUND = 4.0  # never poll less often than the configured interval * this
BACKOFF_CAP = 6 * 3600.0
DEAD_AFTER = 3 * 86400.0  # failing this long: the feed is dead, retried daily
DEAD_RETRY = 86400.0
RETRY_AFTER_CAP = 86400.0
JITTER = 0.1
FLOOR = 10.0


@dataclass(frozen=True)
class PollTiming:
    """The next poll of a feed and the interval it is on."""

    next_poll_at: datetime
    interval: float


def bounds(configured: float, settings: Settings) -> tuple[float, float]:
    low = max(FLOOR, min(configured, max(configured / SPEEDUP_BOUND, settings.min_interval)))
    high = max(configured, min(configured * SLOWDOWN_BOUND, settings.max_interval))
    return low, high


def after_success(
    configured: float,
    current: float | None,
    new_items: int,
    max_age: float | None,
    settings: Settings,
    now: datetime,
    rng: random.Random,
) -> PollTiming:
    """Adapt the interval to how often the feed publishes."""
    low, high = bounds(configured, settings)
    interval = current or configured
    interval = interval * (FASTER if new_items else SLOWER)
    if max_age:
        interval = max(interval, min(max_age, high))
    interval = min(max(interval, low), high)
    return PollTiming(now + timedelta(seconds=_jitter(interval, rng)), interval)


def after_failure(
    configured: float,
    current: float | None,
    failures: int,
    retry_after: float | None,
    failing_for: float,
    now: datetime,
    rng: random.Random,
) -> PollTiming:
    """Back off exponentially; honour Retry-After; retry dead feeds daily."""
    if failing_for >= DEAD_AFTER:
        delay = DEAD_RETRY
    else:
        delay = min(configured * 2 ** max(failures - 1, 0), max(BACKOFF_CAP, configured))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return PollTiming(now + timedelta(seconds=_jitter(delay, rng)), current or configured)


def furthest_ahead(settings: Settings, intervals: Iterable[float | None]) -> float:
    """The furthest ahead, in seconds, that any poll of these feeds is ever scheduled.

    A next poll time beyond ``now`` plus this was set before the clock went back:
    such a feed is due at once rather than stranded for as long as the clock jumped.
    """
    longest = max((interval for interval in intervals if interval), default=0.0)
    bound = max(
        longest, settings.interval, settings.max_interval, BACKOFF_CAP, DEAD_RETRY, RETRY_AFTER_CAP
    )
    return bound * (1 + JITTER)


def is_dead(failing_for: float) -> bool:
    return failing_for >= DEAD_AFTER


def is_gone(error_kind: str | None, failing_for: float, settings: Settings) -> bool:
    """Whether a feed that just failed stops being polled: the server said 410 Gone,
    or the feed has failed for ``settings.gone_after``. A write the database refused
    is tracker's own trouble, never the feed's."""
    if error_kind == ErrorKind.GONE:
        return True
    return error_kind != ErrorKind.STORE and failing_for >= settings.gone_after


def first_poll_at(now: datetime, interval: float, rng: random.Random) -> datetime:
    """Spread new feeds' first polls over a short window instead of all at once."""
    return now + timedelta(seconds=rng.uniform(0, min(interval, 60.0) * JITTER))


def _jitter(seconds: float, rng: random.Random) -> float:
    return max(FLOOR / 2, seconds * rng.uniform(1 - JITTER, 1 + JITTER))
