"""The ``email`` sink type: each message is one plain-text e-mail over SMTP (stdlib).

STARTTLS and a login are optional. A refused login or refused recipients are not
retried; a network error is. The SMTP password never appears in logs or reports.

Must not: retry (the sender does) or log.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import partial

from tracker.sinks.registry import (
    REDACTED,
    Attempt,
    Channel,
    Message,
    SinkKey,
    SinkType,
    register,
)

DEFAULT_SENDER = "tracker@localhost"
MESSAGE_ID_DOMAIN = "tracker.invalid"  # make_msgid would otherwise look up this host's name


@dataclass(frozen=True)
class EmailSettings:
    """The keys of a ``type = "email"`` entry (``from`` is ``sender``)."""

    smtp_host: str
    to: tuple[str, ...]
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    sender: str = ""


KEYS = {
    "smtp_host": SinkKey(str, required=True),
    "smtp_port": SinkKey(int),
    "smtp_user": SinkKey(str),
    "smtp_password": SinkKey(str),
    "smtp_starttls": SinkKey(bool),
    "from": SinkKey(str, field="sender"),
    "to": SinkKey(list, required=True),
}


def open_email(settings: EmailSettings, stack: ExitStack) -> Channel:
    return partial(send_email, settings)


def send_email(settings: EmailSettings, message: Message, timeout: float) -> Attempt:
    """Send the message as one plain-text e-mail over SMTP."""
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(email_message(settings, message))
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused) as exc:
        return Attempt(False, f"{type(exc).__name__}: {exc}", retry=False)
    except (OSError, ValueError) as exc:  # smtplib.SMTPException is an OSError
        return Attempt(False, f"{type(exc).__name__}: {exc}")
    return Attempt(True)


def email_message(settings: EmailSettings, message: Message) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = settings.sender or DEFAULT_SENDER
    email["To"] = ", ".join(settings.to)
    email["Date"] = format_datetime(message.date)
    email["Message-ID"] = make_msgid(domain=MESSAGE_ID_DOMAIN)
    email.set_content(message.body)
    return email


def email_label(settings: EmailSettings) -> str:
    return f"smtp://{settings.smtp_host}:{settings.smtp_port}"


def email_secrets(settings: EmailSettings) -> Mapping[str, str]:
    return {settings.smtp_password: REDACTED} if settings.smtp_password else {}


EMAIL = register(SinkType("email", EmailSettings, KEYS, open_email, email_label, email_secrets))
