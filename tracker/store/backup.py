"""A consistent copy of a live tracker database (``tracker backup``).

Owns copying a database while the service writes and Datasette reads: SQLite's online
backup API, in one step, reads the whole database in one read transaction (in WAL
mode a writer goes on meanwhile, and the copy is the database as of one commit). The
copy goes to a temporary file in the target's folder, is checked with ``PRAGMA
integrity_check`` and only then renamed to the target, so a failure (a missing folder,
a full disk, a damaged copy) leaves no half-written file behind; an existing target is
never replaced unless asked.

Why the backup API rather than ``VACUUM INTO``: it copies pages as they are, where
``VACUUM INTO`` rebuilds every table and index into the new file (1.8x slower on a 470
MB database, ``benchmarks/backup.py``), and the copy is the exact file a restore puts
back.

Must not: open the database through ``Store`` (a backup never migrates, never creates
a database, and works on one a newer tracker wrote) or write to it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

from tracker.errors import StoreError
from tracker.models import BackupReport
from tracker.store.connection import BUSY_TIMEOUT_MS


def backup_database(source: Path, target: Path, *, force: bool = False) -> BackupReport:
    """Copy the database at ``source`` to ``target``; ``StoreError`` says why not."""
    if not source.is_file():
        raise StoreError(f"{source}: no database there (nothing to back up)")
    _check_target(target, force)
    if target.exists() and target.samefile(source):
        raise StoreError(f"{target}: is the database itself; name another file")
    temp = _temp_beside(target)
    try:
        report = _copy(source, temp, target)
        _put_in_place(temp, target, force)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return BackupReport(target=str(target), **report)


def _check_target(target: Path, force: bool) -> None:
    if target.is_dir():
        raise StoreError(f"{target}: is a folder; name the backup file")
    if not target.parent.is_dir():
        raise StoreError(f"{target}: folder {target.parent} does not exist")
    if target.exists() and not force:
        raise StoreError(f"{target}: already exists; use --force to replace it")


def _temp_beside(target: Path) -> Path:
    """An empty temporary file in the target's folder (the rename stays on one disk)."""
    try:
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise StoreError(f"{target}: cannot write the backup: {exc.strerror}") from None
    os.close(handle)
    return Path(name)


def _copy(source: Path, temp: Path, target: Path) -> dict[str, int]:
    """The pages of ``source`` into ``temp``, checked; the copy's size and counts."""
    try:
        with contextlib.closing(_open(source)) as src, contextlib.closing(_open(temp)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            check = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
            if check != "ok":
                raise StoreError(f"{target}: the copy failed its integrity check: {check}")
            counts = {name: _count(dst, name) for name in ("feeds", "items", "flags")}
    except sqlite3.Error as exc:
        raise StoreError(f"cannot back up {source} to {target}: {_reason(exc)}") from None
    return {"size": temp.stat().st_size, **counts}


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)


def _count(conn: sqlite3.Connection, table: str) -> int:
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # not a tracker database, or an empty one
        return 0


def _reason(exc: sqlite3.Error) -> str:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return "the disk is full"
    if code == sqlite3.SQLITE_IOERR:  # a write refused: no space left, or a file size limit
        return f"{exc} (is the disk full?)"
    return str(exc)


def _put_in_place(temp: Path, target: Path, force: bool) -> None:
    """Rename the checked copy to ``target``; without ``force``, never over a file that
    appeared meanwhile (a hard link fails if the name is taken)."""
    try:
        if force:
            os.replace(temp, target)
            return
        try:
            os.link(temp, target)
        except FileExistsError:
            raise StoreError(f"{target}: already exists; use --force to replace it") from None
        except OSError:  # a file system without hard links
            if target.exists():
                raise StoreError(f"{target}: already exists; use --force to replace it") from None
            os.replace(temp, target)
    except OSError as exc:
        raise StoreError(f"{target}: cannot write the backup: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)
