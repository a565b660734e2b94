"""The instructions one all-new poll takes, whole process tree, counted by cachegrind.

    .venv/bin/python benchmarks/poll_instructions.py [--feeds 1000] [--baseline CHECKOUT]

CPU seconds on these machines drift by 10-15% within an hour, and by as much again
when another job shares the two cores: ``run.py``'s rounds tell a 5% difference apart
only over many rounds. ``valgrind --tool=cachegrind`` counts the instructions a
program runs instead, the same on a busy machine as on an idle one. This script runs
``tracker poll --once`` on the first ``--feeds`` documents of ``run.py``'s generated
set (``scratch/feeds/set-1000``, generated if missing) from an empty database under
``cachegrind --trace-children=yes``, for this checkout and, with ``--baseline``,
another one (a git worktree of an earlier commit, with ``run.py``'s copy of the topic
it can read), both at once, and prints each process's instructions, the tree's, and
the ratio.

What it does not count: the kernel's work for the process (system time: reads,
writes, page faults), and what an instruction costs (cache misses, a busier memory):
``run.py`` times those. About 8 minutes for 1,000 feeds, both checkouts side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import run
from serving import FeedServer

WORK = run.WORK / "instructions"
SET = 1000  # run.py's standard set: the first --feeds of its documents are polled
_SUMMARY = re.compile(r"^summary: (\d+)", re.MULTILINE)
_COMMAND = re.compile(r"^cmd: (.*)$", re.MULTILINE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=SET, help=f"at most {SET}")
    parser.add_argument("--baseline", type=Path, help="another checkout, counted beside")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    checkouts: dict[str, Path | None] = {"tracker": None}  # None: this checkout
    if args.baseline:
        checkouts["tracker-base"] = run.checkout(args.baseline)
    run.snapshot_topics()
    run.compile_tracker([path for path in checkouts.values() if path is not None])
    documents = run.WORK / "feeds"
    directory = documents / f"set-{SET}"
    if len(list(directory.glob("*.xml"))) < SET:
        run.feed_set(documents, SET, datetime.now(UTC).replace(microsecond=0))
    names = sorted(path.name for path in directory.glob("*.xml"))[: args.feeds]
    with FeedServer(documents, run.free_port(), WORK / "server", use_nginx=False) as server:
        urls = [server.url(f"{directory.name}/{name}") for name in names]
        with ThreadPoolExecutor(len(checkouts)) as pool:
            counts = dict(
                zip(
                    checkouts,
                    pool.map(lambda tool: count(tool, checkouts[tool], urls), checkouts),
                    strict=True,
                )
            )
    print(f"all new, {len(urls):,} feeds, instructions (G):")
    for tool, processes in counts.items():
        parts = ", ".join(f"{label} {n / 1e9:.3f}" for label, n in processes)
        print(f"  {tool:13} {sum(n for _, n in processes) / 1e9:8.3f}   ({parts})")
        print(f"  {'':13} {stored(WORK / tool / f'{tool}.db')}")
    if len(counts) == 2:
        now, base = (sum(n for _, n in processes) for processes in counts.values())
        print(f"  ratio         {now / base:8.3f}")
    return 0


def count(tool: str, code: Path | None, urls: list[str]) -> list[tuple[str, int]]:
    """The instructions of each process of one ``poll --once`` of ``urls`` by the
    checkout ``code`` (None: this one), labelled main, forkserver, worker (the forked
    parsers) or helper. The command and its configuration are ``run.py``'s."""
    work = WORK / tool
    shutil.rmtree(work, ignore_errors=True)
    tracker = run.Tracker(tool, work, urls, {}, code, run.BASE_TOPICS if code else run.TOPICS)
    tracker.reset()
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--trace-children=yes",
        f"--cachegrind-out-file={work}/cg.%p",
        *tracker.command(),
    ]
    env = {**(tracker.env() or os.environ), "PYTHONHASHSEED": "0"}
    with open(work / "valgrind.log", "w", encoding="utf-8") as log:
        # Run from the work directory: ``python -m`` puts the current directory first on
        # sys.path, so run from a checkout it would import that checkout's tracker.
        subprocess.run(
            command, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=log, check=True
        )
    _await_helpers(work)
    processes = []
    for output in sorted(work.glob("cg.*"), key=lambda path: int(path.suffix[1:])):
        text = output.read_text(encoding="utf-8", errors="replace")
        summary, line = _SUMMARY.search(text), _COMMAND.search(text)
        if summary and line:
            seen = [label for label, _ in processes]
            processes.append((_label(line.group(1), seen), int(summary.group(1))))
    return processes


def _await_helpers(work: Path, wait: float = 120.0) -> None:
    """Wait until every process of the run has exited: the forkserver and the resource
    tracker outlive the main process, and each writes its count as it exits. A
    process under valgrind keeps valgrind's arguments, the output file among them, in
    its command line."""
    marker = f"--cachegrind-out-file={work}/cg.%p".encode()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        running = False
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                running = running or marker in cmdline.read_bytes()
        if not running:
            return
        time.sleep(0.5)


def stored(db: Path) -> str:
    """What the run left: items, flags and the schema version (which code wrote it)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        items = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        flags = conn.execute("SELECT COUNT(*) FROM flags").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    return f"{items:,} items, {flags:,} flags, schema {version}"


def _label(command: str, seen: list[str]) -> str:
    """main, the forkserver (the first process running its code, in pid order), a
    worker (the processes it forked share its command) or a helper."""
    if "-m tracker" in command:
        return "main"
    if "forkserver" in command:
        return "worker" if "forkserver" in seen else "forkserver"
    return "helper"


if __name__ == "__main__":
    raise SystemExit(main())
