"""Shared pieces of the reliability suite (``test_hostile_*``, ``test_security`` ...).

- ``RawServer``: a TCP server on 127.0.0.1 whose behaviour per path is a function of
  the socket, so it can do what a well-behaved HTTP server never does: stay silent,
  trickle its headers, reset the connection, stream forever, send a gzip bomb.
- ``rss``/``Entry``: small RSS documents.
- ``Harness``: the real poll pipeline (``Poller``: fetch, parse in worker processes,
  match, store) into a real SQLite file, timing each poll and, on request, its peak
  memory (``tracemalloc``).

Every figure a test asserts comes from here: elapsed seconds, peak bytes, rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

from conftest import make_project

from tracker.config import load_config
from tracker.models import MIB, FeedConfig, FeedState, FlagDecision, ItemText, Settings
from tracker.poll import CycleSummary, ParsePool, Poller, utcnow
from tracker.service import Service, files_fingerprint
from tracker.store import Store
from tracker.topicset import load_topic_set
from tracker.urls import secret_urls

MESSAGE_LIMIT = 1024  # the bound on a stored error message
# Settings scaled down for the suite: the full-size values are in benchmarks/hostile.py.
FAST = Settings(
    interval=600.0,
    connect_timeout=2.0,
    read_timeout=10.0,  # longer than the deadline: only the total deadline can stop a trickle
    deadline=1.5,
    max_bytes=2 * MIB,
    parse_timeout=10.0,
    allow_private=True,
)

Behaviour = Callable[[socket.socket, bytes], None]


# ---- documents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    guid: str | None
    title: str
    link: str | None = None
    summary: str = ""
    date: str | None = None  # pubDate as written
    raw: bool = False  # title and summary are already markup, not text to escape


def rss(entries: Iterable[Entry], title: str = "Outlet") -> bytes:
    """An RSS 2.0 document with these entries."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://outlet.example/</link>"
        + "".join(_item(entry) for entry in entries)
        + "</channel></rss>"
    ).encode()


def _item(entry: Entry) -> str:
    text = (lambda value: value) if entry.raw else escape
    parts = [f"<title>{text(entry.title)}</title>"]
    if entry.guid is not None:
        parts.append(f'<guid isPermaLink="false">{escape(entry.guid)}</guid>')
    if entry.link is not None:
        parts.append(f"<link>{escape(entry.link)}</link>")
    if entry.summary:
        parts.append(f"<description>{text(entry.summary)}</description>")
    if entry.date is not None:
        parts.append(f"<pubDate>{escape(entry.date)}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


def news(count: int, prefix: str = "n", start: int = 0) -> list[Entry]:
    """``count`` ordinary entries with guids, links and dates."""
    return [
        Entry(
            guid=f"{prefix}-{n}",
            title=f"Story {prefix} {n}",
            link=f"http://outlet.example/{prefix}/{n}",
            summary=f"Summary of story {n}.",
            date="Mon, 02 Mar 2026 10:00:00 GMT",
        )
        for n in range(start, start + count)
    ]


# ---- a misbehaving server ----------------------------------------------------------------


def http_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None, length: bool = True
) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def respond(body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Behaviour:
    return lambda sock, request: sock.sendall(http_response(body, status, headers))


class RawServer:
    """A TCP server on an ephemeral 127.0.0.1 port; ``route(path, behaviour)``.

    Each connection gets its own thread, reads one request and hands the socket to the
    path's behaviour, then closes it. Unrouted paths answer 404.
    """

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._routes: dict[str, Behaviour] = {}
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._routes[path] = behaviour

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits.get(path, 0)

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                request = _read_request(conn)
                path = request.split(b" ", 2)[1].decode("latin-1").split("?")[0]
                with self._lock:
                    self._hits[path] = self._hits.get(path, 0) + 1
                    behaviour = self._routes.get(path, respond(b"not found", 404))
                behaviour(conn, request)
            except (OSError, IndexError):
                pass  # the client hung up (deadline, size cap), as hostile cases expect


def _read_request(conn: socket.socket) -> bytes:
    """The request's head and, when it declares a length, its body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    declared = [line for line in head.split(b"\r\n") if line.startswith(b"content-length:")]
    length = int(declared[0].split(b":", 1)[1]) if declared else 0
    while len(data) < len(head) + 4 + length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def silent(server: RawServer) -> Behaviour:
    """Accept, read the request, never answer."""
    return lambda sock, request: server.stopping.wait(30)


def trickle_headers(server: RawServer, every: float = 0.1) -> Behaviour:
    """Send the status line and then one header byte every ``every`` seconds, forever."""

    def behave(sock: socket.socket, request: bytes) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not server.stopping.wait(every):
            sock.sendall(b"a")

    return behave


def trickle_body(server: RawServer, body: bytes, every: float = 0.1) -> Behaviour:
    """Send the headers at once, then the body one byte every ``every`` seconds."""

    def behave(sock: socket.socket, request: bytes) -> None:
        sock.sendall(http_response(b"", headers={"Content-Length": str(len(body))}, length=False))
        for index in range(len(body)):
            if server.stopping.wait(every):
                return
            sock.sendall(body[index : index + 1])

    return behave


def reset() -> Behaviour:
    """Close the connection with a TCP reset instead of an answer."""

    def behave(sock: socket.socket, request: bytes) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return behave


def short_body(body: bytes, declared: int) -> Behaviour:
    """Declare ``declared`` bytes, send ``body`` (fewer), close."""

    def behave(sock: socket.socket, request: bytes) -> None:
        head = http_response(b"", headers={"Content-Length": str(declared)}, length=False)
        sock.sendall(head + body)

    return behave


def endless(server: RawServer, chunk: bytes, headers: Mapping[str, str] | None = None) -> Behaviour:
    """No Content-Length; send ``chunk`` again and again until the client hangs up."""

    def behave(sock: socket.socket, request: bytes) -> None:
        sock.sendall(http_response(b"", headers=headers, length=False))
        while not server.stopping.is_set():
            sock.sendall(chunk)

    return behave


# ---- the pipeline ------------------------------------------------------------------------


def nothing(text: ItemText) -> list[FlagDecision]:
    return []


@dataclass
class Measured:
    """One poll cycle and what it cost."""

    summary: CycleSummary
    elapsed: float  # seconds, wall clock
    peak: int  # bytes allocated at the peak (0 when memory was not traced)


@dataclass
class Harness:
    """The real poll pipeline into a real SQLite file."""

    path: Path
    pool: ParsePool
    settings: Settings = FAST
    assess: Callable[[ItemText], Sequence[FlagDecision]] = nothing
    feeds: list[FeedConfig] = field(default_factory=list)
    clock: Callable[[], datetime] = utcnow  # the poll cycle's clock (tests may fix it)

    def __post_init__(self) -> None:
        self.store = Store(self.path)

    def close(self) -> None:
        self.store.close()

    def add(self, *urls: str, interval: float | None = None) -> None:
        self.feeds += [FeedConfig(url, interval=interval) for url in urls]
        self.store.sync_feeds(self.feeds, utcnow())

    def poll(self, *urls: str, memory: bool = False) -> Measured:
        """Poll these feeds (all configured ones by default) once, through ``Poller``."""
        states = [self._state(url) for url in urls] if urls else self.store.feeds()
        poller = Poller(
            self.store,
            self.settings,
            self.assess,
            self.pool,
            clock=self.clock,
            fetch_urls=secret_urls(f.url for f in self.feeds),
        )
        if memory:
            tracemalloc.start()
        started = time.perf_counter()
        try:
            summary = asyncio.run(poller.poll(states))
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] if memory else 0
        finally:
            if memory:
                tracemalloc.stop()
        return Measured(summary, elapsed, peak)

    def _state(self, url: str) -> FeedState:
        state = self.store.feed(url)
        assert state is not None, f"{url} is not a feed"
        return state

    def feed(self, url: str) -> sqlite3.Row:
        state = self._state(url)
        row: sqlite3.Row = self.store.conn.execute(
            "SELECT * FROM feeds WHERE id = ?", (state.id,)
        ).fetchone()
        return row

    def items(self, url: str) -> int:
        state = self._state(url)
        return int(self.count("SELECT COUNT(*) FROM item_feeds WHERE feed_id = ?", state.id))

    def last_poll(self, url: str) -> sqlite3.Row:
        state = self._state(url)
        row: sqlite3.Row = self.store.conn.execute(
            "SELECT * FROM polls WHERE feed_id = ? ORDER BY id DESC LIMIT 1", (state.id,)
        ).fetchone()
        return row

    def count(self, sql: str, *params: object) -> int:
        return int(self.store.conn.execute(sql, params).fetchone()[0])


def assert_failed_cleanly(harness: Harness, url: str, kind: str, items_before: int) -> None:
    """The issue's contract for a failing feed: a clear error on the feed (kind, message
    of at most 1 KB, time), a ``polls`` row saying so, the feed still scheduled, and
    every stored item still there."""
    feed = harness.feed(url)
    assert feed["last_error_kind"] == kind, (feed["last_error_kind"], feed["last_error"])
    assert 0 < len(feed["last_error"]) <= MESSAGE_LIMIT
    assert "\n" not in feed["last_error"]
    assert feed["last_error_at"] and feed["failing_since"]
    assert feed["consecutive_failures"] >= 1
    assert feed["next_poll_at"] > feed["last_polled_at"], "the feed must stay scheduled"
    poll = harness.last_poll(url)
    assert (poll["outcome"], poll["error_kind"]) == ("error", kind)
    assert len(poll["error"]) <= MESSAGE_LIMIT
    assert harness.items(url) == items_before, "a failed poll lost stored items"


def parse_pool() -> Iterator[ParsePool]:
    """A parse pool for a test module (``pool = pytest.fixture(scope="module")(parse_pool)``)."""
    pool = ParsePool(2)
    try:
        yield pool
    finally:
        pool.close()


# ---- the service, in this process ----------------------------------------------------------

WATCH_TOPIC = """name = "watch"
title = "Anything about the Taliban"
[groups.taliban]
terms = ["Taliban"]
[rule]
all_of = ["taliban"]
"""


def watch_project(root: Path, feeds: list[str], extra_settings: str = "") -> Path:
    """A project whose one topic flags every item that says "Taliban"; its config path."""
    config = make_project(root, feeds, extra_settings=extra_settings, with_topics=False)
    (root / "config" / "topics").mkdir(exist_ok=True)
    (root / "config" / "topics" / "watch.toml").write_text(WATCH_TOPIC, encoding="utf-8")
    return config


def service_for(config_path: Path, pool: ParsePool) -> Service:
    """The service ``tracker run`` builds, started (config applied) but not scheduled:
    tests call ``asyncio.run(service.cycle())`` themselves."""
    config = load_config(config_path)
    topics = load_topic_set(config.topics_dir, config.seeds_dir)
    store = Store(config.db_path)
    service = Service(config_path, None, 1.0, config, topics, store, pool=pool)
    service.run_id = store.start_service_run(os.getpid(), "test", utcnow())
    service.fingerprint = files_fingerprint(config_path, config.topics_dir)
    service.apply(config, topics, utcnow())
    return service


def make_all_due(store: Store) -> None:
    store.conn.execute("UPDATE feeds SET next_poll_at = NULL")


# ---- the service as a process ------------------------------------------------------------


def start_service(root: Path, *args: str, tick: float = 0.2) -> subprocess.Popen[bytes]:
    """``tracker -v run --tick TICK`` in the project ``root``, in its own process group
    (so a test can kill it with its parse workers, as systemd would), logging to
    ``root/service.log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    # A killed service cannot remove its temporary files (multiprocessing's fork server
    # socket directory): keep them in the test's directory, not the machine's /tmp.
    env["TMPDIR"] = str(root / "tmp")
    (root / "tmp").mkdir(exist_ok=True)
    with (root / "service.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tracker", "-v", *args, "run", "--tick", str(tick)],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def kill_service(process: subprocess.Popen[bytes]) -> None:
    """``kill -9`` the service and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def query(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Read with a connection of its own, as Datasette or an operator would (never
    creating the database: a missing one is an ``OperationalError``)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=10)) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.OperationalError):  # the database is not there yet
            value = check()
            if value:
                return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
