"""The SQLite store: the only package that talks to the database.

``Store`` is an open tracker database. It writes what it is told and decides
nothing: a poll is written as the decider's ``PollWrite`` says, in one
``BEGIN IMMEDIATE`` transaction (the feed's new state, its items, their verdicts and
the ``polls`` row, or none of it); the matcher and the scheduler run before it.
Its modules, one area each:

- ``connection``: opening SQLite, the immediate transaction, write failures;
- ``schema`` and ``migrations``: the public schema and bringing a database to it;
- ``feeds``: the ``feeds`` table following the config, feeds as ``FeedState``;
- ``items``: a poll's snapshot read and its ``PollWrite`` applied;
- ``bands``: story candidates, the story-band and full-text index batches;
- ``verdicts``: matches, assessments, flags and topics, rescoring;
- ``notify``: flags still to alert, marking them alerted;
- ``runs``: the service's runs and the status counts.

A ``Store`` belongs to the thread that opened it, with one exception: an index
batch (``index_aside``) runs on a connection of its own, on another thread, while
the store's connection keeps serving reads. No transaction is held open across
network I/O. A new table goes in ``schema`` (a new migration), with the module of
its area here reading and writing it.

Must not: fetch, parse, match, schedule or decide what a poll writes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from tracker.errors import StoreError
from tracker.store.articles import ArticleTexts
from tracker.store.connection import connect
from tracker.store.feeds import FeedTable
from tracker.store.items import PollWriter
from tracker.store.migrations import migrate
from tracker.store.notify import Notifications
from tracker.store.runs import ServiceRuns
from tracker.store.verdicts import Verdicts

__all__ = ["Store", "StoreError"]


class Store(FeedTable, PollWriter, Verdicts, Notifications, ServiceRuns, ArticleTexts):
    """An open tracker database."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._open_index()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = connect(self.path)
            self.db = sqlite_utils.Database(self.conn)
            migrate(self.path, self.conn, self.db)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot use database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create database: {exc.strerror}") from None

    def close(self) -> None:
        self._close_index()
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Move the WAL into the database so it stays bounded."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def end_cycle(self) -> int:
        """At the end of a poll cycle: index the cycle's last new items (or a killed
        writer's); return how many."""
        return self.index_pending()
