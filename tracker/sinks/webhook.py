"""The ``webhook`` sink type: each message is a JSON POST over httpx.

Any 2xx answer is a delivery; a 5xx or a transient status (408, 425, 429) or a
network error is worth another attempt, anything else is not. The URL may hold
a token: it is shown redacted (``redact_url``) in logs and reports.

Must not: read the answer's body, retry (the sender does) or log.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial

import httpx

from tracker import USER_AGENT
from tracker.sinks.registry import Attempt, Channel, Message, SinkKey, SinkType, register
from tracker.urls import redact_url

TRANSIENT_STATUS = frozenset({408, 425, 429})  # and every 5xx: worth another attempt


@dataclass(frozen=True)
class WebhookSettings:
    """The keys of a ``type = "webhook"`` entry."""

    url: str


def open_webhook(settings: WebhookSettings, stack: ExitStack) -> Channel:
    client = stack.enter_context(httpx.Client(headers={"User-Agent": USER_AGENT}))
    return partial(post_webhook, client, settings.url)


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


def webhook_label(settings: WebhookSettings) -> str:
    return redact_url(settings.url)


def webhook_secrets(settings: WebhookSettings) -> Mapping[str, str]:
    return {settings.url: redact_url(settings.url)}


WEBHOOK = register(
    SinkType(
        "webhook",
        WebhookSettings,
        {"url": SinkKey(str, required=True)},
        open_webhook,
        webhook_label,
        webhook_secrets,
    )
)
