"""Time the desk's pages on a built benchmark database, for the tracker on the path.

    python benchmarks/development_desk.py DB [--label after] [--rounds 5]
    python benchmarks/development_desk.py DB --events 400


Serves ``DB`` as ``tracker browse`` does (in-process, Datasette's test client) and
prints one JSON line: the median milliseconds of each page (the inbox, a topic and
week, the Atom feed of flags, the page of the development with the most reports and
that page's last timeline page), after one request to warm up. Run it with
``PYTHONPATH`` naming another checkout of tracker and ``--metadata`` its
config/datasette.yml (and on another copy of the database: tracker migrates what it
opens) to time that code on the same data; see
benchmarks/results/2026-12-07-development-desk-speed.md.

``--events N`` first places the database's flags in N developments instead (in
place: give it a copy): the flags in order of publication cut into N runs, one
event each, as a desk with many stories of tens of reports has them. The generator
of ``datasette_1m.py`` draws every flagged item from one vocabulary, so grouping puts
them all in one development: the desk's worst case, not its usual one.
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
from tracker.store import Store
from tracker.store.developments import refresh

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


async def time_pages(db: Path, rounds: int, metadata: Path) -> dict[str, dict[str, float | int]]:
    datasette = make_app(db, metadata)
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


def spread(db: Path, events: int) -> None:
    """Place the flags in ``events`` developments: runs of consecutive reports."""
    with Store(db) as store, store.conn:
        conn = store.conn
        conn.execute("DELETE FROM development_surges")
        conn.execute("UPDATE flags SET development_id = NULL")
        conn.execute("DELETE FROM developments")
        flags = conn.execute("SELECT item_id, topic FROM flags ORDER BY published, item_id")
        placed = list(flags)
        size = -(-len(placed) // events)
        for start in range(0, len(placed), size):
            run = placed[start : start + size]
            development = conn.execute(
                "INSERT INTO developments (topic, first_seen, last_seen) VALUES (?, '', '')",
                (run[0][1],),
            ).lastrowid
            conn.executemany(
                "UPDATE flags SET development_id = ?, development_role = ? "
                "WHERE item_id = ? AND topic = ?",
                [(development, _role(n), item, topic) for n, (item, topic) in enumerate(run)],
            )
        ids = [row[0] for row in conn.execute("SELECT id FROM developments")]
        refresh(conn, ids)


def _role(n: int) -> str:
    return "new" if n == 0 else "update" if n % 5 == 0 else "repeat"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, help="first place the flags in N developments")
    parser.add_argument("--metadata", type=Path, default=METADATA, help="the checkout's YAML")
    args = parser.parse_args()
    if args.events:
        spread(args.db, args.events)
        return 0
    timings = asyncio.run(time_pages(args.db, args.rounds, args.metadata))
    print(json.dumps({"label": args.label, "db": str(args.db), "pages": timings}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
