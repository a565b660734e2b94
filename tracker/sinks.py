"""Delivering alerts to the configured ``[[alerts]]`` sinks.

Owns the I/O of alerting: webhooks (a JSON POST over httpx), e-mail (stdlib
``smtplib``) and Apprise (through ``apprise_sink``, the only module that imports
apprise), with bounded retries, per-sink topic filters and in-memory digests.
What a message says comes from ``alerts``; this module only sends it.

``AlertSender.send`` never raises: every failure is logged (credentials in URLs
redacted, passwords never written) and counted in the ``SendReport``. Each sink
gets at most ``retries`` attempts per message, a short backoff between them, and
``retries * timeout`` seconds in all per ``send`` call; what does not fit fails.

A digest sink takes alerts into memory and sends them as one message when its
period has passed (the first digest goes out at once); a failed digest stays
queued for the next call. Calling ``send([], now)`` flushes digests that are due.
Queued alerts are lost if the process stops. An ``AlertSender`` is not thread-safe.

Must not: decide what to alert on, read the wall clock (``now`` is passed in),
or touch the database.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx

from tracker import USER_AGENT
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
from tracker.config import AlertSink
from tracker.urls import redact_url

log = logging.getLogger(__name__)

BACKOFF = (0.2, 0.5, 1.0, 2.0)  # seconds before the 2nd, 3rd, 4th... attempt
TRANSIENT_STATUS = frozenset({408, 425, 429})  # and every 5xx: worth another attempt
DEFAULT_SENDER = "tracker@localhost"
MESSAGE_ID_DOMAIN = "tracker.invalid"  # make_msgid would otherwise look up this host's name
APPRISE_MISSING = "apprise is not installed: pip install 'tracker[alerts]'"
REDACTED = "***"


@dataclass(frozen=True)
class Message:
    """One message to send: text for e-mail and chat, a payload for webhooks."""

    subject: str
    body: str
    payload: dict[str, Any]
    date: datetime


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try at sending one message to one sink."""

    ok: bool
    error: str = ""
    retry: bool = True  # whether another attempt could succeed


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


Channel = Callable[[Message, float], Attempt]  # sends one message within a timeout


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
        missed: set[tuple[str, int]] = set()
        for index, sink in enumerate(self._sinks):
            wanted = for_topics(alerts, sink.topics)
            report, taken = self._send_guarded(index, sink, wanted, now)
            reports.append(report)
            missed |= {alert.key for alert in wanted} - taken
        delivered = tuple(alert for alert in alerts if alert.key not in missed)
        return SendReport(tuple(reports), delivered)

    def _send_guarded(
        self, index: int, sink: AlertSink, alerts: list[Alert], now: datetime
    ) -> tuple[SinkReport, set[tuple[str, int]]]:
        try:
            if sink.digest is not None:
                return self._send_digest(index, sink, alerts, now)
            return self._send_each(sink, alerts, now)
        except Exception:  # a bug must not stop the other sinks, nor the poll cycle
            log.exception("alert sink crashed sink=%s type=%s", sink_label(sink), sink.type)
            return SinkReport(sink_label(sink), failed=len(alerts), errors=("crashed",)), set()

    def _send_each(
        self, sink: AlertSink, alerts: list[Alert], now: datetime
    ) -> tuple[SinkReport, set[tuple[str, int]]]:
        if not alerts:
            return SinkReport(sink_label(sink)), set()
        deadline = self._clock() + sink_budget(sink)
        taken: set[tuple[str, int]] = set()
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
    ) -> tuple[SinkReport, set[tuple[str, int]]]:
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
    if sink.type == "email":
        return f"smtp://{sink.smtp_host}:{sink.smtp_port}"
    if sink.type == "apprise":  # apprise URLs hide tokens anywhere: show the service only
        return f"{urlsplit(sink.url).scheme or 'apprise'}://{REDACTED}"
    return redact_url(sink.url)


# ---- channels --------------------------------------------------------------------------


def open_channel(sink: AlertSink, stack: ExitStack) -> Channel:
    """A function sending one message to ``sink``; resources close with ``stack``."""
    if sink.type == "webhook":
        client = stack.enter_context(
            httpx.Client(timeout=sink.timeout, headers={"User-Agent": USER_AGENT})
        )
        return partial(post_webhook, client, sink.url)
    if sink.type == "email":
        return partial(send_email, sink)
    if sink.type == "apprise":
        return apprise_channel(sink.url)
    return lambda message, timeout: Attempt(False, f"unknown sink type {sink.type}", False)


def post_webhook(client: httpx.Client, url: str, message: Message, timeout: float) -> Attempt:
    """POST the message's JSON payload; any 2xx answer is a delivery."""
    try:
        # Streamed so that the answer's body is never read: only its status matters.
        with client.stream("POST", url, json=message.payload, timeout=timeout) as response:
            status = response.status_code
    except httpx.InvalidURL as exc:
        return Attempt(False, f"invalid URL: {exc}", retry=False)
    except httpx.HTTPError as exc:
        return Attempt(False, f"{type(exc).__name__}: {exc}".rstrip(": "))
    if 200 <= status < 300:
        return Attempt(True)
    return Attempt(False, f"HTTP {status}", retry=status >= 500 or status in TRANSIENT_STATUS)


def send_email(sink: AlertSink, message: Message, timeout: float) -> Attempt:
    """Send the message as one plain-text e-mail over SMTP."""
    try:
        with smtplib.SMTP(sink.smtp_host, sink.smtp_port, timeout=timeout) as smtp:
            if sink.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if sink.smtp_user:
                smtp.login(sink.smtp_user, sink.smtp_password)
            smtp.send_message(email_message(sink, message))
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused) as exc:
        return Attempt(False, f"{type(exc).__name__}: {exc}", retry=False)
    except (OSError, ValueError) as exc:  # smtplib.SMTPException is an OSError
        return Attempt(False, f"{type(exc).__name__}: {exc}")
    return Attempt(True)


def email_message(sink: AlertSink, message: Message) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = sink.sender or DEFAULT_SENDER
    email["To"] = ", ".join(sink.to)
    email["Date"] = format_datetime(message.date)
    email["Message-ID"] = make_msgid(domain=MESSAGE_ID_DOMAIN)
    email.set_content(message.body)
    return email


def apprise_channel(url: str) -> Channel:
    """Send through Apprise, or fail clearly when the optional extra is missing."""
    try:
        from tracker.apprise_sink import notify_apprise
    except ImportError:
        return lambda message, timeout: Attempt(False, APPRISE_MISSING, retry=False)

    def notify(message: Message, timeout: float) -> Attempt:
        # Apprise applies its own per-service timeouts; ``timeout`` cannot be passed on.
        if notify_apprise(url, message.subject, message.body):
            return Attempt(True)
        return Attempt(False, "apprise could not deliver the message")

    return notify


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
    """``text`` without the sink's URL or password in it, as some errors quote them."""
    if sink.url:
        shown = sink_label(sink) if sink.type == "apprise" else redact_url(sink.url)
        text = text.replace(sink.url, shown)
    if sink.smtp_password:
        text = text.replace(sink.smtp_password, REDACTED)
    return text
