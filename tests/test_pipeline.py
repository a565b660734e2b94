"""The poll pipeline end to end: real captured feeds served on 127.0.0.1, the real
``tracker poll --once`` command, a real SQLite file."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import feedparser
import pytest
from conftest import DATA, Run, make_project
from feedserver import serve_files
from httpserver import LocalServer, Reply, closed_port

# Every test here polls the corpus through the command and its parse workers: the slow tier.
pytestmark = pytest.mark.slow

CORPUS = DATA / "corpus"


def corpus_files() -> list[Path]:
    return sorted(
        p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".tsv" and p.name != "README.md"
    )


def distinct_entries(body: bytes) -> int:
    """How many distinct entries feedparser itself sees in a document."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(body)
    keys = {
        e.get("id") or e.get("link") or e.get("title") or repr(sorted(e.items()))
        for e in parsed.entries
    }
    return len(keys)


def stored_entries(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT feeds.url, COUNT(item_feeds.entry_key) FROM feeds "
            "LEFT JOIN item_feeds ON item_feeds.feed_id = feeds.id GROUP BY feeds.url"
        )
        return dict(rows.fetchall())


def test_corpus_polled_twice_stores_entries_once_and_revalidates(
    tmp_path: Path, run_tracker: Run
) -> None:
    files = corpus_files()
    assert len(files) >= 40, "the corpus copy in tests/data/corpus is missing"
    with LocalServer() as server:
        urls = serve_files(server, files)
        server.route("/broken", Reply(status=500, body=b"oops"))
        failing = [server.url("/broken"), f"http://127.0.0.1:{closed_port()}/feed.xml"]
        make_project(tmp_path, urls + failing)

        first = run_tracker("poll", "--once")
        db = tmp_path / "db" / "tracker.db"
        stored = stored_entries(db)
        expected = {
            url: distinct_entries(path.read_bytes()) for url, path in zip(urls, files, strict=True)
        }
        seen = sum(expected.values())
        kept = sum(min(stored.get(url, 0), n) for url, n in expected.items())
        assert seen > 1000
        assert kept >= 0.9 * seen, f"stored {kept} of {seen} entries"
        assert f"total: {len(urls) + 2} feeds" in first.stdout
        assert "FAIL" in first.stdout

        before = len(server.received)
        second = run_tracker("poll", "--once")
        requests = server.received[before:]
        assert ", 0 new items" in second.stdout
        assert stored_entries(db) == stored
        feed_requests = [r for r in requests if not r.path.startswith("/broken")]
        assert len(feed_requests) == len(urls)
        unconditional = [r.path for r in feed_requests if "if-none-match" not in r.headers]
        assert not unconditional

    with sqlite3.connect(db) as conn:
        errors = dict(
            conn.execute(
                "SELECT url, last_error_kind FROM feeds WHERE last_error IS NOT NULL"
            ).fetchall()
        )
        assert errors.get(failing[0]) == "http" and errors.get(failing[1]) == "connect"
        working = conn.execute(
            "SELECT COUNT(*) FROM feeds WHERE last_success_at IS NOT NULL"
        ).fetchone()[0]
        outcomes = conn.execute("SELECT COUNT(*) FROM polls").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    documents = sum(1 for n in expected.values() if n)
    assert working >= documents
    assert outcomes == 2 * (len(urls) + 2)
