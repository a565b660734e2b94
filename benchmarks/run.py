"""Speed at scale: tracker against lemon24/reader and feed-to-sqlite, side by side.

    .venv/bin/python benchmarks/run.py [--feeds 1000] [--big 10000] [--quick]

Generates a set of feeds (benchmarks/feedset.py), serves them on 127.0.0.1 (nginx
when it is installed, else a threaded Python server), installs the peers into
their own virtualenv under benchmarks/scratch/peers (once), and times each tool as a
subprocess in these phases, one tool after the other on the same feeds:

1. all new: a fresh database polls every feed, in several rounds (``--rounds``, 5 by
   default), each from empty databases with the tools' order reversed every other
   round; the median run and the median of the rounds' ratios are reported (this
   machine's speed drifts by 10-15% between quarters of an hour, more than one
   run can tell apart);
2. nothing changed, with validators: the server answers 304;
3. 10% of the feeds have 3 new items (validators on);
4. nothing changed, without validators: the server sends no ETag/Last-Modified
   and answers every request with the whole body;
5. the big set (10,000 feeds by default): all new, then nothing changed (304).

With ``--baseline CHECKOUT``, that checkout is timed as ``tracker-base`` in the same
rounds, and the report gives each round's CPU ratio with the rounds' median and geometric
mean: give it an even number of rounds, so that each tool runs first as often.

Each run reports wall time, CPU (user + system of the whole process tree, worker
processes included), peak memory (summed PSS of the tree), items stored, and items
covered per second (items in the documents polled / wall time). Results go to
benchmarks/results.json and into benchmarks/README.md with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedset
import measure
import report
from serving import FeedServer, nginx_path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
WORK = BENCH / "scratch"
PEERS = WORK / "peers"
PEER_PACKAGES = ["reader>=3,<4", "sgmllib3k", "feed-to-sqlite"]
CHANGED_SHARE = 10  # every tenth feed gets new items in the "changed" phase
NEW_ITEMS = 3
RESULTS = BENCH / "results.json"
# The shipped topic and seeds, copied when the run starts: edits made meanwhile must
# not make a later phase re-match every stored item.
TOPICS = WORK / "topics"
SEEDS = WORK / "seeds"
# The same topic for --baseline, less the tables an older checkout's loader refuses
# (entity alias sets, #16): the older code matches the same groups and rule.
BASE_TOPICS = WORK / "topics-base"
NEWER_TABLES = ("entities",)


# ---- the tools -------------------------------------------------------------------------


@dataclass
class Tool:
    """A tool under test, with its own database in ``run_dir``."""

    name: str
    run_dir: Path
    urls: list[str]

    @property
    def db(self) -> Path:
        return self.run_dir / f"{self.name}.db"

    def reset(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def stored(self) -> int:
        if not self.db.exists():
            return 0
        with sqlite3.connect(self.db) as conn:
            try:
                return int(conn.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])
            except sqlite3.OperationalError:
                return 0

    table = "items"

    def env(self) -> dict[str, str] | None:
        """The environment to run in; None: this process's."""
        return None

    def failures(self, output: str) -> str | None:
        """A description of what went wrong in this run, from its output."""
        return None


@dataclass
class Tracker(Tool):
    settings: dict[str, Any] | None = None
    code: Path | None = None  # another checkout's tracker package to run instead (--baseline)
    topics: Path = TOPICS

    def env(self) -> dict[str, str] | None:
        # This checkout's tracker by default, not whatever the virtualenv installed: a
        # worktree run with another checkout's virtualenv would time that checkout.
        return {**os.environ, "PYTHONPATH": str(self.code or REPO)}

    def command(self) -> list[str]:
        config = self.run_dir / "tracker.toml"
        config.write_text(self._config(), encoding="utf-8")
        return [sys.executable, "-m", "tracker", "--config", str(config), "poll", "--once"]

    def _config(self) -> str:
        settings = {
            "db_path": str(self.db),
            "topics_dir": str(self.topics),
            "seeds_dir": str(SEEDS),
            **(self.settings or {}),
        }
        lines = ["[settings]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        for url in self.urls:
            lines += ["", "[[feeds]]", f'url = "{url}"']
        return "\n".join(lines) + "\n"

    def failures(self, output: str) -> str | None:
        total = [line for line in output.splitlines() if line.startswith("total:")]
        if not total:
            return "no total line"
        return None if " 0 failed" in total[-1] else total[-1]


@dataclass
class Reader(Tool):
    workers: int = 20
    table = "entries"

    def command(self) -> list[str]:
        urls = self.run_dir / "urls.txt"
        urls.write_text("\n".join(self.urls) + "\n", encoding="utf-8")
        driver = BENCH / "peers" / "reader_driver.py"
        python = str(PEERS / "bin" / "python")
        return [python, str(driver), str(self.db), str(urls), "--workers", str(self.workers)]

    def failures(self, output: str) -> str | None:
        try:
            errors = json.loads(output.strip().splitlines()[-1])["errors"]
        except (ValueError, IndexError, KeyError):
            return "no result line"
        return f"{errors} feeds failed" if errors else None


@dataclass
class FeedToSqlite(Tool):
    table = "entries"

    def command(self) -> list[str]:
        # Run by the peers' Python, not through its shebang: that names the directory the
        # virtualenv was created in, and breaks when the directory moves.
        tool = str(PEERS / "bin" / "feed-to-sqlite")
        return [str(PEERS / "bin" / "python"), tool, str(self.db), "--table", "entries", *self.urls]


# ---- phases --------------------------------------------------------------------------------


@dataclass
class Phase:
    key: str
    title: str
    feeds: int
    items: int  # items in the documents served


def run_phase(
    phase: Phase, tools: Sequence[Tool], logs: Path, *, rounds: int = 1
) -> dict[str, Any]:
    """Time each tool on the phase; with several rounds, each starts from empty databases.

    Rounds alternate the order of the tools (a tool that always ran first or last would
    always get the same minutes of a machine whose speed drifts), and the phase reports
    each tool's median run and the median of the rounds' ratios.
    """
    print(f"== {phase.title} ({phase.feeds} feeds, {rounds} round(s))", flush=True)
    played: list[list[dict[str, Any]]] = []
    for number in range(rounds):
        order = list(tools) if number % 2 == 0 else list(reversed(tools))
        runs = []
        for tool in order:
            if rounds > 1:
                tool.reset()
            runs.append(_time_tool(phase, tool, logs, number if rounds > 1 else None))
        played.append(sorted(runs, key=lambda run: [t.name for t in tools].index(run["tool"])))
    result: dict[str, Any] = {
        "key": phase.key,
        "title": phase.title,
        "feeds": phase.feeds,
        "runs": [_median_run([runs[i] for runs in played]) for i in range(len(tools))],
    }
    if rounds > 1:
        result["rounds"] = played
    return result


def _time_tool(phase: Phase, tool: Tool, logs: Path, number: int | None) -> dict[str, Any]:
    before = tool.stored()
    suffix = "" if number is None else f"-{number + 1}"
    log = logs / f"{phase.key}-{tool.name}{suffix}.log"
    cost = measure.run(tool.command(), stdout=log, cwd=tool.run_dir, env=tool.env())
    output = log.read_text(encoding="utf-8", errors="replace")
    problem = tool.failures(output) if cost.returncode == 0 else f"exit {cost.returncode}"
    run = {
        "tool": tool.name,
        **cost.as_dict(),
        "new_items": tool.stored() - before,
        "items_per_s": round(phase.items / cost.wall, 1),
        "problem": problem,
    }
    label = "" if number is None else f"#{number + 1} "
    print(
        f"   {label}{tool.name:14} wall {cost.wall:7.2f}s  cpu {cost.cpu:7.2f}s  "
        f"mem {cost.peak_tree_mb:6.1f} MB  new {run['new_items']:6}  {problem or ''}",
        flush=True,
    )
    return run


def _median_run(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the lower middle one of an even number)."""
    return sorted(runs, key=lambda run: float(run["wall"]))[(len(runs) - 1) // 2]


def feed_set(root: Path, count: int, now: datetime) -> tuple[Path, list[feedset.FeedSpec]]:
    directory = root / f"set-{count}"
    print(f"generating {count} feeds in {directory}", flush=True)
    specs = feedset.generate(directory, count, now)
    return directory, specs


def change_feeds(directory: Path, specs: Sequence[feedset.FeedSpec], now: datetime) -> int:
    changed = [spec for spec in specs if spec.number % CHANGED_SHARE == 3]
    for spec in changed:
        feedset.add_items(directory, spec, NEW_ITEMS, now, generation=1)
    return len(changed)


def tools_for(
    names: Sequence[str], run_dir: Path, urls: list[str], args: argparse.Namespace
) -> list[Tool]:
    settings = {"concurrency": args.concurrency, "per_host": args.per_host}
    settings = {key: value for key, value in settings.items() if value is not None}
    made: dict[str, Tool] = {
        "tracker": Tracker("tracker", run_dir, urls, settings),
        "reader": Reader("reader", run_dir, urls, args.reader_workers),
        "feed-to-sqlite": FeedToSqlite("feed-to-sqlite", run_dir, urls),
    }
    if args.baseline is not None:
        topics = TOPICS if args.same_topic else BASE_TOPICS
        made["tracker-base"] = Tracker(
            "tracker-base", run_dir, urls, settings, args.baseline, topics
        )
    return [made[name] for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.baseline is not None:
        args.baseline = checkout(args.baseline)
    measure.become_subreaper()
    snapshot_topics()
    compile_tracker([args.baseline] if args.baseline is not None else [])
    if args.peers:
        ensure_peers()
    started = datetime.now(UTC).replace(microsecond=0)
    feeds_root = WORK / "feeds"
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "started_at": started.isoformat(),
        "machine": report.machine(),
        "versions": versions(),
        "options": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "write"
        },
        "phases": [],
    }
    with FeedServer(feeds_root, free_port(), WORK / "server", use_nginx=args.nginx) as server:
        results["server"] = server.kind
        results["phases"] += standard_phases(args, server, feeds_root, logs, started)
        if args.big:
            results["phases"] += big_phases(args, server, feeds_root, logs, started)
    results["finished_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    if args.baseline is not None:  # a before/after comparison, not the published results
        report.write_json(WORK / "results-baseline.json", results)
        print(render(results))
    elif args.write:
        report.write_json(RESULTS, results)
        report.update_readme("speed-at-scale", render(results))
        print(f"wrote {RESULTS} and {report.README}")
    return 0


def standard_phases(
    args: argparse.Namespace, server: FeedServer, root: Path, logs: Path, now: datetime
) -> list[dict[str, Any]]:
    directory, specs, tools = fresh_tools(args, server, root, now, big=False)
    items = sum(spec.items for spec in specs)
    count = len(specs)
    all_new = Phase("all_new", "All new", count, items)
    phases = [run_phase(all_new, tools, logs, rounds=args.rounds)]
    phases.append(
        run_phase(Phase("not_modified", "Nothing changed, 304", count, items), tools, logs)
    )
    changed = change_feeds(directory, specs, max(now + timedelta(minutes=5), _now()))
    title = f"{changed} feeds ({100 // CHANGED_SHARE}%) with {NEW_ITEMS} new items"
    phases.append(run_phase(Phase("changed", title, count, items), tools, logs))
    server.set_validators(False)
    title = "Nothing changed, no validators"
    phases.append(run_phase(Phase("no_validators", title, count, items), tools, logs))
    server.set_validators(True)
    return phases


def big_phases(
    args: argparse.Namespace, server: FeedServer, root: Path, logs: Path, now: datetime
) -> list[dict[str, Any]]:
    _, specs, tools = fresh_tools(args, server, root, now, big=True)
    items = sum(spec.items for spec in specs)
    count = len(specs)
    return [
        run_phase(Phase("big_all_new", f"{count:,} feeds, all new", count, items), tools, logs),
        run_phase(
            Phase("big_not_modified", f"{count:,} feeds, nothing changed, 304", count, items),
            tools,
            logs,
        ),
    ]


def fresh_tools(
    args: argparse.Namespace, server: FeedServer, root: Path, now: datetime, *, big: bool
) -> tuple[Path, list[feedset.FeedSpec], list[Tool]]:
    """The standard or big feed set, and the tools to poll it, each with an empty database."""
    feeds = args.big if big else args.feeds
    directory, specs = feed_set(root, feeds, now)
    urls = [server.url(f"{directory.name}/{spec.filename}") for spec in specs]
    tools = tools_for(tool_names(args, big=big), WORK / f"run-{feeds}", urls, args)
    for tool in tools:
        tool.reset()
    return directory, specs, tools


def tool_names(args: argparse.Namespace, *, big: bool) -> list[str]:
    peers = args.big_peers if big else ["reader", "feed-to-sqlite"]
    base = ["tracker-base"] if args.baseline is not None else []
    return ["tracker", *base, *(peers if args.peers else [])]


def checkout(path: Path) -> Path:
    """A baseline checkout, made absolute: the runs start in their own directories,
    where a relative PYTHONPATH would name nothing and the installed tracker would run
    instead. Exits with a message if it holds no tracker package."""
    resolved = path.resolve()
    if not (resolved / "tracker" / "__init__.py").is_file():
        sys.exit(f"--baseline {path}: no tracker package there")
    return resolved


def snapshot_topics() -> None:
    for source, target in ((REPO / "config" / "topics", TOPICS), (REPO / "seeds", SEEDS)):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    shutil.rmtree(BASE_TOPICS, ignore_errors=True)
    BASE_TOPICS.mkdir(parents=True)
    for topic in TOPICS.glob("*.toml"):
        text = topic.read_text(encoding="utf-8")
        (BASE_TOPICS / topic.name).write_text(without_tables(text, NEWER_TABLES), encoding="utf-8")


def without_tables(toml: str, names: Sequence[str]) -> str:
    """A TOML document less its tables ``[name.*]`` for each of ``names``, each from its
    header to the next table's."""
    kept, skipping = [], False
    for line in toml.splitlines(keepends=True):
        if line.startswith("["):
            header = line.strip("[] \n").split(".", 1)[0]
            skipping = header in names
        if not skipping:
            kept.append(line)
    return "".join(kept)


def compile_tracker(baseline: Sequence[Path] = ()) -> None:
    """Byte-compile tracker's modules, as pip does for the peers when it installs them.

    An editable install leaves it to the first import, and under
    PYTHONDONTWRITEBYTECODE (set on some machines) every run compiles them again:
    50-70 ms of each tracker run that the peers, installed normally, do not pay.
    """
    for code in (REPO, *baseline):
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(code / "tracker")], check=True
        )


def ensure_peers() -> None:
    """The peers' own virtualenv, created and filled once."""
    python = PEERS / "bin" / "python"
    if not python.exists():
        print(f"creating {PEERS}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    probe = subprocess.run(
        [str(python), "-c", "import reader, feed_to_sqlite, sgmllib"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        print(f"installing {', '.join(PEER_PACKAGES)} into {PEERS}", flush=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES]
        subprocess.run(pip, check=True)


def versions() -> dict[str, str]:
    ours = report.package_versions(sys.executable, ["tracker", "feedparser", "httpx", "lxml"])
    found = {f"{name} (tracker)": version for name, version in ours.items()}
    peers_python = PEERS / "bin" / "python"
    if peers_python.exists():
        theirs = report.package_versions(
            peers_python, ["reader", "feed-to-sqlite", "feedparser", "requests"]
        )
        found |= {f"{name} (peers)": version for name, version in theirs.items()}
    nginx = nginx_path()
    if nginx:
        probe = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
        found["nginx"] = probe.stderr.strip().split("/")[-1]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ---- the report ----------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    lines = [
        "## Speed at scale: tracker, reader and feed-to-sqlite on the same feeds",
        "",
        f"Measured {results['started_at']} with `benchmarks/run.py` "
        f"({_options_line(results['options'])}), feeds served by {results['server']} "
        "on 127.0.0.1.",
        "",
        f"Machine: {report.machine_line(results['machine'])}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".",
        "",
        "| Phase | Tool | Wall s | CPU s | Peak MB | New items | Items/s | tracker ÷ tool (wall) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for phase in results["phases"]:
        tracker = next((r for r in phase["runs"] if r["tool"] == "tracker"), None)
        for run in phase["runs"]:
            ratio = ""
            if "rounds" in phase and run is not tracker:
                ratios = _round_ratios(phase, run["tool"])
                ratio = f"{statistics.median(ratios):.2f}" if ratios else ""
            elif tracker and run is not tracker:
                ratio = f"{tracker['wall'] / run['wall']:.2f}"
            problem = f" ({run['problem']})" if run["problem"] else ""
            lines.append(
                f"| {phase['title']} ({phase['feeds']:,} feeds) | {run['tool']}{problem} "
                f"| {run['wall']:.2f} | {run['cpu']:.2f} | {run['peak_tree_mb']:.0f} "
                f"| {run['new_items']:,} | {run['items_per_s']:,.0f} | {ratio} |"
            )
    lines += rounds_lines(results)
    lines += ["", *targets(results)]
    return "\n".join(lines)


def rounds_lines(results: dict[str, Any]) -> list[str]:
    """Each round of a phase timed several times: the table above shows its medians."""
    lines: list[str] = []
    for phase in results["phases"]:
        if "rounds" not in phase:
            continue
        lines += [
            "",
            f"{phase['title']} was timed in {len(phase['rounds'])} rounds, each from empty "
            "databases, the tools' order reversed every other round; the table shows each "
            "tool's median run and the median of the rounds' ratios.",
            "",
            "| Round | "
            + " | ".join(f"{run['tool']} wall (CPU) s" for run in phase["runs"])
            + " | tracker ÷ reader | tracker ÷ tracker-base, CPU |",
            "| ---: |" + " ---: |" * (len(phase["runs"]) + 2),
        ]
        for number, runs in enumerate(phase["rounds"], 1):
            cells = [f"{run['wall']:.2f} ({run['cpu']:.2f})" for run in runs]
            for peer, measure_name in (("reader", "wall"), ("tracker-base", "cpu")):
                ratio = _pair_ratios([runs], peer, measure_name)
                cells.append(f"{ratio[0]:.3f}" if ratio else "")
            lines.append(f"| {number} | " + " | ".join(cells) + " |")
        lines += _baseline_summary(phase["rounds"])
    return lines


def _baseline_summary(rounds: Sequence[Sequence[dict[str, Any]]]) -> list[str]:
    """tracker against tracker-base over the rounds: medians and geometric means.

    With an odd number of rounds one order runs once more than the other, and a machine
    on which the second run of a round is slower tilts the median: the geometric mean of
    an even number of rounds weighs both orders alike.
    """
    lines = []
    for measure_name, label in (("cpu", "CPU"), ("wall", "wall")):
        ratios = _pair_ratios(rounds, "tracker-base", measure_name)
        if len(ratios) < 2:
            return []
        odd = " (odd: tracker ran first once more)" if len(ratios) % 2 else ""
        lines.append(
            f"- tracker ÷ tracker-base, {label}: median {statistics.median(ratios):.3f} "
            f"({min(ratios):.3f}–{max(ratios):.3f}), geometric mean "
            f"{statistics.geometric_mean(ratios):.3f}, {len(ratios)} rounds{odd}"
        )
    return ["", *lines]


def _pair_ratios(
    rounds: Sequence[Sequence[dict[str, Any]]], peer: str, measure_name: str
) -> list[float]:
    """tracker's ``measure_name`` (wall or cpu) over the peer's, one ratio per round."""
    ratios = []
    for runs in rounds:
        values = {run["tool"]: float(run[measure_name]) for run in runs}
        if "tracker" in values and peer in values:
            ratios.append(values["tracker"] / values[peer])
    return ratios


def _options_line(options: dict[str, Any]) -> str:
    shown = {k: v for k, v in options.items() if v not in (None, False)}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def targets(results: dict[str, Any]) -> list[str]:
    """The issue's targets, checked against this run."""
    checks = [
        ("all_new", "reader", 1 / 3, "All new: tracker at most 1/3 of reader's wall time"),
        ("not_modified", "reader", 1.0, "Nothing changed, 304: tracker no slower than reader"),
        (
            "no_validators",
            "reader",
            1 / 10,
            "Nothing changed, no validators: tracker at most 1/10 of reader's wall time",
        ),
    ]
    lines = ["Targets in this run:", ""]
    for key, peer, limit, text in checks:
        ratio = _ratio(results, key, peer)
        if ratio is None:
            lines.append(f"- {text}: not measured")
        else:
            verdict = "met" if ratio <= limit else "**missed**"
            lines.append(f"- {text}: {ratio:.2f} of reader's{_spread(results, key)}, {verdict}")
    big = _run(results, "big_all_new", "tracker")
    if big:
        lines.append(
            f"- {results['options'].get('big'):,} feeds in one cycle: {big['wall']:.1f} s wall, "
            f"{big['cpu']:.1f} s CPU, {big['peak_tree_mb']:.0f} MB peak"
            + (f" ({big['problem']})" if big["problem"] else "")
        )
    return lines


def _run(results: dict[str, Any], key: str, tool: str) -> dict[str, Any] | None:
    for phase in results["phases"]:
        if phase["key"] == key:
            return next((r for r in phase["runs"] if r["tool"] == tool), None)
    return None


def _ratio(results: dict[str, Any], key: str, peer: str) -> float | None:
    """tracker's wall time over the peer's; with rounds, the median of the rounds' ratios."""
    for phase in results["phases"]:
        if phase["key"] == key and "rounds" in phase:
            ratios = _round_ratios(phase, peer)
            return statistics.median(ratios) if ratios else None
    ours, theirs = _run(results, key, "tracker"), _run(results, key, peer)
    if ours is None or theirs is None:
        return None
    return float(ours["wall"]) / float(theirs["wall"])


def _spread(results: dict[str, Any], key: str) -> str:
    for phase in results["phases"]:
        ratios = _round_ratios(phase, "reader") if "rounds" in phase else []
        if phase["key"] == key and ratios:
            return f" (median of {len(ratios)} rounds, {min(ratios):.2f}-{max(ratios):.2f})"
    return ""


def _round_ratios(phase: dict[str, Any], peer: str) -> list[float]:
    return _pair_ratios(phase["rounds"], peer, "wall")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000, help="feeds in the standard set")
    parser.add_argument("--big", type=int, default=10_000, help="feeds in the big set (0: skip)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 feeds, no big set")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="tracker only")
    parser.add_argument(
        "--big-peers",
        nargs="*",
        default=["reader"],
        choices=["reader", "feed-to-sqlite"],
        help="peers also timed on the big set (default: reader)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds of the all-new phase, tools in alternating order (median reported)",
    )
    parser.add_argument("--reader-workers", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=None, help="tracker's, if not default")
    parser.add_argument("--per-host", type=int, default=None, help="tracker's, if not default")
    parser.add_argument("--python-server", dest="nginx", action="store_false")
    parser.add_argument("--no-write", dest="write", action="store_false")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a checkout of tracker (e.g. a git worktree of an earlier commit) timed as "
        "tracker-base beside this one, in the same rounds: before and after in one run",
    )
    parser.add_argument(
        "--same-topic",
        action="store_true",
        help="give --baseline this checkout's topic whole (entity alias sets included), "
        "for a copy of the same code with one feature switched off",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.feeds, args.big, args.rounds = 100, 0, 1
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"done in {time.perf_counter() - started:.0f}s")
    sys.exit(code)
