"""Delivering alerts to the configured ``[[alerts]]`` sinks: one module per sink type.

``sender`` owns what every sink shares (retries, time budgets, topic filters,
digests, logging without secrets); ``webhook`` (a JSON POST over httpx),
``email`` (stdlib ``smtplib``) and ``apprise`` (the only importer of apprise)
each register a sink type in ``registry``: its keys, its channel, its label.
What a message says comes from ``alerts``; these modules only send it.

Adding a sink type is one module here and its docs. The module registers the
type, and this package imports it (below) so that it is registered before any
config is read::

    # tracker/sinks/pager.py
    @dataclass(frozen=True)
    class PagerSettings:
        url: str
        urgent: bool = False

    def open_pager(settings: PagerSettings, stack: ExitStack) -> Channel:
        client = stack.enter_context(httpx.Client())  # closed after the message(s)
        return partial(page, client, settings)  # (Message, timeout) -> Attempt

    register(SinkType(
        "pager", PagerSettings,
        {"url": SinkKey(str, required=True), "urgent": SinkKey(bool)},
        open_pager,
        label=lambda settings: redact_url(settings.url),  # shown in logs
        secrets=lambda settings: {settings.url: redact_url(settings.url)},
    ))

Users then write ``type = "pager"`` with ``url`` and ``urgent`` beside the shared
keys (``name``, ``topics``, ``digest``, ``timeout``, ``retries``); ``config``
checks the types, the required keys and misspellings, naming file, line and key.
Document each key in README's ``[[alerts]]`` table (``tests/test_docs.py`` checks).

Must not: decide what to alert on, read the wall clock, or touch the database.
"""

from __future__ import annotations

from tracker.sinks import apprise, email, webhook  # noqa: F401 - each registers its type
from tracker.sinks.apprise import APPRISE_MISSING
from tracker.sinks.registry import (
    Attempt,
    Channel,
    Message,
    SinkKey,
    SinkType,
    find_sink_type,
    register,
    sink_types,
)
from tracker.sinks.sender import AlertSender, SendReport, SinkReport, sink_label

__all__ = [
    "APPRISE_MISSING",
    "AlertSender",
    "Attempt",
    "Channel",
    "Message",
    "SendReport",
    "SinkKey",
    "SinkReport",
    "SinkType",
    "find_sink_type",
    "register",
    "sink_label",
    "sink_types",
]
