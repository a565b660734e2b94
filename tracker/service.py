"""``tracker run``: the background service (APScheduler is the clock).

One dispatcher job (``coalesce=True``, ``max_instances=1``, a misfire grace) runs
every tick: it reloads the config and topics when their files changed (or on
SIGHUP; a topic edit that would flag too many recent items is held back, the
last good topics kept, until ``tracker rescore --confirm``), polls the feeds whose
``next_poll_at`` has come, then runs the after-cycle hooks (``tracker.hooks``: by
default it places new flags in their developments, sends alerts for new
developments, records the cycle in ``service_runs`` and prunes old story bands and
history). Scheduling
state lives in the ``feeds`` table, so a restart resumes where it stopped. One
service per database, enforced with a lock file beside it. SIGTERM/SIGINT stop
new polls, let the running cycle finish (bounded) and exit 0.

The service reads the time only through its ``clock`` (aware UTC; tests pass a
fixed or stepping one) and hands it to the poller and to the hooks as ``now``.

Must not: decide when a feed is due (``store``/``schedule`` do) or how to match.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import random
import signal
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tracker import schedule
from tracker.alerts import alerts_from_flags, alerts_from_surges, story_pages
from tracker.articles import fetch_article_text
from tracker.config import Config, load_config
from tracker.errors import ServiceLocked, StoreError, TrackerError, cap_message
from tracker.hooks import (
    AfterCycleHook,
    FinishedCycle,
    detect_developments,
    detect_surges,
    run_after_cycle,
)
from tracker.logs import once
from tracker.models import RescoreChange
from tracker.poll import CycleSummary, ParsePool, Poller, utcnow
from tracker.readiness import setup_gaps
from tracker.retention import PruneReport, prune_due, prune_plan
from tracker.sinks import AlertSender
from tracker.store import Store
from tracker.topicset import TopicSet, check_topic_edit, load_topic_set, rescore_changed_topics
from tracker.urls import redact_url, secret_urls

log = logging.getLogger(__name__)

JOB_ID = "dispatch"
STOP_GRACE = 5.0  # seconds beyond a fetch deadline and a parse limit to finish a cycle
SETTLE = 1.0  # seconds an edited config or topic file must stay unchanged to be applied
# Transactions the daily [retention] prune takes per cycle: a big backlog (retention
# just turned on) is spread over cycles, so polling never stops for long.
PRUNE_BATCHES_PER_CYCLE = 20


@contextlib.contextmanager
def single_instance(db_path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the database for the service's lifetime."""
    lock_path = db_path.with_name(db_path.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise StoreError(
            f"{db_path}: cannot run here: {exc.strerror} (the service writes its database "
            f"and a lock file in {lock_path.parent})"
        ) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise ServiceLocked(
                f"another tracker service is already running on {db_path} (pid {owner}); "
                "stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def files_fingerprint(config_path: Path, topics_dir: Path) -> str:
    """A hash of the config file and every topic file, to notice edits and renames."""
    digest = hashlib.sha256()
    paths = (
        [config_path, *sorted(topics_dir.glob("*.toml"))] if topics_dir.is_dir() else [config_path]
    )
    for path in paths:
        digest.update(str(path).encode())
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Service:
    """The running service's state: the last good config and topics."""

    config_path: Path
    db_override: Path | None
    tick: float
    config: Config
    topics: TopicSet
    store: Store
    run_id: int = 0
    fingerprint: str = ""
    reload_requested: bool = False
    stopping: bool = False
    cycle_task: asyncio.Task[None] | None = None
    pool: ParsePool = field(default_factory=lambda: ParsePool(os.cpu_count() or 1))
    sender: AlertSender | None = None
    pruned_at: datetime | None = None
    retained_at: datetime | None = None  # when the last [retention] prune finished
    retaining: bool = False  # a [retention] prune is under way, a few batches a cycle
    retained_today: PruneReport = field(default_factory=PruneReport)  # the day's prune so far
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], datetime] = utcnow  # the wall clock, aware UTC
    held_topics: TopicSet | None = None  # an edit held back until `rescore --confirm`
    after_cycle_hooks: list[AfterCycleHook] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.after_cycle_hooks = self.default_hooks()

    def default_hooks(self) -> list[AfterCycleHook]:
        """What every cycle does after its poll, in order (see ``tracker.hooks``)."""
        return [
            fetch_article_text,
            detect_developments,
            detect_surges,
            self.send_alerts,
            self.record_cycle,
            self.prune_story_bands,
            self.prune_history,
        ]

    # ---- live configuration ------------------------------------------------------------

    async def maybe_reload(self, now: datetime) -> None:
        self.take_confirmed_edit(now)
        fingerprint = files_fingerprint(self.config_path, self.config.topics_dir)
        if fingerprint == self.fingerprint and not self.reload_requested:
            return
        # A file being written, or saved by an editor that moves the old one away first,
        # is briefly half there or missing: only files that stay unchanged are read.
        await asyncio.sleep(SETTLE)
        if files_fingerprint(self.config_path, self.config.topics_dir) != fingerprint:
            return  # still changing: look again next tick
        self.reload_requested = False
        self.fingerprint = fingerprint
        new_config, new_topics, errors = self.read_files()
        if new_topics is not self.topics:
            new_topics = self.guard(new_topics, new_config, now)
        error = "\n".join(errors) or None
        # An error or a held-back edit was logged as such: no "applied" line contradicts it.
        said = error is not None or new_topics is self.topics
        self.apply(new_config, new_topics, now, error, spread=True, announce=not said)

    def read_files(self) -> tuple[Config, TopicSet, list[str]]:
        """The config and topics on disk; the ones in force for a file that is invalid."""
        errors: list[str] = []
        new_config, new_topics = self.config, self.topics
        try:
            new_config = load_config(self.config_path)
        except TrackerError as exc:
            errors.append(str(exc))
            log.error("config not applied, keeping the last good one error=%s", exc)
        try:
            new_topics = load_topic_set(new_config.topics_dir, new_config.seeds_dir)
        except TrackerError as exc:
            errors.append(str(exc))
            log.error("topics not applied, keeping the last good ones error=%s", exc)
        return new_config, new_topics, errors

    def guard(self, topics: TopicSet, config: Config, now: datetime) -> TopicSet:
        """The topics to put in force: ``topics``, unless the edit would flag more of
        the recent items than the settings allow; then the ones in force, until
        ``tracker rescore --confirm`` (``take_confirmed_edit``)."""
        check = check_topic_edit(self.store, topics, now, config.settings)
        if not check.hold:
            if self.held_topics is not None:
                log.info("held-back topic edit replaced by a new one")
                self.store.record_topics_held_back(self.run_id, None, now)
            self.held_topics = None
            return topics
        self.held_topics = topics
        reason = check.reason()
        log.warning("topic edit held back, keeping the last good topics reason=%s", reason)
        self.store.record_topics_held_back(self.run_id, reason, now)
        return self.topics

    def take_confirmed_edit(self, now: datetime) -> None:
        """Put the held-back topics in force once ``tracker rescore --confirm`` has
        rescored the stored items with them (the store's topic versions are theirs)."""
        held = self.held_topics
        if held is None or self.store.changed_topics({t.name: t.version for t in held.topics}):
            return
        self.held_topics = None
        self.store.record_topics_held_back(self.run_id, None, now)
        log.info("held-back topic edit confirmed, applied topics=%d", len(held.topics))
        self.apply(self.config, held, now, announce=False)

    def apply(
        self,
        new_config: Config,
        new_topics: TopicSet,
        now: datetime,
        error: str | None = None,
        *,
        spread: bool = False,
        announce: bool = True,
    ) -> None:
        """Put a validated config and topics in force (either may be the old one when
        the other file had ``error``). With ``spread`` (a reload while running), the
        feeds it adds are first polled over a few seconds rather than all at once;
        ``announce`` logs "config applied"."""
        if self.sender is None or new_config.alerts != self.config.alerts:
            self.sender = AlertSender(new_config.alerts)  # a digest in progress is kept otherwise
        self.config, self.topics = new_config, new_topics
        self.store.record_config_error(self.run_id, error, now)
        first_polls = self.first_polls(new_config, now) if spread else None
        self.store.sync_feeds(new_config.feeds, now, first_polls)
        for warning in new_config.warnings:
            log.warning("config warning=%s", warning, extra=once(warning))
        if announce:
            log.info(
                "config applied feeds=%d topics=%d", len(new_config.feeds), len(new_topics.topics)
            )
        log_rescore(
            rescore_changed_topics(self.store, new_topics, now, surges=new_config.developments)
        )

    def first_polls(self, config: Config, now: datetime) -> dict[str, datetime]:
        """When each feed is first polled if it is new: spread over a few seconds
        (``schedule.first_poll_at``), so that feeds added at once are not all due at
        once. Only a reload spreads them: at start the first cycle polls every feed,
        and ``tracker poll`` polls a new feed at once."""
        settings = config.settings
        return {
            feed.url: schedule.first_poll_at(now, feed.interval or settings.interval, self.rng)
            for feed in config.feeds
        }

    # ---- one cycle -----------------------------------------------------------------------

    async def dispatch(self) -> None:
        """The scheduler's job: one cycle, never two at once."""
        if self.stopping:
            return
        self.cycle_task = asyncio.current_task()
        try:
            await self.cycle()
        except Exception:
            log.exception("cycle failed")
        finally:
            self.cycle_task = None

    async def cycle(self) -> None:
        now = self.clock()
        await self.maybe_reload(now)
        summary = await self.poll_due(now)
        finished = FinishedCycle(summary, self.clock(), self.store, self.config, self.topics)
        run_after_cycle(self.after_cycle_hooks, finished)
        self.store.checkpoint()

    async def poll_due(self, now: datetime) -> CycleSummary:
        """Poll the feeds that are due; an empty summary when none is."""
        feeds = self.config.feeds
        horizon = schedule.furthest_ahead(self.config.settings, (f.interval for f in feeds))
        due = self.store.due_feeds(now, horizon)
        if not due:
            return CycleSummary(now, 0.0)
        poller = Poller(
            self.store,
            self.config.settings,
            self.topics.assess,
            self.pool,
            clock=self.clock,
            fetch_urls=secret_urls(f.url for f in feeds),
        )
        return await poller.poll(due)

    # ---- the default after-cycle hooks ---------------------------------------------------

    def send_alerts(self, cycle: FinishedCycle) -> Mapping[str, object]:
        """Send alerts for the flags and surges not notified yet; mark those every sink
        took."""
        flags = self.store.unnotified_flags()
        surges = self.store.unnotified_surges()
        if not flags and not surges:
            return {"alerts_sent": 0}
        fresh = [f for f in flags if not self.store.already_alerted(f)]
        # Updates of developments already alerted go to the sinks with ``updates = true``
        # (once: a failed update is not sent again); repeats never go anywhere.
        wanted = any(sink.updates for sink in self.config.alerts)
        updates = [f for f in flags if wanted and f not in fresh and f.development_role == "update"]
        # Surges go to the sinks with ``surges = true``; one that failed is sent again.
        spread = surges if any(sink.surges for sink in self.config.alerts) else []
        if self.sender is None or not self.config.alerts or not (fresh or updates or spread):
            self.store.mark_notified(flags, cycle.now)
            self.store.mark_surges_notified([s.id for s in surges], cycle.now)
            return {"alerts_sent": 0}
        pages = story_pages(self.config.settings.browse_url, Path(self.store.path).stem)
        alerts = alerts_from_flags(fresh, pages) + alerts_from_flags(updates, pages, update=True)
        report = self.sender.send(alerts + alerts_from_surges(spread, pages), cycle.now)
        delivered = {a.key for a in report.delivered}
        done = [f for f in flags if f.alert_key in delivered or f not in fresh]
        self.store.mark_notified(done, cycle.now)
        taken = {a.surge_id for a in report.delivered if a.surge_id is not None}
        self.store.mark_surges_notified(
            [s.id for s in surges if s.id in taken or s not in spread], cycle.now
        )
        return {"alerts_sent": len(delivered)}

    def record_cycle(self, cycle: FinishedCycle) -> None:
        """Log the cycle (when it polled) and record it in ``service_runs``."""
        summary, facts = cycle.summary, cycle.facts
        record: dict[str, Any] = {"started_at": summary.started_at.isoformat(), "feeds": 0}
        if summary.feeds:
            record = summary.as_dict()
            log_cycle(summary, facts.get("alerts_sent", 0))
        # Finished after the alerts, which may take a while: ``tracker status`` reads
        # this time to tell a stalled service.
        self.store.record_cycle(self.run_id, record | dict(facts), self.clock())

    def prune_story_bands(self, cycle: FinishedCycle) -> None:
        """Once a day (and at the first cycle), drop the story bands no item needs."""
        now = cycle.now
        if not prune_due(self.pruned_at, now):
            return
        self.pruned_at = now
        log.info("story bands pruned rows=%d", self.store.prune_story_bands(now))

    def prune_history(self, cycle: FinishedCycle) -> Mapping[str, object] | None:
        """Once a day, what ``[retention]`` says goes: ``PRUNE_BATCHES_PER_CYCLE`` short
        transactions per cycle until it is done (``tracker prune`` does it at once)."""
        if not self.retaining:
            if not prune_due(self.retained_at, cycle.now):
                return None
            self.retained_today = PruneReport()  # a new day's prune
        plan = prune_plan(cycle.config.retention, cycle.now, self.retained_today)
        report = self.store.prune(plan, max_batches=PRUNE_BATCHES_PER_CYCLE)
        self.retained_today = self.retained_today.plus(report)
        self.retaining = not report.finished
        if report.finished:
            self.retained_at = cycle.now
        log.info(
            "history pruned polls=%d items=%d pages_freed=%d batches=%d merge_steps=%d finished=%s",
            report.polls,
            report.items,
            report.pages_freed,
            report.batches,
            report.merge_steps,
            report.finished,
        )
        if not report.polls and not report.items:
            return None
        return {"pruned_polls": report.polls, "pruned_items": report.items}


EXAMPLES_LOGGED = 5  # titles named in a rescore's summary line


def log_rescore(changes: Sequence[RescoreChange]) -> None:
    """One line per rescore: how many items became flagged or unflagged, and a few
    of their titles."""
    if not changes:
        return
    flagged = [c for c in changes if c.became_flagged]
    examples = "; ".join(f"{'+' if c.became_flagged else '-'}{c.title}" for c in changes)
    log.info(
        "rescore topics=%s flagged=%d unflagged=%d examples=%s",
        ",".join(sorted({c.topic for c in changes})),
        len(flagged),
        len(changes) - len(flagged),
        cap_message(examples, 100 * EXAMPLES_LOGGED),
    )


def log_cycle(summary: CycleSummary, alerts: object) -> None:
    """The cycle's counts, then each new flag's title and each failing feed."""
    log.info(
        "cycle feeds=%d new_items=%d new_flags=%d errors=%d alerts=%s duration=%.1fs",
        summary.feeds,
        summary.new_items,
        summary.new_flags,
        summary.errors,
        alerts,
        summary.duration,
    )
    for poll in summary.polls:
        for flag in poll.new_flags:
            log.info("flagged topic=%s feed=%s title=%s", flag.topic, flag.feed, flag.title)
        if poll.outcome == "error":
            log.info(
                "feed failed feed=%s kind=%s error=%s",
                redact_url(poll.feed_name),
                poll.error_kind,
                poll.error,
            )


def run_service(
    config_path: Path,
    db_override: Path | None,
    *,
    tick: float = 10.0,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    first = load_config(config_path)
    db_path = db_override or first.db_path
    with single_instance(db_path), Store(db_path) as store:
        store.check_writable()
        topics = load_topic_set(first.topics_dir, first.seeds_dir)
        service = Service(config_path, db_override, tick, first, topics, store, clock=clock)
        return asyncio.run(_serve(service))


async def _serve(service: Service) -> int:
    now = service.clock()
    service.run_id = service.store.start_service_run(os.getpid(), socket.gethostname(), now)
    service.fingerprint = files_fingerprint(service.config_path, service.config.topics_dir)
    service.apply(service.config, service.topics, now)
    for gap in setup_gaps(
        len(service.config.feeds), len(service.topics.topics), service.config.topics_dir
    ):
        log.warning("nothing to do: %s", gap)
    stopped = asyncio.Event()
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        service.dispatch,
        "interval",
        seconds=service.tick,
        id=JOB_ID,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(service.tick)),
        next_run_time=now,
    )
    _install_signals(service, scheduler, stopped)
    scheduler.start()
    log.info("service started pid=%d db=%s tick=%gs", os.getpid(), service.store.path, service.tick)
    await stopped.wait()
    await _finish(service, scheduler)
    return 0


def _install_signals(service: Service, scheduler: AsyncIOScheduler, stopped: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if service.stopping:
            return  # a second signal (Ctrl-C twice, SIGTERM to the group): said once
        log.info("stopping: finishing the running cycle")
        service.stopping = True
        stopped.set()

    def reload() -> None:
        service.reload_requested = True
        scheduler.modify_job(JOB_ID, next_run_time=service.clock())

    loop.add_signal_handler(signal.SIGTERM, stop)
    loop.add_signal_handler(signal.SIGINT, stop)
    loop.add_signal_handler(signal.SIGHUP, reload)


async def _finish(service: Service, scheduler: AsyncIOScheduler) -> None:
    # Shutting the scheduler down cancels the job it is running: pause it first, let the
    # running cycle finish (its polls are recorded), then shut it down.
    scheduler.pause()
    task = service.cycle_task
    settings = service.config.settings
    if task is not None and not task.done():
        grace = settings.deadline + settings.parse_timeout + STOP_GRACE
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.warning("cycle did not finish in %gs; cancelling", grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    scheduler.shutdown(wait=False)
    service.pool.close()
    service.store.stop_service_run(service.run_id, service.clock())
    log.info("service stopped")
