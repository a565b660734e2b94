"""Worker processes that parse fetched feeds and analyse their new items.

Owns ``ParsePool``: one worker process per core, each running one job at a time
over its own pipe, with at most one more waiting in the pipe (so that it starts the
next job when it ends one, not when the main process, busy writing, hands it over;
only jobs the pipe can hold without blocking the sender wait). A job turns a
fetched body into a ``ParsedFeed`` and, for each item that is new or changed since
the feed's last document, an ``ItemAnalysis`` (its topic verdicts and story
fingerprint), so every core does the pure work while the main process fetches and
writes. feedparser is pure Python: processes,
not threads, are what spread it over the cores, and killing its process is the
only way to stop a runaway parse. A job that runs past its time limit, or a
worker that dies, costs only that job: the worker is killed and replaced, and the
job waiting behind it goes to another worker.

Must not: fetch, touch the database or read the clock (``now`` is passed in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from tracker import stories
from tracker.decide import compare_entries
from tracker.errors import ErrorKind, ParseError, cap_message
from tracker.models import Assessor, FetchResult, ItemAnalysis, ItemText, ParsedFeed, Settings

log = logging.getLogger(__name__)

Analyses = dict[str, ItemAnalysis]

# Workers run at a lower priority than the main process: it fetches and writes every
# feed, so when the cores are short it is the one whose time the whole poll waits for.
WORKER_NICENESS = 10
QUEUED_JOB_BYTES = 96 * 1024  # a job this small may wait in a busy worker's socket
STOP_WAIT = 2.0  # seconds a closing worker gets to exit before it is killed
START_WAIT = 60.0  # seconds a new worker gets to load the topics before it counts as dead
_READY = b"ready"  # what a worker sends once it can take jobs
_PRELOAD = ["tracker.parse", __name__]  # what the fork server loads once for every worker


@dataclass(frozen=True)
class _Job:
    """What a worker needs to parse one body, sent over its pipe."""

    body: bytes
    headers: dict[str, str]
    url: str
    now: datetime
    max_items: int
    known: dict[str, str]  # entry key -> content hash of items already stored unchanged
    language: str = ""  # the feed's configured language: the hint for detection


class ParsePool:
    """Worker processes for parsing, shared by every poll cycle of a process.

    Usable from successive event loops (each ``asyncio.run``); at most ``workers``
    jobs run at once.
    """

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._assess: Assessor | None = None
        self._assess_blob: bytes | None = None
        self._generation = 0
        self._freed: asyncio.Event | None = None
        # The server loads the parser while the caller gets on with its work; workers
        # start at the first parse (a poll where no feed changed starts none).
        _start_fork_server()

    async def parse(
        self,
        result: FetchResult,
        now: datetime,
        settings: Settings,
        *,
        assess: Assessor | None = None,
        known: Mapping[str, str] | None = None,
        language: str = "",
    ) -> tuple[ParsedFeed, Analyses]:
        """Parse a fetched body in a worker; analyse the items not in ``known``
        (``ParseError`` when the document is no usable feed, too slow, or crashes
        its worker). ``language`` is the feed's configured one, the detection hint."""
        self._use_assessor(assess)
        job = _Job(
            result.body,
            dict(result.headers),
            result.final_url,
            now,
            settings.max_items_per_poll,
            dict(known or {}),
            language,
        )
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        async with self._slot():
            outcome = await self._run(payload, settings.parse_timeout)
        # A caller waiting for a worker hands it its job before this one goes on (to
        # write its feed): otherwise the worker idles through that write and others.
        await asyncio.sleep(0)
        return _unpack(outcome)

    def kill(self) -> None:
        """Stop every worker now (a runaway parse cannot be interrupted otherwise)."""
        for worker in [*self._idle, *self._busy]:
            worker.kill()
        self._idle.clear()

    def close(self) -> None:
        """Let idle workers exit; kill any still busy."""
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()
        for worker in list(self._busy):
            worker.kill()

    async def _run(self, payload: bytes, timeout: float) -> tuple[str, Any]:
        while True:
            worker = await self._worker_for(len(payload))
            try:
                return await self._run_on(worker, payload, timeout)
            except _Requeue:
                continue  # its worker was stopped for the job before it: another one

    async def _worker_for(self, size: int) -> _Worker:
        while (worker := self._take(size)) is None:
            if self._freed is None:
                self._freed = asyncio.Event()
            self._freed.clear()
            await self._freed.wait()
        self._busy.add(worker)
        return worker

    async def _run_on(self, worker: _Worker, payload: bytes, timeout: float) -> tuple[str, Any]:
        job = object()  # who stopped the worker, if it is stopped
        try:
            outcome = await worker.run(payload, timeout, job)
        except TimeoutError:
            worker.stop_for(job)
            raise ParseError(
                f"parsing took longer than {timeout:g}s; stopped", kind=ErrorKind.PARSE_TIMEOUT
            ) from None
        except (EOFError, OSError, pickle.UnpicklingError):
            if worker.stopped_for not in (None, job):
                raise _Requeue from None
            worker.stop_for(job)
            raise ParseError(
                "the parser worker crashed on this document", kind=ErrorKind.PARSE_CRASH
            ) from None
        except _Requeue:
            raise
        except BaseException:  # cancelled mid-job: its answer would be read by the next job
            worker.stop_for(job)
            raise
        finally:
            if not worker.inflight:
                self._busy.discard(worker)
            if self._freed is not None:
                self._freed.set()
        if not worker.inflight:
            self._give_back(worker)
        return outcome

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(2 * self.workers))
            self._freed = None
        return self._slots[1]

    def _take(self, size: int) -> _Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            worker.kill()
        if len(self._busy) < self.workers:
            return _Worker(self._assess_blob, self._generation)
        # A second job for a worker busy with one: it starts as soon as the first ends,
        # without waiting for the main process (busy writing) to hand it over.
        queueable = [
            worker
            for worker in self._busy
            if worker.inflight == 1
            and worker.ready
            and worker.generation == self._generation
            and size <= worker.queue_bytes
            and worker.alive
        ]
        return min(queueable, key=lambda worker: worker.started, default=None)

    def _give_back(self, worker: _Worker) -> None:
        if worker.generation == self._generation and worker.alive:
            self._idle.append(worker)
        else:
            worker.close()

    def _use_assessor(self, assess: Assessor | None) -> None:
        """Workers assess items with the poll's assessor; a new one means new workers."""
        if assess == self._assess:
            return
        self._assess = assess
        self._assess_blob = _pickled(assess)
        self._generation += 1
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


def _start_fork_server() -> None:
    """Start the server workers fork from, if it is not running (without waiting for it).

    Workers fork from a server that has loaded only what parsing needs, not the main
    program (the CLI, httpx, the service), so each costs a few MB, not 40.
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload(_PRELOAD)
    _fit_socket_path()
    multiprocessing.forkserver.ensure_running()


_UNIX_PATH_MAX = 107  # bytes in a Unix socket's path (sun_path, less its NUL)
_SOCKET_TAIL = len("/pymp-xxxxxxxx/listener-xxxxxxxx")  # what multiprocessing adds
_SHORT_TEMP_DIRS = ("/tmp", "/var/tmp")


def _fit_socket_path() -> None:
    """Keep the fork server's socket path within what a Unix socket allows.

    multiprocessing puts the socket under the temporary directory; a deep ``TMPDIR``
    (a long home path, a test runner's folder) would make the bind fail and the
    service stop at start. The system's own short temporary folder serves instead.
    """
    if len(os.fsencode(tempfile.gettempdir())) + _SOCKET_TAIL <= _UNIX_PATH_MAX:
        return
    for folder in _SHORT_TEMP_DIRS:
        if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            log.warning(
                "temporary folder %s is too long a path for the parse workers' socket; using %s",
                tempfile.gettempdir(),
                folder,
            )
            tempfile.tempdir = folder
            return


class _Worker:
    """One worker process and the main process's end of its pipe."""

    def __init__(self, assess_blob: bytes | None, generation: int) -> None:
        context = multiprocessing.get_context("forkserver")
        _start_fork_server()
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child, assess_blob), daemon=True, name="tracker-parse"
        )
        with _main_script_hidden():
            self.process.start()
        child.close()
        self.generation = generation
        self.ready = False
        self.inflight = 0  # jobs sent and not answered: one running, at most one waiting
        self.started = 0.0  # when its running job was sent or started
        self.stopped_for: object | None = None  # the job whose failure stopped it
        # A job waits in the worker's socket only if the socket can hold it: sending
        # must never block the main process until the running job ends.
        self.queue_bytes = min(QUEUED_JOB_BYTES, _send_buffer(self.conn) // 2)
        self._orders: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @property
    def alive(self) -> bool:
        return not self.conn.closed and self.process.is_alive()

    async def run(self, payload: bytes, timeout: float, job: object) -> tuple[str, Any]:
        """The outcome of one job, which must come within ``timeout`` seconds.

        A new worker's start (loading the topics) does not count against the job's time.
        """
        loop = asyncio.get_running_loop()
        self.inflight += 1
        try:
            if not self.ready:  # its first job: no other job is sent before this one
                async with self._order():
                    await self._started()
            if self.inflight == 1:
                self.started = loop.time()
            try:
                self.conn.send_bytes(payload)  # the worker is idle, or the socket holds it
            except OSError:
                if self.inflight > 1:
                    raise _Requeue from None  # it died on the job before this one
                raise
            async with self._order():  # the answers come in the order the jobs went
                if self.stopped_for is not None and self.stopped_for is not job:
                    raise _Requeue  # stopped for the job before this one
                async with asyncio.timeout(timeout):
                    await self._answer()
                outcome: tuple[str, Any] = pickle.loads(self.conn.recv_bytes())
                self.started = loop.time()  # the waiting job, if any, runs from now
            return outcome
        finally:
            self.inflight -= 1

    async def _started(self) -> None:
        try:
            async with asyncio.timeout(START_WAIT):
                await self._answer()
        except TimeoutError:
            raise OSError("the parser worker did not start") from None
        if self.conn.recv_bytes() != _READY:
            raise OSError("the parser worker did not start")
        self.ready = True

    def stop_for(self, job: object) -> None:
        """Kill the worker because of this job; a job waiting behind it goes elsewhere."""
        if self.stopped_for is None:
            self.stopped_for = job
        self.kill()

    def _order(self) -> asyncio.Lock:
        """Answers are read in the order their jobs were sent (one loop at a time)."""
        loop = asyncio.get_running_loop()
        if self._orders is None or self._orders[0] is not loop:
            self._orders = (loop, asyncio.Lock())
        return self._orders[1]

    async def _answer(self) -> None:
        """Wait until the worker has written to its pipe."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()
        loop.add_reader(fd, _resolve, answered)
        try:
            await answered
        finally:
            loop.remove_reader(fd)

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self._reap(STOP_WAIT)

    def close(self) -> None:
        self._reap(STOP_WAIT)  # the closed pipe tells the worker to exit
        if self.process.exitcode is None:
            self.kill()

    def _reap(self, wait: float) -> None:
        if not self.conn.closed:
            self.conn.close()
        with contextlib.suppress(OSError, ValueError, AssertionError):
            self.process.join(wait)


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Start a process without multiprocessing running the main script again in it.

    A new process runs the parent's main script (as ``__mp_main__``) so that functions
    defined there can be found. The worker's function is in this module, so that would
    only load the program (the CLI, httpx, the service) into every worker, or start the
    program again from a script without an ``if __name__ == "__main__"`` guard.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = dict(main.__dict__)
    main.__dict__.pop("__file__", None)  # no script to run again
    main.__dict__["__spec__"] = None  # no module to import again
    try:
        yield
    finally:
        for name in ("__file__", "__spec__"):
            if name in saved:
                main.__dict__[name] = saved[name]
            else:
                main.__dict__.pop(name, None)


class _Requeue(Exception):
    """The job's worker was stopped for the job before it: the job goes to another."""


def _send_buffer(conn: Connection) -> int:
    """Bytes the main process's end of a worker's pipe (a socket pair) can hold."""
    try:
        with socket.socket(fileno=os.dup(conn.fileno())) as end:
            return int(end.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    except OSError:
        return 0  # not a socket: no job waits in it


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _pickled(assess: Assessor | None) -> bytes | None:
    """The assessor as workers receive it, or None to leave assessing to the writer."""
    if assess is None:
        return None
    try:
        return pickle.dumps(assess, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        log.debug("assessor stays in the main process reason=%s", exc)
        return None


def _unpack(outcome: tuple[str, Any]) -> tuple[ParsedFeed, Analyses]:
    status, value = outcome
    if status == "error":
        message, kind = value
        raise ParseError(message, kind=kind)
    if status == "raise":  # a bug in parsing: loud in the main process, as in-process
        raise RuntimeError(f"parser worker failed: {value}")
    parsed, analyses = value
    return parsed, analyses


# ---- the worker process ------------------------------------------------------------------


def _serve(conn: Connection, assess_blob: bytes | None) -> None:
    """A worker's loop: one job in, one outcome out, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the main process, which stops us
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    assess = _load_assessor(assess_blob)
    conn.send_bytes(_READY)
    while True:
        try:
            job: _Job = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        conn.send_bytes(pickle.dumps(_outcome(job, assess), protocol=pickle.HIGHEST_PROTOCOL))


def _load_assessor(blob: bytes | None) -> Assessor | None:
    if blob is None:
        return None
    try:
        assess: Assessor = pickle.loads(blob)
    except Exception:  # the writer assesses instead; never a reason to fail a parse
        return None
    return assess


def _outcome(job: _Job, assess: Assessor | None) -> tuple[str, Any]:
    # Imported here, in the worker: the main process never parses, and feedparser and
    # lxml would cost it some 20 MB. The fork server has loaded it already (_PRELOAD).
    from tracker.parse import parse_feed

    try:
        parsed = parse_feed(
            job.body,
            job.headers,
            job.url,
            job.now,
            max_items=job.max_items,
            language=job.language,
            known=job.known,
        )
        return "ok", (parsed, analyse(parsed, job.known, assess))
    except ParseError as exc:
        return "error", (str(exc), exc.kind)
    except MemoryError:
        return "error", ("the parser ran out of memory on this document", ErrorKind.PARSE_CRASH)
    except Exception as exc:
        return "raise", cap_message(repr(exc))


def analyse(parsed: ParsedFeed, known: Mapping[str, str], assess: Assessor | None) -> Analyses:
    """Analyses of the items that are new or changed since ``known``."""
    changes = compare_entries(parsed.items, known)
    return {
        item.key: _analysis(ItemText(item.title, item.summary, item.content, item.language), assess)
        for item in (*changes.changed, *changes.new)
    }


def _analysis(text: ItemText, assess: Assessor | None) -> ItemAnalysis:
    tokens = stories.title_tokens(text.title)
    decisions = tuple(assess(text)) if assess is not None else None
    return ItemAnalysis(decisions, tokens, stories.story_bands(tokens))
