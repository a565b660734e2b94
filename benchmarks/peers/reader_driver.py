"""Drive lemon24/reader 3.x the way its docs show: add the feeds, update them all.

Run with the peers' virtualenv: ``python reader_driver.py DB URLS_FILE [--workers N]``.
Prints one JSON line: seconds spent in ``update_feeds`` and entries stored.
"""

from __future__ import annotations

import argparse
import json
import time

from reader import make_reader


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("urls_file")
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--search", action="store_true", help="also update the search index")
    args = parser.parse_args()
    with open(args.urls_file, encoding="utf-8") as handle:
        urls = [line.strip() for line in handle if line.strip()]
    reader = make_reader(args.db)
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    started = time.perf_counter()
    # scheduled=False: update every feed now, as a poll of all feeds does (reader 3.x
    # would otherwise skip feeds its own schedule does not consider due yet).
    reader.update_feeds(workers=args.workers, scheduled=False)
    updated = time.perf_counter() - started
    search = 0.0
    if args.search:
        reader.enable_search()
        started = time.perf_counter()
        reader.update_search()
        search = time.perf_counter() - started
    counts = reader.get_entry_counts()
    errors = sum(1 for feed in reader.get_feeds() if feed.last_exception)
    result = {"update_s": updated, "search_s": search, "entries": counts.total, "errors": errors}
    print(json.dumps(result))
    reader.close()


if __name__ == "__main__":
    main()
