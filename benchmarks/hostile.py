"""Full-size runs of the reliability suite (``tests/test_hostile_*``, ``test_crash_recovery``).

The tests scale the hostile cases down so CI stays fast; this runs them at the sizes
the issue names, with tracker's default settings (30 s deadline, 15 MiB cap, 20 s
parse limit, 1,000 items per poll), and prints each figure against its bound::

    .venv/bin/python benchmarks/hostile.py            # every case but the kill cycles
    .venv/bin/python benchmarks/hostile.py crash      # 100 kill -9 cycles (a few minutes)
    .venv/bin/python benchmarks/hostile.py trickle bomb items

Exit status 1 when a figure is out of bounds. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # the suite's servers and harness are reused as they are

from hostile import (  # noqa: E402
    Entry,
    Harness,
    RawServer,
    endless,
    news,
    respond,
    rss,
    silent,
    trickle_body,
    trickle_headers,
)

from tracker.errors import ParseError  # noqa: E402
from tracker.matching import TopicMatcher  # noqa: E402
from tracker.models import MIB, ItemText, Settings  # noqa: E402
from tracker.parse import parse_feed  # noqa: E402
from tracker.poll import ParsePool  # noqa: E402
from tracker.topics import load_topic  # noqa: E402

DEFAULTS = Settings()  # the shipped defaults, not the suite's scaled-down ones
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Row = tuple[str, str, str, bool]  # case, figure, bound, within the bound


def with_feed(
    work: Path, pool: ParsePool, setup: Callable[[RawServer], bytes | None], memory: bool = False
) -> tuple[Harness, float, int, str]:
    """Serve one feed (``setup`` routes ``/feed``), poll it once with the defaults."""
    with RawServer() as server:
        setup(server)
        harness = Harness(work / f"{time.monotonic_ns()}.db", pool, DEFAULTS)
        url = server.url("/feed")
        harness.add(url)
        measured = harness.poll(memory=memory)
        kind = harness.feed(url)["last_error_kind"] or f"ok, {harness.items(url)} items"
        harness.close()
    return harness, measured.elapsed, measured.peak, kind


def trickle(work: Path, pool: ParsePool) -> list[Row]:
    rows = []
    for name, behaviour in (
        ("silent server", silent),
        ("headers at 1 byte/s", lambda s: trickle_headers(s, 1.0)),
        ("body at 1 byte/s", lambda s: trickle_body(s, rss(news(5)), 1.0)),
    ):
        _, elapsed, _, kind = with_feed(work, pool, lambda s, b=behaviour: s.route("/feed", b(s)))
        bound = DEFAULTS.deadline + 2
        rows.append((name, f"{kind} after {elapsed:.1f} s", f"<= {bound:g} s", elapsed <= bound))
    return rows


def bomb(work: Path, pool: ParsePool) -> list[Row]:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    gigabyte = b"".join(packer.compress(zeros) for _ in range(1024)) + packer.flush()
    cases = {
        "gzip bomb, 1 GiB decoded": (gigabyte, {"Content-Encoding": "gzip"}),
        "gzip inside gzip": (gzip.compress(gigabyte), {"Content-Encoding": "gzip, gzip"}),
    }
    rows = []
    bound = 4 * DEFAULTS.max_bytes
    for name, (body, headers) in cases.items():
        _, elapsed, peak, kind = with_feed(
            work, pool, lambda s, b=body, h=headers: s.route("/feed", respond(b, headers=h)), True
        )
        figure = f"{kind}, {elapsed:.2f} s, peak {peak / MIB:.1f} MiB"
        rows.append(
            (name, figure, f"<= {bound / MIB:g} MiB", peak <= bound and kind == "too_large")
        )
    _, elapsed, peak, kind = with_feed(
        work, pool, lambda s: s.route("/feed", endless(s, b"<rss>" * 13107)), True
    )
    figure = f"{kind}, {elapsed:.2f} s, peak {peak / MIB:.1f} MiB"
    rows.append(("endless body", figure, f"<= {bound / MIB:g} MiB", peak <= bound))
    return rows


def dense_item(work: Path, pool: ParsePool) -> list[Row]:
    unit = "<p><b>Kabul</b> <i>talks</i> <a href='/l'>more</a> <span>x</span></p>"
    html = (unit * (10_000_000 // len(unit) + 1))[:10_000_000]
    document = rss([Entry("huge", "Huge", "http://o.example/huge", html), *news(3)])
    started = time.perf_counter()
    parsed = parse_feed(document, {}, "http://127.0.0.1/", NOW)
    elapsed = time.perf_counter() - started
    longest = max(len(item.summary) + len(item.content) for item in parsed.items)
    truncated = sum(item.truncated for item in parsed.items)
    figure = f"{len(document) / 1e6:.0f} MB parsed in {elapsed:.1f} s, {longest} chars kept"
    ok = elapsed < DEFAULTS.parse_timeout and truncated == 1
    return [("10 MB item of dense HTML", figure, f"< {DEFAULTS.parse_timeout:g} s", ok)]


def items(work: Path, pool: ParsePool) -> list[Row]:
    minimal = [Entry(str(n), f"Item {n}") for n in range(100_000)]  # to fit under the cap
    document = rss(minimal)
    _, elapsed, _, kind = with_feed(work, pool, lambda s: s.route("/feed", respond(document)))
    bound = DEFAULTS.parse_timeout + 3
    figure = f"{len(document) / 1e6:.0f} MB: {kind} after {elapsed:.1f} s"
    return [("100,000 items", figure, f"<= {bound:g} s, <= 1000 items", elapsed <= bound)]


def nesting(work: Path, pool: ParsePool) -> list[Row]:
    deep = "<x>" * 100_000 + "</x>" * 100_000
    document = rss(news(2)).replace(b"</channel>", deep.encode() + b"</channel>")
    _, elapsed, _, kind = with_feed(work, pool, lambda s: s.route("/feed", respond(document)))
    bound = DEFAULTS.parse_timeout + 3
    return [("100,000 nested elements", f"{kind} after {elapsed:.1f} s", f"<= {bound:g} s",
             elapsed <= bound)]  # fmt: skip


def entities(work: Path, pool: ParsePool) -> list[Row]:
    big = "A" * 1_000_000
    document = (
        f'<?xml version="1.0"?>{" " * 5_000_000}<!DOCTYPE rss [<!ENTITY big "{big}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>'
        + "&big;" * 1_000_000
        + "</title></item></channel></rss>"
    ).encode()
    started = time.perf_counter()
    try:
        parse_feed(document, {}, "http://127.0.0.1/", NOW)
        kind = "parsed!"
    except ParseError as exc:
        kind = exc.kind
    elapsed = 1000 * (time.perf_counter() - started)
    figure = f"{len(document) / 1e6:.0f} MB quadratic bomb: {kind} in {elapsed:.0f} ms"
    return [("entity expansion", figure, "< 1000 ms", kind == "entities" and elapsed < 1000)]


def terms(work: Path, pool: ParsePool) -> list[Row]:
    words = [f"term{n} word{n}" if n % 3 else f"pre{n}*" for n in range(1000)]
    groups = [", ".join(json.dumps(t) for t in part) for part in (words[:500], words[500:])]
    path = work / "big.toml"
    path.write_text(
        f'name = "big"\n[groups.a]\nterms = [{groups[0]}]\n[groups.b]\nterms = [{groups[1]}]\n'
        '[rule]\nall_of = ["a", "b"]\nwithin = 40\n'
    )
    matcher = TopicMatcher(load_topic(path))
    vocabulary = ["the", "Taliban", "term5", "word5", "pre7x", "news", "(a+)+"]
    text = " ".join(vocabulary[n % len(vocabulary)] for n in range(2_000_000))[:10_000_000]
    started = time.perf_counter()
    matcher.decide(ItemText("t", "", text))
    raw = time.perf_counter() - started
    capped = text[:200_000]  # what the parser keeps of one field
    started = time.perf_counter()
    matcher.decide(ItemText(capped[:300], capped, capped))
    stored = time.perf_counter() - started
    figure = f"raw 10 MB: {raw:.2f} s; as stored (fields capped): {stored:.2f} s"
    return [("1,000 terms vs a 10 MB item", figure, "< 1 s as stored", stored < 1.0)]


def crash(work: Path, pool: ParsePool) -> list[Row]:
    from test_crash_recovery import crash_cycles

    root = Path(tempfile.mkdtemp(prefix="tracker-crash-"))  # kept for a look when it fails
    report = crash_cycles(root, 100, seed=random.randrange(2**32))
    shutil.rmtree(root)
    figure = (
        f"{report.kills} kills in {report.seconds:.0f} s ({report.mid_cycle} mid-cycle, "
        f"{report.hot} with a WAL to recover), {report.acknowledged} items kept, "
        f"{report.final_items} at the end, seed {report.seed}"
    )
    ok = report.exit_code == 0 and "Traceback" not in report.log
    return [("kill -9 cycles", figure, "nothing lost or doubled", ok)]


CASES: dict[str, Callable[[Path, ParsePool], list[Row]]] = {
    "trickle": trickle,
    "bomb": bomb,
    "dense": dense_item,
    "items": items,
    "nesting": nesting,
    "entities": entities,
    "terms": terms,
    "crash": crash,
}


def main(names: list[str]) -> int:
    chosen = names or [name for name in CASES if name != "crash"]
    unknown = set(chosen) - CASES.keys()
    if unknown:
        print(f"unknown case(s) {sorted(unknown)}; choose from {', '.join(CASES)}")
        return 2
    pool = ParsePool(2)
    failed = 0
    try:
        with tempfile.TemporaryDirectory(prefix="tracker-hostile-") as work:
            for name in chosen:
                for case, figure, bound, ok in CASES[name](Path(work), pool):
                    failed += not ok
                    print(f"{'ok ' if ok else 'OUT'}  {case:<28} {figure}  [{bound}]", flush=True)
    finally:
        pool.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
