"""Alerts delivered to real webhook, SMTP and Apprise receivers on 127.0.0.1.

The receivers are threads of the test process: an HTTP server that reads and keeps
each JSON body and answers from a script of statuses, and a minimal line-based SMTP
server (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT).
"""

from __future__ import annotations

import base64
import json
import logging
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from httpserver import closed_port

from tracker.alerts import Alert
from tracker.models import AlertSink
from tracker.sinks import APPRISE_MISSING, AlertSender
from tracker.sinks.apprise import AppriseSettings
from tracker.sinks.email import EmailSettings
from tracker.sinks.webhook import WebhookSettings

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def alert(story_id: int = 7, topic: str = "quakes", **changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "title": f"Aftershock {story_id} hits coastal town",
        "url": f"https://news.example/{story_id}",
        "feed": "Daily News",
        "score": 0.75,
        "reasons": "matched: aftershock\nsame story as item 3",
        "outlets": ("Daily News", "Wire Service"),
    }
    fields.update(changes)
    return Alert(topic=topic, story_id=story_id, **fields)


# ---- an HTTP receiver -------------------------------------------------------------------


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON


@dataclass
class HookServer:
    """Answers POSTs with ``statuses`` in turn (the last one repeats); ``hang`` never answers."""

    statuses: list[int] = field(default_factory=lambda: [200])
    hang: bool = False
    posts: list[Post] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    errors: list[BaseException] = field(default_factory=list)  # raised while serving

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, post: Post) -> int | None:
        self.posts.append(post)
        if self.hang:
            self.stopping.wait(10)
            return None
        return self.statuses[min(len(self.posts), len(self.statuses)) - 1]


class _HookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HookHTTPServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.server.hook.answer(Post(self.path, headers, json.loads(raw)))
        if status is None:
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Tests read ``posts`` instead."""


class _HookHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    hook: HookServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up is expected; anything else fails the test."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.hook.errors.append(error)


@pytest.fixture
def hook_server() -> Iterator[HookServer]:
    hook = HookServer()
    httpd = _HookHTTPServer(("127.0.0.1", 0), _HookHandler)
    httpd.hook = hook
    hook.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield hook
    hook.stopping.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)
    assert hook.errors == []


# ---- an SMTP receiver -------------------------------------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    server: _SMTPServer

    def handle(self) -> None:
        self.reply("220 localhost test SMTP ready")
        while line := self.rfile.readline():
            verb, _, argument = line.decode("ascii").strip().partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                self.reply("221 bye")
                return
            if verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self.server.messages.append(self.read_data())
                self.reply("250 queued")
            else:
                self.reply(self.answer(verb, argument))

    def answer(self, verb: str, argument: str) -> str:
        if verb == "EHLO":
            return "250-localhost\r\n250-AUTH PLAIN\r\n250 8BITMIME"
        if verb == "AUTH":
            _, user, password = base64.b64decode(argument.split()[-1]).split(b"\0")
            ok = (user, password) == (b"alice", b"s3cret-pw")
            return "235 accepted" if ok else "535 authentication failed"
        if verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
            self.server.envelope.append(f"{verb} {argument}")
            return "250 ok"
        return "502 not implemented"

    def read_data(self) -> EmailMessage:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        message = message_from_bytes(b"".join(lines), policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")


class _SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages: list[EmailMessage] = []
        self.envelope: list[str] = []
        self.errors: list[BaseException] = []  # raised while serving

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up is expected; anything else fails the test."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.errors.append(error)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def smtp_server() -> Iterator[_SMTPServer]:
    server = _SMTPServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    assert server.errors == []


def webhook(url: str, **common: Any) -> AlertSink:
    return AlertSink("webhook", WebhookSettings(url), **common)


def apprise(url: str, **common: Any) -> AlertSink:
    return AlertSink("apprise", AppriseSettings(url), **common)


def email_sink(port: int, smtp_user: str = "", smtp_password: str = "", **common: Any) -> AlertSink:
    settings = EmailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        sender="tracker@example.org",
        to=("desk@example.org", "editor@example.org"),
        smtp_user=smtp_user,
        smtp_password=smtp_password,
    )
    return AlertSink("email", settings, **({"timeout": 2.0} | common))


# ---- webhooks ---------------------------------------------------------------------------


def test_webhook_receives_the_alert_as_json(hook_server: HookServer) -> None:
    sender = AlertSender([webhook(hook_server.url(), name="desk")])

    report = sender.send([alert(7)], NOW)

    [post] = hook_server.posts
    assert post.path == "/hook"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["user-agent"].startswith("tracker/")
    assert post.body == {
        "topic": "quakes",
        "story_id": 7,
        "development_id": None,
        "update": False,
        "surge": None,
        "title": "Aftershock 7 hits coastal town",
        "url": "https://news.example/7",
        "feed": "Daily News",
        "outlets": ["Daily News", "Wire Service"],
        "score": 0.75,
        "reasons": ["matched: aftershock", "same story as item 3"],
        "summary": "",
        "published": None,
        "page_url": None,
    }
    assert [(r.sink, r.delivered, r.failed) for r in report.sinks] == [("desk", 1, 0)]
    assert report.delivered == (alert(7),)
    assert report.ok


def test_webhook_gets_one_post_per_alert(hook_server: HookServer) -> None:
    sender = AlertSender([webhook(hook_server.url())])

    report = sender.send([alert(1), alert(2), alert(3)], NOW)

    assert [p.body["story_id"] for p in hook_server.posts] == [1, 2, 3]
    assert report.sinks[0].delivered == 3


def test_webhook_is_retried_after_server_errors(hook_server: HookServer) -> None:
    hook_server.statuses = [500, 500, 200]
    sender = AlertSender([webhook(hook_server.url(), retries=3)])

    report = sender.send([alert()], NOW)

    assert len(hook_server.posts) == 3
    assert report.sinks[0].delivered == 1
    assert report.delivered == (alert(),)


def test_a_webhook_that_always_fails_is_reported_in_bounded_time(
    hook_server: HookServer, caplog: pytest.LogCaptureFixture
) -> None:
    hook_server.statuses = [503]
    sender = AlertSender([webhook(hook_server.url(), retries=3, timeout=1)])

    started = time.monotonic()
    report = sender.send([alert()], NOW)

    assert time.monotonic() - started < 3.0
    assert len(hook_server.posts) == 3
    assert [(r.delivered, r.failed, r.errors) for r in report.sinks] == [(0, 1, ("HTTP 503",))]
    assert report.delivered == ()
    assert not report.ok
    assert "alert not delivered" in caplog.text
    assert "story=7" in caplog.text


def test_a_rejected_webhook_is_not_retried(hook_server: HookServer) -> None:
    hook_server.statuses = [400, 200]
    sender = AlertSender([webhook(hook_server.url(), retries=3)])

    report = sender.send([alert()], NOW)

    assert len(hook_server.posts) == 1
    assert report.sinks[0].failed == 1


def test_a_hanging_webhook_costs_at_most_retries_times_timeout(
    hook_server: HookServer, caplog: pytest.LogCaptureFixture
) -> None:
    hook_server.hang = True
    sink = webhook(hook_server.url(), retries=2, timeout=0.3)

    started = time.monotonic()
    report = AlertSender([sink]).send([alert(1), alert(2), alert(3)], NOW)

    assert time.monotonic() - started < 1.5
    assert report.sinks[0].failed == 3
    assert "no time left for this sink" in report.sinks[0].errors
    assert "alert sink out of time" in caplog.text  # the rest are skipped in one line
    assert caplog.text.count("alert not delivered") < 3


def test_backoff_between_attempts_is_short_and_growing(hook_server: HookServer) -> None:
    hook_server.statuses = [500]
    sleeps: list[float] = []
    sink = webhook(hook_server.url(), retries=4, timeout=5)

    AlertSender([sink], sleep=sleeps.append).send([alert()], NOW)

    assert sleeps == [0.2, 0.5, 1.0]


def test_an_unreachable_webhook_does_not_leak_credentials_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://bob:hunter2@127.0.0.1:{closed_port()}/hook?token=tok-123"
    sender = AlertSender([webhook(url, retries=2, timeout=1)])

    with caplog.at_level(logging.DEBUG, logger="tracker.sinks"):
        report = sender.send([alert()], NOW)

    assert report.sinks[0].failed == 1
    assert "ConnectError" in report.sinks[0].errors[0]
    assert "alert not delivered" in caplog.text
    shown = caplog.text + repr(report)
    assert "hunter2" not in shown and "tok-123" not in shown
    assert "127.0.0.1" in caplog.text


# ---- several sinks ----------------------------------------------------------------------


def test_topics_filter_and_which_alerts_every_sink_took(hook_server: HookServer) -> None:
    quakes_only = webhook(hook_server.url("/quakes"), topics=("quakes",))
    broken = webhook(f"http://127.0.0.1:{closed_port()}/", topics=("floods",), retries=1)
    sender = AlertSender([quakes_only, broken])

    report = sender.send([alert(1, "quakes"), alert(2, "floods"), alert(3, "fires")], NOW)

    assert [(p.path, p.body["topic"]) for p in hook_server.posts] == [("/quakes", "quakes")]
    assert [(r.delivered, r.failed) for r in report.sinks] == [(1, 0), (0, 1)]
    # floods failed on the one sink that wanted it; fires was wanted by none
    assert [a.topic for a in report.delivered] == ["quakes", "fires"]


def test_a_sink_that_crashes_does_not_stop_the_others(
    hook_server: HookServer, caplog: pytest.LogCaptureFixture
) -> None:
    crashing = webhook(hook_server.url(), retries=cast(int, "three"))
    working = webhook(hook_server.url("/ok"))

    report = AlertSender([crashing, working]).send([alert()], NOW)

    assert [p.path for p in hook_server.posts] == ["/ok"]
    assert [(r.delivered, r.failed) for r in report.sinks] == [(0, 1), (1, 0)]
    assert report.delivered == ()


def test_no_alerts_sends_nothing(hook_server: HookServer) -> None:
    report = AlertSender([webhook(hook_server.url())]).send([], NOW)

    assert hook_server.posts == []
    assert report.ok and report.delivered == ()


# ---- e-mail -----------------------------------------------------------------------------


def test_email_receives_the_alert_with_its_title_in_the_subject(
    smtp_server: _SMTPServer,
) -> None:
    sender = AlertSender([email_sink(smtp_server.port)])

    report = sender.send([alert(7, url=None)], NOW)

    [message] = smtp_server.messages
    assert "Aftershock 7 hits coastal town" in message["Subject"]
    assert message["From"] == "tracker@example.org"
    assert message["To"] == "desk@example.org, editor@example.org"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "Outlets: Daily News, Wire Service" in body
    assert "Score: 0.75" in body and "- matched: aftershock" in body
    assert "RCPT TO:<editor@example.org>" in smtp_server.envelope
    assert report.sinks[0].delivered == 1


def test_email_logs_in_when_a_user_is_configured(smtp_server: _SMTPServer) -> None:
    sink = email_sink(smtp_server.port, smtp_user="alice", smtp_password="s3cret-pw")

    report = AlertSender([sink]).send([alert(1), alert(2)], NOW)

    assert [m["Subject"] for m in smtp_server.messages] == [
        "[tracker] quakes: Aftershock 1 hits coastal town",
        "[tracker] quakes: Aftershock 2 hits coastal town",
    ]
    assert report.sinks[0].delivered == 2


def test_a_refused_login_fails_at_once_without_logging_the_password(
    smtp_server: _SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    sink = email_sink(smtp_server.port, smtp_user="alice", smtp_password="wrong-pw", retries=3)

    report = AlertSender([sink]).send([alert()], NOW)

    assert smtp_server.messages == []
    assert report.sinks[0].failed == 1
    assert "SMTPAuthenticationError" in report.sinks[0].errors[0]
    assert "wrong-pw" not in caplog.text + repr(report)
    assert f"sink=smtp://127.0.0.1:{smtp_server.port}" in caplog.text


def test_an_unreachable_smtp_server_is_reported_failed() -> None:
    sink = email_sink(closed_port(), retries=2)

    report = AlertSender([sink]).send([alert()], NOW)

    assert report.sinks[0].failed == 1
    assert report.delivered == ()


# ---- digests ----------------------------------------------------------------------------


def test_a_digest_sink_gets_one_message_for_several_alerts(hook_server: HookServer) -> None:
    sender = AlertSender([webhook(hook_server.url(), digest=3600)])

    report = sender.send([alert(1), alert(2), alert(3, "floods")], NOW)

    [post] = hook_server.posts
    assert post.body["digest"] is True
    assert post.body["title"].startswith("[tracker] 3 new follow-ups")
    assert [a["story_id"] for a in post.body["alerts"]] == [1, 2, 3]
    assert [(r.delivered, r.queued) for r in report.sinks] == [(3, 0)]
    assert len(report.delivered) == 3


def test_a_digest_waits_for_its_period(hook_server: HookServer) -> None:
    sender = AlertSender([webhook(hook_server.url(), digest=3600)])
    sender.send([alert(1)], NOW)

    queued = sender.send([alert(2), alert(3)], NOW + timedelta(minutes=10))
    flushed = sender.send([], NOW + timedelta(hours=1))

    assert [[a["story_id"] for a in p.body["alerts"]] for p in hook_server.posts] == [[1], [2, 3]]
    assert [(r.delivered, r.queued) for r in queued.sinks] == [(0, 2)]
    assert [a.story_id for a in queued.delivered] == [2, 3]  # taken by the digest
    assert [(r.delivered, r.queued) for r in flushed.sinks] == [(2, 0)]


def test_a_failed_digest_stays_queued_for_the_next_call(hook_server: HookServer) -> None:
    hook_server.statuses = [500, 200]
    sink = webhook(hook_server.url(), digest=60, retries=1)
    sender = AlertSender([sink])

    failed = sender.send([alert(1), alert(2)], NOW)
    retried = sender.send([], NOW + timedelta(seconds=1))

    assert [(r.failed, r.queued) for r in failed.sinks] == [(2, 2)]
    assert [(r.delivered, r.queued) for r in retried.sinks] == [(2, 0)]
    assert [a["story_id"] for a in hook_server.posts[-1].body["alerts"]] == [1, 2]


def test_an_email_digest_is_one_message(smtp_server: _SMTPServer) -> None:
    sender = AlertSender([email_sink(smtp_server.port, digest=900)])

    sender.send([alert(1), alert(2)], NOW)

    [message] = smtp_server.messages
    assert message["Subject"].startswith("[tracker] 2 new follow-ups")
    body = message.get_content()
    assert "Aftershock 1 hits coastal town" in body and "Aftershock 2 hits coastal town" in body


# ---- apprise ----------------------------------------------------------------------------

# Apprise loads its plugins on first use, and one of them imports the deprecated imghdr.
apprise_warnings = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


@apprise_warnings
def test_apprise_json_url_reaches_the_receiver(hook_server: HookServer) -> None:
    url = f"json://127.0.0.1:{hook_server.port}/apprise"
    sender = AlertSender([apprise(url, retries=1)])

    report = sender.send([alert(7)], NOW)

    [post] = hook_server.posts
    assert post.path == "/apprise"
    assert "Aftershock 7 hits coastal town" in post.body["title"]
    assert "https://news.example/7" in post.body["message"]
    assert report.sinks[0].delivered == 1
    assert report.sinks[0].sink == "json://***"


@apprise_warnings
def test_apprise_failure_is_reported(hook_server: HookServer) -> None:
    hook_server.statuses = [500]
    url = f"json://127.0.0.1:{hook_server.port}/apprise"

    report = AlertSender([apprise(url, retries=2)]).send([alert()], NOW)

    assert len(hook_server.posts) == 2
    assert report.sinks[0].failed == 1


def test_missing_apprise_is_a_clear_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # makes ``import apprise`` fail
    sink = apprise("json://127.0.0.1:9/never")

    report = AlertSender([sink]).send([alert()], NOW)

    assert report.sinks[0].errors == (APPRISE_MISSING,)
    assert report.sinks[0].failed == 1
    assert "pip install 'tracker[alerts]'" in caplog.text
