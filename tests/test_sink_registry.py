"""The sink registry: each type's keys validated like the rest of the config (file,
line, key), and a new sink type added as one module's worth of code, end to end."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker import config
from tracker.alerts import Alert
from tracker.errors import ConfigError
from tracker.sinks import (
    AlertSender,
    Attempt,
    Channel,
    Message,
    SinkKey,
    SinkType,
    register,
    sink_label,
    sink_types,
)
from tracker.sinks.email import EmailSettings
from tracker.sinks.registry import unregister

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SETTINGS = '[settings]\ndb_path = "db/tracker.db"\n'


def write(tmp_path: Path, alerts: str) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(SETTINGS + textwrap.dedent(alerts), encoding="utf-8")
    return path


def alert(story_id: int = 7) -> Alert:
    return Alert(
        topic="quakes",
        story_id=story_id,
        title="Aftershock hits coastal town",
        url="https://news.example/7",
        feed="Daily News",
        score=0.75,
        reasons="matched: aftershock",
        outlets=("Daily News",),
    )


@pytest.mark.parametrize("name", sorted(sink_types()))
def test_every_key_of_a_sink_type_fills_a_field_of_its_settings(name: str) -> None:
    sink_type = sink_types()[name]
    record = {f.name: f for f in fields(sink_type.settings)}  # type: ignore[arg-type]
    for key, spec in sink_type.keys.items():
        assert spec.field_for(key) in record, f"{name}: {key}"
        has_default = record[spec.field_for(key)].default is not MISSING
        assert has_default != spec.required, f"{name}: {key} required but has a default"


# ---- validation of each type's keys -------------------------------------------------------


def test_an_email_sink_is_read_into_its_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[alerts]]
        type = "email"
        smtp_host = "smtp.example.com"
        smtp_port = 587
        from = "tracker@example.com"
        to = ["desk@example.com"]
        digest = "1h"
        """,
    )

    [sink] = config.load_config(path).alerts

    assert sink.type == "email" and sink.digest == 3600.0
    assert sink.settings == EmailSettings(
        smtp_host="smtp.example.com",
        smtp_port=587,
        sender="tracker@example.com",
        to=("desk@example.com",),
    )


@pytest.mark.parametrize(
    ("entry", "key", "line", "message"),
    [
        ('type = "email"\nsmtp_host = "smtp.example.com"\n', "to", 4, "required for type"),
        ('type = "email"\nto = []\nsmtp_host = "h"\n', "to", 6, "required for type"),
        ('type = "webhook"\nname = "desk"\n', "url", 4, "required for type = 'webhook'"),
        ('type = "email"\nsmtp_host = "h"\nto = ["a"]\nsmtp_port = "25"\n', "smtp_port", 8, "int"),
        ('type = "email"\nsmtp_host = "h"\nto = ["a", 3]\n', "to", 7, "list of strings"),
        ('type = "email"\nsmtp_hots = "h"\n', "smtp_hots", 6, "did you mean 'smtp_host'"),
        ('type = "webhook"\nurl = "http://h/"\ntopics = [1]\n', "topics", 7, "list of strings"),
        ('type = "pager"\n', "type", 5, "type must be one of apprise, email, webhook"),
    ],
)
def test_a_bad_sink_key_names_file_line_and_key(
    tmp_path: Path, entry: str, key: str, line: int, message: str
) -> None:
    path = write(tmp_path, "\n[[alerts]]\n" + entry)

    with pytest.raises(ConfigError, match=message) as caught:
        config.load_config(path)

    assert (caught.value.path, caught.value.line, caught.value.key) == (
        str(path),
        line,
        f"alerts[0].{key}",
    )


def test_a_key_of_another_sink_type_is_ignored_with_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[alerts]]
        type = "webhook"
        url = "http://127.0.0.1:9/hook"
        smtp_port = 25
        """,
    )

    loaded = config.load_config(path)

    assert loaded.alerts[0].type == "webhook"
    [warning] = loaded.warnings
    assert f"{path}:7: alerts[0].smtp_port: ignored: only email alerts use it" in warning


# ---- a new sink type: one module's worth ---------------------------------------------------


@dataclass(frozen=True)
class MemorySettings:
    """A sink that keeps messages in a list (as a test's stand-in for a real service)."""

    box: str
    token: str = ""
    fail: bool = False


SENT: dict[str, list[Message]] = {}


def open_memory(settings: MemorySettings, stack: ExitStack) -> Channel:
    def send(message: Message, timeout: float) -> Attempt:
        if settings.fail:
            return Attempt(False, f"refused with token {settings.token}", retry=False)
        SENT.setdefault(settings.box, []).append(message)
        return Attempt(True)

    return send


def memory_secrets(settings: MemorySettings) -> Mapping[str, str]:
    return {settings.token: "***"}


MEMORY = SinkType(
    "memory",
    MemorySettings,
    {"box": SinkKey(str, required=True), "token": SinkKey(str), "fail": SinkKey(bool)},
    open_memory,
    label=lambda settings: f"memory://{settings.box}",
    secrets=memory_secrets,
)


@pytest.fixture
def memory_sink() -> Iterator[None]:
    register(MEMORY)
    SENT.clear()
    yield
    unregister("memory")


def test_a_registered_sink_type_is_configured_and_sent_to(
    tmp_path: Path, memory_sink: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(
        tmp_path,
        """
        [[alerts]]
        type = "memory"
        box = "desk"

        [[alerts]]
        type = "memory"
        box = "night"
        token = "tok-secret-9"
        fail = true
        """,
    )
    sinks = config.load_config(path).alerts

    report = AlertSender(sinks).send([alert(7)], NOW)

    assert [m.payload["story_id"] for m in SENT["desk"]] == [7]
    assert [sink_label(sink) for sink in sinks] == ["memory://desk", "memory://night"]
    assert [(r.sink, r.delivered, r.failed) for r in report.sinks] == [
        ("memory://desk", 1, 0),
        ("memory://night", 0, 1),
    ]
    assert report.sinks[1].errors == ("refused with token ***",)
    assert "tok-secret-9" not in caplog.text + repr(report)
    assert "alert not delivered sink=memory://night type=memory" in caplog.text


def test_a_sink_type_name_is_taken_once(memory_sink: None) -> None:
    other = SinkType("memory", MemorySettings, {}, open_memory, label=lambda settings: "x")

    with pytest.raises(ValueError, match="already registered"):
        register(other)
