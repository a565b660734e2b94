"""The ``apprise`` sink type: ntfy, Slack, Matrix, Telegram... through Apprise.

The only module that imports apprise, an optional extra (``pip install
'tracker[alerts]'``): it is imported when a channel opens, and when it is missing
every message fails at once with ``APPRISE_MISSING``. Messages go out as plain
text, never HTML or Markdown. Apprise URLs hide tokens anywhere, so a sink is
shown as its service only (``tgram://***``).

Must not: retry (the sender does), log, or decide what a message says.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

from tracker.sinks.registry import (
    REDACTED,
    Attempt,
    Channel,
    Message,
    SinkKey,
    SinkType,
    register,
)

APPRISE_MISSING = "apprise is not installed: pip install 'tracker[alerts]'"


@dataclass(frozen=True)
class AppriseSettings:
    """The keys of a ``type = "apprise"`` entry."""

    url: str


def open_apprise(settings: AppriseSettings, stack: ExitStack) -> Channel:
    """Send through Apprise, or fail clearly when the optional extra is missing."""
    try:
        import apprise
    except ImportError:
        return lambda message, timeout: Attempt(False, APPRISE_MISSING, retry=False)

    def notify(message: Message, timeout: float) -> Attempt:
        # Apprise applies its own per-service timeouts; ``timeout`` cannot be passed on.
        notifier = apprise.Apprise()
        text = apprise.NotifyFormat.TEXT
        if notifier.add(settings.url) and notifier.notify(
            body=message.body, title=message.subject, body_format=text
        ):
            return Attempt(True)
        return Attempt(False, "apprise could not deliver the message")

    return notify


def apprise_label(settings: AppriseSettings) -> str:
    return f"{urlsplit(settings.url).scheme or 'apprise'}://{REDACTED}"


def apprise_secrets(settings: AppriseSettings) -> Mapping[str, str]:
    return {settings.url: apprise_label(settings)}


APPRISE = register(
    SinkType(
        "apprise",
        AppriseSettings,
        {"url": SinkKey(str, required=True)},
        open_apprise,
        apprise_label,
        apprise_secrets,
    )
)
