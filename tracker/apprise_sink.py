"""Sending one message through Apprise: the only module that imports apprise.

Apprise is an optional extra (``pip install 'tracker[alerts]'``); importing this
module raises ``ImportError`` when it is missing, and ``sinks`` turns that into a
clear failure. Messages go out as plain text, never HTML or Markdown.

Must not: retry, log secrets, or decide what a message says.
"""

from __future__ import annotations

import apprise


def notify_apprise(url: str, title: str, body: str) -> bool:
    """Send ``title`` and ``body`` to the Apprise ``url``; True when it was delivered."""
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False
    return bool(notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))
