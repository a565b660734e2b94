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
- ``developments``: developments and each flag's place and role in one;
- ``surges``: developments' spread (surges) and their coverage over time;
- ``notify``: flags still to alert, marking them alerted;
- ``reviews``: the analysts' reviews of flags and their desk marks;
- ``runs``: the service's runs and the status counts;
- ``retention``: old polls summarised into ``poll_days``, unneeded items deleted,
  space given back (``prune``, ``vacuum``).

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
from tracker.store.connection import configure, connect_read_only, open_connection
from tracker.store.developments import DevelopmentTable
from tracker.store.feeds import FeedTable
from tracker.store.items import PollWriter
from tracker.store.migrations import is_current, migrate, refuse_newer
from tracker.store.notify import Notifications
from tracker.store.retention import Pruning
from tracker.store.reviews import Reviews
from tracker.store.runs import ServiceRuns
from tracker.store.surges import SurgeTable
from tracker.store.verdicts import Verdicts

__all__ = ["Store", "StoreError"]


class Store(
    FeedTable,
    PollWriter,
    Pruning,
    Verdicts,
    DevelopmentTable,
    SurgeTable,
    Notifications,
    Reviews,
    ServiceRuns,
    ArticleTexts,
):
    """An open tracker database.

    ``read_only``: a database that exists and is at the current schema is opened
    without the right to write (a reader on a read-only file or folder); one that
    does not exist yet, or needs an upgrade, is opened as usual. ``create``: a
    missing folder is made (otherwise it is an error).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, create: bool = True) -> None:
        self.path = str(path)
        self._open_index()
        try:
            self.conn = self._connect(read_only=read_only, create=create)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot use database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create database: {exc.strerror}") from None
        try:
            self._bring_up_to_date()
        except BaseException:
            self.conn.close()  # a refused database keeps no connection (nor WAL files)
            raise

    def _bring_up_to_date(self) -> None:
        try:
            refuse_newer(self.path, self.conn)  # before anything writes to the file
            if not self.read_only:
                configure(self.conn)
            self.db = sqlite_utils.Database(self.conn)
            migrate(self.path, self.conn, self.db)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot use database: {exc}") from None

    def _connect(self, *, read_only: bool, create: bool) -> sqlite3.Connection:
        folder = Path(self.path).parent
        if self.path != ":memory:" and not folder.is_dir():
            if not create:
                raise StoreError(f"{self.path}: no such folder: {folder}")
            folder.mkdir(parents=True, exist_ok=True)
        self.read_only = False
        if read_only and Path(self.path).is_file():
            conn = connect_read_only(self.path)
            if is_current(conn):
                self.read_only = True
                return conn
            conn.close()
        return open_connection(self.path)

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
