"""The registry of alert sink types: each type's keys, channel and label.

A sink type registers one ``SinkType``: the keys its ``[[alerts]]`` entry accepts
beside the shared ones (``config`` validates them and builds the type's settings
record from them), a channel factory (a function sending one ``Message`` within
a timeout, its resources closed with an ``ExitStack``), a label for logs and the
secrets to keep out of error messages. ``AlertSender`` and ``config`` look types
up here; neither knows any type by name.

Must not: import a sink library (each type's module does), log, or read config files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tracker.urls import REDACTED as REDACTED  # the one mark, re-exported for sink modules


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


Channel = Callable[[Message, float], Attempt]  # sends one message within a timeout


@dataclass(frozen=True)
class SinkKey:
    """One key a sink type accepts in its ``[[alerts]]`` entry, beside the shared ones."""

    kind: type  # as TOML gives it: str, int, bool or list (of strings, kept as a tuple)
    field: str = ""  # the settings field it fills when not the key itself ("from": "sender")
    required: bool = False  # a list must also be non-empty

    def field_for(self, key: str) -> str:
        return self.field or key


Settings = TypeVar("Settings")


def no_secrets(settings: object) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class SinkType(Generic[Settings]):
    """What a sink type registers: how to read it, open it and name it."""

    name: str  # the value of ``type`` in ``[[alerts]]``
    settings: Callable[..., Settings]  # the type's record, called with the keys' fields
    keys: Mapping[str, SinkKey]
    open_channel: Callable[[Settings, ExitStack], Channel]
    label: Callable[[Settings], str]  # names a sink without a ``name``: never a secret
    # Text an error message may quote (a URL with a token, a password), mapped to what
    # to show instead: the sender replaces it before logging or reporting.
    secrets: Callable[[Settings], Mapping[str, str]] = no_secrets


_TYPES: dict[str, SinkType[Any]] = {}


def register(sink_type: SinkType[Any]) -> SinkType[Any]:
    """Make ``sink_type`` available as ``type = "<name>"``; a name is taken once."""
    if sink_type.name in _TYPES and _TYPES[sink_type.name] is not sink_type:
        raise ValueError(f"alert sink type {sink_type.name!r} is already registered")
    _TYPES[sink_type.name] = sink_type
    return sink_type


def unregister(name: str) -> None:
    """Forget a sink type (for tests that register their own)."""
    _TYPES.pop(name, None)


def sink_types() -> Mapping[str, SinkType[Any]]:
    """Every registered sink type by name, in the order they were registered."""
    return dict(_TYPES)


def find_sink_type(name: str) -> SinkType[Any] | None:
    return _TYPES.get(name)
