"""Sending alerts to sinks: retries, time budgets, topic filters and digests.

``AlertSender.send`` never raises: every failure is logged (with the sink's label
and its secrets replaced, see ``registry.SinkType``) and counted in the
``SendReport``. Each sink gets at most ``retries`` attempts per message, a short
backoff between them, and ``retries * timeout`` seconds in all per ``send`` call;
what does not fit fails.

A digest sink takes alerts into memory and sends them as one message when its
period has passed (the first digest goes out at once); a failed digest stays
queued for the next call. Calling ``send([], now)`` flushes digests that are due.
Queued alerts are lost if the process stops. An ``AlertSender`` is not thread-safe.

Must not: know any sink type by name (the registry does), decide what to alert
on, read the wall clock (``now`` is passed in), or touch the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime

from tracker.alerts import (
    Alert,
    DigestState,
    digest_sent,
    digest_to_send,
    for_topics,
    queue_for_digest,
    render_digest,
    render_digest_json,
    render_json,
    render_text,
)
from tracker.models import AlertKey, AlertSink
from tracker.sinks.registry import Attempt, Channel, Message, find_sink_type
from tracker.urls import redact_text

log = logging.getLogger(__name__)

BACKOFF = (0.2, 0.5, 1.0, 2.0)  # seconds before the 2nd, 3rd, 4th... attempt


@dataclass(frozen=True)
class SinkReport:
    """What one ``send`` call did for one sink, counted in alerts."""

    sink: str  # the sink's name, or its redacted address
    delivered: int = 0
    failed: int = 0  # a failed digest's alerts stay queued for the next call
    queued: int = 0  # waiting in memory for this digest sink's next digest
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendReport:
    """What one ``send`` call did."""

    sinks: tuple[SinkReport, ...] = ()
    # Alerts every sink that wanted them has taken (sent, or queued for a digest):
    # the flags behind these can be marked notified.
    delivered: tuple[Alert, ...] = ()

    @property
    def ok(self) -> bool:
        return all(report.failed == 0 for report in self.sinks)


class AlertSender:
    """Sends alerts to sinks, remembering digest state between calls."""

    def __init__(
        self,
        sinks: Sequence[AlertSink],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sinks = tuple(sinks)
        self._clock = clock
        self._sleep = sleep
        self._digests = [DigestState() for _ in self._sinks]

    def send(self, alerts: Sequence[Alert], now: datetime) -> SendReport:
        """Deliver ``alerts`` to every sink that wants them; never raises."""
        reports: list[SinkReport] = []
        missed: set[AlertKey] = set()
        for index, sink in enumerate(self._sinks):
            wanted = [a for a in for_topics(alerts, sink.topics) if wants(sink, a)]
            report, taken = self._send_guarded(index, sink, wanted, now)
            reports.append(report)
            missed |= {alert.key for alert in wanted} - taken
        delivered = tuple(alert for alert in alerts if alert.key not in missed)
        return SendReport(tuple(reports), delivered)

    def _send_guarded(
        self, index: int, sink: AlertSink, alerts: list[Alert], now: datetime
    ) -> tuple[SinkReport, set[AlertKey]]:
        try:
            if sink.digest is not None:
                return self._send_digest(index, sink, alerts, now)
            return self._send_each(sink, alerts, now)
        except Exception:  # a bug must not stop the other sinks, nor the poll cycle
            log.exception("alert sink crashed sink=%s type=%s", sink_label(sink), sink.type)
            return SinkReport(sink_label(sink), failed=len(alerts), errors=("crashed",)), set()

    def _send_each(
        self, sink: AlertSink, alerts: list[Alert], now: datetime
    ) -> tuple[SinkReport, set[AlertKey]]:
        if not alerts:
            return SinkReport(sink_label(sink)), set()
        deadline = self._clock() + sink_budget(sink)
        taken: set[AlertKey] = set()
        errors: list[str] = []
        with ExitStack() as stack:
            channel = open_channel(sink, stack)
            for done, alert in enumerate(alerts):
                if self._clock() >= deadline:
                    _log_out_of_time(sink, skipped=len(alerts) - done)
                    errors.append("no time left for this sink")
                    break
                result = self._deliver(sink, channel, alert_message(alert, now), deadline)
                if result.ok:
                    taken.add(alert.key)
                else:
                    errors.append(_scrub(sink, result.error))
                    _log_failure(sink, result, topic=alert.topic, story=alert.story_id)
        report = SinkReport(sink_label(sink), len(taken), len(alerts) - len(taken))
        return _with_errors(report, errors), taken

    def _send_digest(
        self, index: int, sink: AlertSink, alerts: list[Alert], now: datetime
    ) -> tuple[SinkReport, set[AlertKey]]:
        state, dropped = queue_for_digest(self._digests[index], alerts)
        if dropped:
            log.warning("digest queue full sink=%s dropped=%d", sink_label(sink), len(dropped))
        batch = digest_to_send(state, sink.digest or 0.0, now)
        result = self._send_batch(sink, batch, now) if batch else Attempt(True)
        if batch and result.ok:
            state = digest_sent(state, batch, now)
        elif not result.ok:
            _log_failure(sink, result, digest=len(batch))
        self._digests[index] = state
        sent, failed = (len(batch), 0) if result.ok else (0, len(batch))
        report = SinkReport(sink_label(sink), sent, failed, len(state.pending))
        taken = {alert.key for alert in alerts} - {alert.key for alert in dropped}
        return _with_errors(report, [_scrub(sink, result.error)] if result.error else []), taken

    def _send_batch(self, sink: AlertSink, batch: Sequence[Alert], now: datetime) -> Attempt:
        deadline = self._clock() + sink_budget(sink)
        with ExitStack() as stack:
            channel = open_channel(sink, stack)
            return self._deliver(sink, channel, digest_message(batch, now), deadline)

    def _deliver(
        self, sink: AlertSink, channel: Channel, message: Message, deadline: float
    ) -> Attempt:
        result = Attempt(False, "no time left for this sink", retry=False)
        for attempt in range(max(1, sink.retries)):
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            if attempt:
                self._sleep(min(BACKOFF[min(attempt, len(BACKOFF)) - 1], remaining))
                remaining = deadline - self._clock()
            result = channel(message, max(0.001, min(sink.timeout, remaining)))
            if result.ok or not result.retry:
                return result
            log.debug("alert attempt failed sink=%s attempt=%d", sink_label(sink), attempt + 1)
        return result


# ---- messages --------------------------------------------------------------------------


def wants(sink: AlertSink, alert: Alert) -> bool:
    """Updates and surges go only to the sinks that opted in (``updates``, ``surges``)."""
    if alert.surge_id is not None:
        return sink.surges
    return sink.updates or not alert.update


def alert_message(alert: Alert, now: datetime) -> Message:
    subject, body = render_text(alert)
    return Message(subject, body, render_json(alert), now)


def digest_message(alerts: Sequence[Alert], now: datetime) -> Message:
    subject, body = render_digest(alerts)
    return Message(subject, body, render_digest_json(alerts), now)


def sink_budget(sink: AlertSink) -> float:
    """Seconds one sink may take in one ``send`` call, retries and backoff included."""
    return max(1, sink.retries) * sink.timeout


def sink_label(sink: AlertSink) -> str:
    """How a sink is named in logs and reports: never with its credentials."""
    if sink.name:
        return sink.name
    sink_type = find_sink_type(sink.type)
    return sink_type.label(sink.settings) if sink_type else sink.type


def open_channel(sink: AlertSink, stack: ExitStack) -> Channel:
    """A function sending one message to ``sink``; resources close with ``stack``."""
    sink_type = find_sink_type(sink.type)
    if sink_type is None:
        return lambda message, timeout: Attempt(False, f"unknown sink type {sink.type}", False)
    return sink_type.open_channel(sink.settings, stack)


# ---- logging ---------------------------------------------------------------------------


def _log_failure(sink: AlertSink, result: Attempt, **context: object) -> None:
    details = " ".join(f"{key}={value}" for key, value in context.items())
    log.warning(
        "alert not delivered sink=%s type=%s %s error=%s",
        sink_label(sink),
        sink.type,
        details,
        _scrub(sink, result.error),
    )


def _log_out_of_time(sink: AlertSink, skipped: int) -> None:
    log.warning(
        "alert sink out of time sink=%s type=%s budget=%gs skipped=%d",
        sink_label(sink),
        sink.type,
        sink_budget(sink),
        skipped,
    )


def _with_errors(report: SinkReport, errors: list[str]) -> SinkReport:
    return replace(report, errors=tuple(dict.fromkeys(errors)))


def _scrub(sink: AlertSink, text: str) -> str:
    """``text`` without the sink's secrets (a URL, a password), as some errors quote them."""
    sink_type = find_sink_type(sink.type)
    for secret, shown in (sink_type.secrets(sink.settings) if sink_type else {}).items():
        if secret:
            text = text.replace(secret, shown)
    return redact_text(text)  # URLs an error quotes in another form than the configured one
