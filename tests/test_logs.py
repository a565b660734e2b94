"""Logs that say what happened: which stories were flagged and which feeds failed,
one line per rescore, each warning once, no line contradicting another, and JSON for
every line with ``--log-format json``."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Run, make_project
from hostile import (
    WATCH_TOPIC,
    kill_service,
    service_for,
    start_service,
    wait_for,
    watch_project,
)

from tracker.logs import USER, configure_logging, once
from tracker.models import NewFlag, PollSummary, RescoreChange
from tracker.poll import CycleSummary, ParsePool
from tracker.service import log_cycle, log_rescore

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


def poll(name: str, flags: tuple[NewFlag, ...] = (), error: str | None = None) -> PollSummary:
    outcome = "error" if error else "new"
    return PollSummary(
        f"http://{name}.example/feed", name, outcome, 200, 3, 3, 0, flags, 10, "http", error
    )


def flag(title: str) -> NewFlag:
    return NewFlag(1, 1, "us-taliban", title, None, "Outlet", 2.0, "", False)


def test_a_cycle_names_its_flagged_stories_and_failing_feeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    summary = CycleSummary(
        T0,
        1.5,
        (
            poll("ok", (flag("US envoy meets Taliban in Doha"),)),
            poll("bad", error="HTTP 404 Not Found"),
        ),
    )
    with caplog.at_level(logging.INFO, logger="tracker.service"):
        log_cycle(summary, 0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("cycle feeds=2 new_items=6 new_flags=1 errors=1")
    assert "flagged topic=us-taliban feed=Outlet title=US envoy meets Taliban in Doha" in lines
    assert "feed failed feed=bad kind=http error=HTTP 404 Not Found" in lines


def test_a_rescore_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    changes = [RescoreChange(n, "watch", f"story {n}", n % 4 != 0) for n in range(40)]
    with caplog.at_level(logging.INFO, logger="tracker.service"):
        log_rescore(changes)
        log_rescore([])
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert line.startswith(
        "rescore topics=watch flagged=30 unflagged=10 examples=-story 0; +story 1"
    )
    assert len(line) < 700


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("fresh_logging")
def test_a_warning_marked_once_is_shown_once_and_every_line_is_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(0, "json")
    log = logging.getLogger("tracker.test")
    for _ in range(3):
        log.warning("config warning=polling every 10s is aggressive", extra=once("10s"))
    logging.getLogger("tracker").warning("polling every 10s", extra=once("10s", user=True))
    log.warning("a warning of its own")
    log.warning("a warning of its own")
    log.error("the database is read-only", extra=USER)
    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["message"] for e in entries] == [
        "config warning=polling every 10s is aggressive",
        "a warning of its own",
        "a warning of its own",
        "the database is read-only",
    ]


@pytest.mark.usefixtures("fresh_logging")
def test_a_message_to_the_user_reads_as_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(0, "text")
    logging.getLogger("tracker").error("no topic named 'x'", extra=USER)
    assert capsys.readouterr().err == "tracker: error: no topic named 'x'\n"


def test_a_rejected_topic_edit_is_not_also_applied(
    tmp_path: Path, pool: ParsePool, caplog: pytest.LogCaptureFixture
) -> None:
    config = watch_project(tmp_path, [])
    service = service_for(config, pool)
    topic = tmp_path / "config" / "topics" / "watch.toml"
    try:
        topic.write_text(WATCH_TOPIC.replace("all_of", "all_off"), encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="tracker.service"):
            asyncio.run(service.maybe_reload(T0))
    finally:
        service.store.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("topics not applied, keeping the last good ones") for line in lines)
    assert not any("config applied" in line for line in lines)
    assert service.topics.topics[0].rule.clauses  # the last good topic is in force


@pytest.mark.slow
def test_json_logs_hold_every_line_of_a_command(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, [])
    config = tmp_path / "config" / "tracker.toml"
    config.write_text(
        config.read_text() + '\n[[feeds]]\nurl = "http://127.0.0.1:9/a.xml"\ninterval = "10s"\n'
    )
    listed = run_tracker("--log-format", "json", "feeds", "list")
    entries = [json.loads(line) for line in listed.stderr.splitlines()]
    assert [e["level"] for e in entries] == ["warning"]
    assert "is aggressive" in entries[0]["message"]
    failed = run_tracker("--log-format", "json", "rescore", "--topic", "nope", check=False)
    assert failed.returncode == 2
    [entry] = [json.loads(line) for line in failed.stderr.splitlines() if "nope" in line]
    assert entry["level"] == "error" and "no topic named 'nope'" in entry["message"]
    assert all(line.startswith("{") for line in failed.stderr.splitlines())


@pytest.mark.slow
def test_a_service_log_says_each_warning_once_and_stopping_once(tmp_path: Path) -> None:
    config = watch_project(tmp_path, [], extra_settings="")
    config.write_text(
        config.read_text() + '\n[[feeds]]\nurl = "http://127.0.0.1:9/a.xml"\ninterval = "10s"\n'
    )
    log_path = tmp_path / "service.log"
    service = start_service(tmp_path)
    try:
        wait_for(lambda: "feed failed" in log_path.read_text(), 30, "the failing feed's line")
        config.write_text(config.read_text() + "# an edit\n")  # a reload, same warning
        wait_for(lambda: log_path.read_text().count("config applied") == 2, 20, "the reload")
        service.send_signal(signal.SIGTERM)
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=45)
    finally:
        kill_service(service)
    log = log_path.read_text()
    assert code == 0, log
    assert log.count("is aggressive") == 1, log
    assert "feed failed feed=http://127.0.0.1:9/a.xml kind=connect" in log
    assert log.count("stopping") == 1
    assert "Traceback" not in log
