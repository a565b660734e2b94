"""Retention and the search index (#21): the prune's FTS5 merge steps take deleted items'
words out of ``items_fts`` in short bounded steps, search keeps finding exactly the
items still there (the index, Datasette's ``search_items``, the desk), the day's
budget of steps carries over from one part of the prune to the next, and
``vacuum`` merges the index whole."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from dbfactory import NOW, populated_db

from tracker import browse
from tracker.models import Retention
from tracker.retention import MERGE_STEPS_PER_DAY, PrunePlan, PruneReport, prune_plan
from tracker.store import Store
from tracker.store import retention as store_retention

METADATA = Path(__file__).resolve().parents[1] / "config" / "datasette.yml"
WHEN = NOW + timedelta(days=1)  # every populated item is old by then
DELETE = PrunePlan(WHEN, WHEN)  # deletes, merges nothing
MERGE = PrunePlan(None, None, merge_steps=1_000)
FILLERS = 600
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_retention, "BATCH_PAUSE", 0.0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The populated database and ``FILLERS`` old items nothing needs, indexed in small FTS5
    pages (``pgsz``), so that the index spans thousands of pages and a merge of a few
    pages is a small part of it."""
    path = tmp_path / "tracker.db"
    populated_db(path)
    old = (NOW - timedelta(days=200)).isoformat()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('pgsz', 64)")
        conn.executemany(
            "INSERT INTO items (url, title, summary, published, first_seen_at, content_hash, "
            "feed_id) VALUES (?, ?, ?, ?, ?, 'h', 1)",
            [
                (f"https://x.example/{n}", f"filler item {n}", filler(n), old, old)
                for n in range(2000)
            ],
        )
        conn.execute("UPDATE items SET story_id = id WHERE story_id IS NULL")
    with Store(path) as store:
        store.index_pending()
    return path


def filler(n: int) -> str:
    return " ".join(f"{WORDS[(n * k) % len(WORDS)]}{(n + k) % 50}" for k in range(20))


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def search(path: Path, query: str) -> set[int]:
    return {
        row[0] for row in rows(path, f"SELECT rowid FROM items_fts WHERE items_fts MATCH '{query}'")
    }


def index_bytes(path: Path) -> int:
    return int(rows(path, "SELECT SUM(length(block)) FROM items_fts_data")[0][0])


def index_is_sound(path: Path) -> bool:
    """FTS5's own check of the index against the items table (rank 1: the content too)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
    return True


@pytest.mark.slow  # two prunes of two databases
def test_merge_steps_shrink_the_index_and_search_finds_exactly_the_items_left(
    db: Path, tmp_path: Path
) -> None:
    unmerged = tmp_path / "unmerged.db"
    shutil.copy(db, unmerged)
    with Store(unmerged) as store:
        deleted = store.prune(DELETE)
    with Store(db) as store:
        report = store.prune(replace_steps(DELETE, MERGE_STEPS_PER_DAY))
    assert deleted.merge_steps == 0 and report.items == deleted.items > FILLERS
    assert report.merge_steps > 0 and report.merges_started == 1 and report.finished
    # the deleted items' words are gone from the index, not only marked deleted
    assert index_bytes(db) < index_bytes(unmerged) / 3
    assert index_is_sound(db) and index_is_sound(unmerged)
    left = {row[0] for row in rows(db, "SELECT id FROM items")}
    assert left == {row[0] for row in rows(unmerged, "SELECT id FROM items")}
    assert search(db, "filler") == set() and search(db, "alpha1") == set()
    kabul = search(db, "kabul")
    assert kabul and kabul <= left and kabul == search(unmerged, "kabul")
    assert search(db, "taliban") == search(unmerged, "taliban") != set()


def replace_steps(plan: PrunePlan, steps: int) -> PrunePlan:
    return PrunePlan(plan.polls_before, plan.items_before, merge_steps=steps)


def get(app: Any, path: str, **params: str) -> Any:
    response = asyncio.run(app.client.get(f"{path}?{urlencode(params)}"))
    assert response.status_code == 200, response.text[:1000]
    return response


@pytest.mark.slow  # a Datasette app
def test_search_items_and_the_desk_search_after_merge_steps(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_retention, "MERGE_PAGES", 4)
    with Store(db) as store:
        assert store.prune(replace_steps(DELETE, MERGE_STEPS_PER_DAY)).merge_steps > 1
    kept = {row[0] for row in rows(db, "SELECT id FROM items")}
    app = browse.make_app(db, METADATA)
    found = get(app, "/tracker/search_items.json", q="Kabul", _shape="array").json()
    ids = [row["item_id"] for row in found]
    assert ids == sorted(search(db, "kabul"), reverse=True) and set(ids) <= kept
    assert get(app, "/tracker/search_items.json", q="filler", _shape="array").json() == []
    page = get(app, "/-/desk/search", q='"embassy in Kabul"').text
    assert "the <mark>embassy in Kabul</mark>" in page
    assert "filler item" not in get(app, "/-/desk/search", q="filler").text


def test_each_merge_step_is_bounded_and_a_merge_cut_short_goes_on(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole.db"
    shutil.copy(db, whole)
    with Store(whole) as store:  # the whole merge in one step of many pages
        store.prune(DELETE)
        before = store.conn.total_changes
        monkeypatch.setattr(store_retention, "MERGE_PAGES", 100_000)
        assert store.prune(MERGE).merge_steps == 1
        one_step = store.conn.total_changes - before
    monkeypatch.setattr(store_retention, "MERGE_PAGES", 2)
    with Store(db) as store:
        store.prune(DELETE)
        steps: list[int] = []
        for turn in range(1_000):  # one transaction a turn, as the cycle's budget allows
            before = store.conn.total_changes
            report = store.prune(MERGE, max_batches=1)
            steps.append(store.conn.total_changes - before)
            assert report.merge_steps == (1 if not report.finished else 0), turn
            if report.finished:
                break
    assert report.finished and len(steps) > 5  # done, in many short steps
    assert max(steps) < one_step / 2
    assert index_bytes(db) <= index_bytes(whole) * 1.1 and index_is_sound(db)


def test_the_plan_bounds_the_steps_and_a_merge_is_begun_once_a_day(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_retention, "MERGE_PAGES", 2)
    with Store(db) as store:
        store.prune(DELETE)
        first = store.prune(PrunePlan(None, None, merge_steps=3))
        assert (first.merge_steps, first.merges_started, first.finished) == (3, 1, True)
        # the rest of the day: the merge under way goes on, none begins anew
        rest = store.prune(PrunePlan(None, None, merge_steps=1_000, merge_start=False))
        assert rest.merge_steps > 1 and rest.merges_started == 0
        # merged: the same day finds nothing to do
        assert store.prune(PrunePlan(None, None, 1_000, merge_start=False)).merge_steps == 0
        # a new day begins a merge again only if there is more than one segment
        assert store.prune(PrunePlan(None, None, merge_steps=1_000)).merge_steps == 0
    assert search(db, "filler") == set() and index_is_sound(db)


def test_the_day_budget_of_merge_steps_carries_over_between_parts_of_a_prune() -> None:
    both = Retention(polls=90 * 86400.0, items=30 * 86400.0)
    fresh = prune_plan(both, NOW)
    assert (fresh.merge_steps, fresh.merge_start) == (MERGE_STEPS_PER_DAY, True)
    later = prune_plan(both, NOW, PruneReport(merge_steps=10, merges_started=1))
    assert (later.merge_steps, later.merge_start) == (MERGE_STEPS_PER_DAY - 10, False)
    spent = prune_plan(both, NOW, PruneReport(merge_steps=MERGE_STEPS_PER_DAY + 5))
    assert spent.merge_steps == 0
    # without item retention nothing is deleted, and nothing is merged
    assert prune_plan(Retention(polls=90 * 86400.0, items=None), NOW).merge_steps == 0


def test_vacuum_merges_the_index_whole(db: Path) -> None:
    with Store(db) as store:
        store.prune(DELETE)
        deleted = index_bytes(db)
        store.vacuum()
        # one segment left: a prune finds nothing to merge
        assert store.prune(MERGE).merge_steps == 0
    assert index_bytes(db) < deleted / 3 and index_is_sound(db)
    assert search(db, "filler") == set() and search(db, "taliban")
