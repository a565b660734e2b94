"""The store's connection to SQLite: how it is opened and how a write is made.

Owns the connection settings (WAL, busy timeout, foreign keys, checkpoint size), the
read-only connection of the commands
that only read (``mode=ro``, ``immutable=1``),
the immediate transaction every write runs in, which SQLite failures mean "the
database cannot take a write just now" (as opposed to a bug in tracker's SQL), and
``StoreBase``, the part of ``Store`` that every area of the store shares.

Must not: know any table (the area modules do) or decide anything.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import quote

import sqlite_utils

from tracker.errors import StoreError

BUSY_TIMEOUT_MS = 30_000
# A feed's poll dirties pages all over the indexes; checkpointing every 32 MB of WAL
# instead of SQLite's 4 MB writes each page back once for many polls, not once per few.
WAL_CHECKPOINT_PAGES = 8192
SQL_BATCH = 500  # values bound in one IN (...) list
# SQLite result codes that mean the database could not take a write just now, as
# opposed to a bug in tracker's SQL: such a write is rolled back and reported.
_WRITE_FAILURES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
    }
)

T = TypeVar("T")


def connect_read_only(path: str) -> sqlite3.Connection:
    """A connection that cannot write: ``mode=ro``, or, where SQLite cannot even make
    the shared-memory file a WAL reader needs (a read-only folder), ``immutable=1``
    (the file is then read as it is, without the WAL of a writer that may hold one)."""
    uri = f"file:{quote(os.path.abspath(path))}"
    try:
        conn = _read_only(f"{uri}?mode=ro")
    except sqlite3.OperationalError:
        conn = _read_only(f"{uri}?immutable=1")
    return conn


def _read_only(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        conn.execute("PRAGMA user_version").fetchone()  # opening is lazy: read once
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def connect(path: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    conn = open_connection(path, check_same_thread=check_same_thread)
    configure(conn)
    return conn


def open_connection(path: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection that has not written anything yet (``configure`` may: WAL mode
    rewrites the file's header)."""
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=check_same_thread,
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_size_limit = 67108864")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One immediate transaction: a second writer waits (busy timeout)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite rolls back by itself on some errors (disk full)
            conn.execute("ROLLBACK")
        raise


def is_write_failure(exc: sqlite3.OperationalError) -> bool:
    """Whether the database refused a write (disk full, I/O error, locked too long)."""
    return exc.sqlite_errorcode & 0xFF in _WRITE_FAILURES


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes when another connection commits (not this one)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def chunks(values: Sequence[T], size: int = SQL_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class StoreBase:
    """The open database every area of the store works on."""

    path: str
    conn: sqlite3.Connection
    db: sqlite_utils.Database

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction on the store's connection."""
        with transaction(self.conn) as conn:
            yield conn

    def check_writable(self) -> None:
        """``StoreError`` now, rather than at the first write, when the database cannot
        be written (a read-only file: SQLite then opens it read-only without a word)."""
        # BEGIN IMMEDIATE alone succeeds on a read-only file in WAL mode: write the
        # header's own value back, then roll back.
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
                self.conn.execute(f"PRAGMA user_version = {version}")
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot write the database: {exc}") from None

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])
