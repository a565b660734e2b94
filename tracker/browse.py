"""Browse the database in Datasette: what ``tracker browse`` starts.

Owns how Datasette is put on tracker's database: the metadata file
(``config/datasette.yml``: descriptions, facets, search, canned queries, the
Atom feed and the dashboard), tracker's plugin (``datasette_plugin``) and the
settings. The database is served as a normal file, not immutable, so pages show
what a running ``tracker run`` has just written; Datasette only reads it. In a folder
this user cannot write, it is served immutable (SQLite could not open it otherwise).

``python -m tracker.browse ARGS`` is Datasette's own command line with tracker's
plugin registered first; ``datasette_command`` builds that command and ``serve``
replaces the current process with it. ``make_app`` builds the same Datasette
in-process, for tests.

Must not: write to the database, or configure logging (the CLI does).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tracker import datasette_plugin
from tracker.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from datasette.app import Datasette

log = logging.getLogger(__name__)

# Datasette names a database after its file's stem; config/datasette.yml uses this name.
DATABASE_NAME = "tracker"
# Suggested facets try a GROUP BY on every column of every page: on a million items that
# is seconds per page, while the facets named in the metadata stay on.
SETTINGS: dict[str, int] = {"sql_time_limit_ms": 5000, "suggest_facets": 0}


def datasette_command(
    db_path: Path, metadata: Path, host: str, port: int, *, immutable: bool = False
) -> list[str]:
    """The command that serves ``db_path`` in Datasette with tracker's metadata and plugin
    (``immutable``: as a file nobody writes, for a folder this user cannot write)."""
    settings = [arg for name, value in SETTINGS.items() for arg in ("--setting", name, str(value))]
    return [
        sys.executable,
        "-m",
        "tracker.browse",
        "serve",
        *(("-i",) if immutable else ()),
        str(db_path),
        "--metadata",
        str(metadata),
        "--host",
        host,
        "--port",
        str(port),
        *settings,
    ]


def serve(db_path: Path, metadata: Path, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Replace this process with Datasette serving ``db_path`` (returns only on error)."""
    check_paths(db_path, metadata)
    if not is_loopback(host):
        log.warning(
            "browse listens beyond this machine without authentication host=%s; "
            "put it behind a proxy with auth or datasette-auth-passwords",
            host,
        )
    # A reader of a WAL database needs its shared-memory file: in a folder this user
    # cannot write, SQLite can only read the file as it is.
    immutable = not os.access(db_path.parent, os.W_OK)
    command = datasette_command(db_path, metadata, host, port, immutable=immutable)
    log.info("browse starting url=http://%s:%d/", host, port)
    logging.shutdown()
    os.execv(command[0], command)


def check_paths(db_path: Path, metadata: Path) -> None:
    """Raise ``StoreError``/``ConfigError`` for a missing database or metadata file."""
    if not db_path.is_file():
        raise StoreError(f"{db_path}: no database here yet; run `tracker poll` first")
    if not metadata.is_file():
        raise ConfigError("Datasette metadata file not found", path=str(metadata))
    if db_path.stem != DATABASE_NAME:
        log.warning(
            "database name differs from the metadata's name=%s expected=%s; "
            "descriptions, queries and the dashboard will not apply",
            db_path.stem,
            DATABASE_NAME,
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_app(db_path: Path, metadata: Path) -> Datasette:
    """The Datasette that ``serve`` starts, built in this process (for tests)."""
    from datasette.app import Datasette
    from datasette.utils import parse_metadata

    register_plugin()
    return Datasette(
        [str(db_path)],
        metadata=parse_metadata(metadata.read_text(encoding="utf-8")),
        settings=dict(SETTINGS),
    )


def register_plugin() -> None:
    """Register ``datasette_plugin`` once, unless an entry point already did."""
    from datasette.plugins import pm

    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="tracker")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m tracker.browse ARGS``: Datasette's command line with tracker's plugin."""
    from datasette.cli import cli

    register_plugin()
    cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="datasette")


if __name__ == "__main__":
    main()
