"""Time the desk's pages on a built benchmark database, for the tracker on the path.

    python benchmarks/development_desk.py DB [--label after] [--rounds 5]

Serves ``DB`` as ``tracker browse`` does (in-process, Datasette's test client) and
prints one JSON line: the median milliseconds of each page (the inbox, a topic and
week, the Atom feed of flags, the page of the development with the most reports and
that page's last timeline page), after one request to warm up. Run it with
``PYTHONPATH`` naming another checkout of tracker (and on another copy of the
database: tracker migrates what it opens) to time that code on the same data; see
benchmarks/results/2026-12-07-development-desk-speed.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker.browse import make_app

METADATA = Path(__file__).resolve().parent.parent / "config" / "datasette.yml"


def pages(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        biggest, reports = conn.execute(
            "SELECT id, reports FROM developments ORDER BY reports DESC LIMIT 1"
        ).fetchone()
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    last = max(1, -(-int(reports) // 100))
    return {
        "desk": "/",
        "desk_topic_week": f"/?topic=us-taliban&since={since}",
        "flagged_atom": f"/{db.stem}/flagged_atom.atom",
        "development_page": f"/-/desk/development?id={biggest}",
        "development_page_last": f"/-/desk/development?id={biggest}&page={last}",
    }


async def time_pages(db: Path, rounds: int) -> dict[str, dict[str, float | int]]:
    datasette = make_app(db, METADATA)
    timings: dict[str, dict[str, float | int]] = {}
    for key, path in pages(db).items():
        response = await datasette.client.get(path)
        seconds = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = await datasette.client.get(path)
            seconds.append(time.perf_counter() - started)
        median_ms = round(statistics.median(seconds) * 1000, 1)
        timings[key] = {"status": response.status_code, "median_ms": median_ms}
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    timings = asyncio.run(time_pages(args.db, args.rounds))
    print(json.dumps({"label": args.label, "db": str(args.db), "pages": timings}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
