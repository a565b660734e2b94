"""What surge detection costs: the ``detect_surges`` hook of a cycle, and a rescore's
detection over every development of a topic, on the 1M-item benchmark database.

    .venv/bin/python benchmarks/surges.py [DB]

DB defaults to the database ``benchmarks/datasette_1m.py`` builds (its flags placed in
developments). The database is copied first, so the timings write surges into the
copy only. A cycle's hook is timed with ``now`` one hour after the newest flag (it
looks at the developments flagged in the last day), then the detection a rescore
does over every development of the topic (quiet, as history), five times each; the
median counts. Prints a Markdown table.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from tracker.models import DevelopmentConfig
from tracker.store import Store

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO / "benchmarks" / "scratch" / "datasette-0.01" / "tracker.db"
ROUNDS = 5


def timed(run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DB
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "tracker.db"
        shutil.copy(source, db)
        with Store(db) as store:
            newest = store.conn.execute("SELECT MAX(flagged_at) FROM flags").fetchone()[0]
            now = datetime.fromisoformat(newest) + timedelta(hours=1)
            topics = [r[0] for r in store.conn.execute("SELECT DISTINCT topic FROM flags")]
            counts = store.conn.execute(
                "SELECT COUNT(*), (SELECT COUNT(*) FROM developments) FROM flags"
            ).fetchone()
            rule = DevelopmentConfig()
            cycle = [timed(lambda: store.detect_surges(rule, now)) for _ in range(ROUNDS)]
            rescore = [
                timed(lambda: store.detect_surges(rule, now, topics=topics, quiet=True))
                for _ in range(ROUNDS)
            ]
            found = store.conn.execute("SELECT COUNT(*) FROM development_surges").fetchone()[0]
    print(f"{counts[0]:,} flags in {counts[1]:,} developments; {found:,} surges found")
    print("| Detection | Median ms | Rounds (ms) |")
    print("| --- | ---: | --- |")
    for name, times in (("a cycle's hook", cycle), ("a rescore (every development)", rescore)):
        rounds = ", ".join(f"{t:.0f}" for t in times)
        print(f"| {name} | {statistics.median(times):.0f} | {rounds} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
