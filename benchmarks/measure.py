"""Run a command and measure what it cost: wall time, CPU, peak memory.

CPU is user + system time of the whole process tree, worker processes included:
the benchmark makes itself a child subreaper, so processes orphaned when the tool
exits (a forkserver and its workers) are reparented to it and reaped here, and
``RUSAGE_CHILDREN`` then counts all of them. Memory is sampled from ``/proc``
every 250 ms: the peak of the tree's summed PSS (shared pages split fairly
between the processes sharing them, so forked workers are not counted twice)
and the peak RSS of the main process alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36
_SAMPLE_EVERY = 0.25  # reading smaps_rollup costs CPU the measured tool would use


@dataclass(frozen=True)
class Cost:
    """What one run of a tool cost."""

    wall: float  # seconds
    cpu: float  # user + system seconds of the whole process tree
    peak_tree_mb: float  # peak of the summed PSS of the process tree
    peak_main_mb: float  # peak RSS of the main process
    returncode: int

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 3) for key, value in asdict(self).items()}


def become_subreaper() -> None:
    """Adopt processes orphaned by our children, so their CPU time is counted."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def run(
    command: list[str],
    *,
    stdout: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Cost:
    """Run ``command`` to completion, output to ``stdout``; measure it."""
    keep = set(_children(os.getpid()))  # servers we started stay running
    # Every tool starts with nothing left to write back to disk: the feed set just
    # generated, or the database the tool before wrote, would otherwise be flushed
    # while it runs and make its own writes wait (the first tool of a run paid for it).
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with stdout.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        sampler = _Sampler(process.pid)
        sampler.start()
        returncode = process.wait()
        wall = time.perf_counter() - started
        sampler.stop()
    _reap_orphans(keep)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Cost(wall, cpu, sampler.peak_tree / 1024, sampler.peak_main / 1024, returncode)


class _Sampler(threading.Thread):
    """Samples the memory of a process tree until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_tree = 0  # KiB
        self.peak_main = 0  # KiB
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(_SAMPLE_EVERY)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def sample(self) -> None:
        tree = [self.pid, *_descendants(self.pid)]
        self.peak_tree = max(self.peak_tree, sum(_pss_kib(pid) for pid in tree))
        self.peak_main = max(self.peak_main, _rss_kib(self.pid))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = _children(pid)
    while pending:
        child = pending.pop()
        found.append(child)
        pending += _children(child)
    return found


def _pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _rss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _reap_orphans(keep: set[int], wait: float = 15.0) -> None:
    """Wait for the tool's orphaned helpers to exit and reap them (their CPU counts)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        orphans = [pid for pid in _children(os.getpid()) if pid not in keep]
        if not orphans:
            return
        for pid in orphans:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    for pid in _children(os.getpid()):
        if pid not in keep:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
