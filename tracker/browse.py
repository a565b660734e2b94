"""Browse the database in Datasette: what ``tracker browse`` starts.

Owns how Datasette is put on tracker's database: the metadata file
(``config/datasette.yml``: descriptions, facets, search, canned queries, the
Atom feed and the dashboard), tracker's plugin (``datasette_plugin``) and the
settings. The database is served as a normal file, not immutable, so pages show
what a running ``tracker run`` has just written; Datasette only reads it (the
desk's reviews and marks go through the store). In a folder this user cannot write,
it is served immutable (SQLite could not open it otherwise).

The metadata names the database ``tracker``; ``metadata_for`` renames it (and the
dashboard's queries) to the stem of the file served, so ``--db db/news.db`` gets the
same descriptions, queries and dashboard. The queries name an item's outlet with a
placeholder that ``metadata_for`` fills with ``schema.OUTLET``, so the metadata is
served through ``tracker browse``, not by ``datasette`` on the YAML file. It also
says who may write reviews from the desk: anyone when Datasette listens on loopback
only, otherwise only an analyst logged in with ``settings.browse_token`` (read from
the environment, so it never appears in ``/-/metadata``).

``python -m tracker.browse ARGS`` is Datasette's own command line with tracker's
plugin registered first; ``datasette_command`` builds that command and ``serve``
replaces the current process with it. ``make_app`` builds the same Datasette
in-process, for tests.

Must not: write to the database (the desk's reviews go through the store), or
configure logging (the CLI does).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker import datasette_plugin
from tracker.alerts import story_pages
from tracker.errors import ConfigError, StoreError
from tracker.store.schema import OUTLET

if TYPE_CHECKING:
    from datasette.app import Datasette

log = logging.getLogger(__name__)

# Datasette names a database after its file's stem; config/datasette.yml uses this name.
DATABASE_NAME = "tracker"
# Suggested facets try a GROUP BY on every column of every page: on a million items that
# is seconds per page, while the facets named in the metadata stay on.
SETTINGS: dict[str, int] = {"sql_time_limit_ms": 5000, "suggest_facets": 0}
TEMPLATES = Path(__file__).resolve().parent / "templates"
TOKEN_ENV = "TRACKER_BROWSE_TOKEN"
# The line of the Atom query that settings.browse_url's story pages replace.
STORY_PAGES_SQL = "SELECT '' AS story_pages"
# Where the canned queries and charts show an item's outlet (YAML cannot import
# ``schema.OUTLET``, so the metadata names it and ``metadata_for`` writes it in).
OUTLET_PLACEHOLDER = "{outlet}"


def datasette_command(
    db_path: Path,
    metadata: Path,
    host: str,
    port: int,
    *,
    open_writes: bool = True,
    browse_url: str = "",
    immutable: bool = False,
) -> list[str]:
    """The command that serves ``db_path`` in Datasette with tracker's metadata (named
    for the file, written to a temporary file) and plugin (``immutable``: as a file
    nobody writes, for a folder this user cannot write)."""
    settings = [arg for name, value in SETTINGS.items() for arg in ("--setting", name, str(value))]
    site = Site(db_path.stem, open_writes, browse_url)
    served = write_metadata(metadata_for(load_metadata(metadata), site))
    return [
        sys.executable,
        "-m",
        "tracker.browse",
        "serve",
        *(("-i",) if immutable else ()),
        str(db_path),
        "--metadata",
        str(served),
        "--template-dir",
        str(TEMPLATES),
        "--host",
        host,
        "--port",
        str(port),
        *settings,
    ]


def serve(
    db_path: Path,
    metadata: Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    token: str = "",
    browse_url: str = "",
) -> None:
    """Replace this process with Datasette serving ``db_path`` (returns only on error)."""
    check_paths(db_path, metadata)
    open_writes = is_loopback(host)
    if not open_writes and not token:
        log.warning(
            "browse listens beyond this machine with no browse_token: the desk is "
            "read-only; set settings.browse_token to let analysts log in and review host=%s",
            host,
        )
    # A reader of a WAL database needs its shared-memory file: in a folder this user
    # cannot write, SQLite can only read the file as it is (and the desk cannot write).
    immutable = not os.access(db_path.parent, os.W_OK)
    command = datasette_command(
        db_path,
        metadata,
        host,
        port,
        open_writes=open_writes and not immutable,
        browse_url=browse_url,
        immutable=immutable,
    )
    log.info("browse starting url=http://%s:%d/", host, port)
    logging.shutdown()
    os.execve(command[0], command, {**os.environ, TOKEN_ENV: token})


def check_paths(db_path: Path, metadata: Path) -> None:
    """Raise ``StoreError``/``ConfigError`` for a missing database or metadata file."""
    if not db_path.is_file():
        raise StoreError(f"{db_path}: no database here yet; run `tracker poll` first")
    if not metadata.is_file():
        raise ConfigError("Datasette metadata file not found", path=str(metadata))


def load_metadata(path: Path) -> dict[str, Any]:
    from datasette.utils import parse_metadata

    try:
        loaded = parse_metadata(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read Datasette metadata: {error}", path=str(path)) from None
    return dict(loaded)


@dataclass(frozen=True)
class Site:
    """How this Datasette is served: the database's name, whether anyone on it may
    write reviews (loopback only), and its public address (``settings.browse_url``)."""

    name: str
    open_writes: bool = True
    browse_url: str = ""


def metadata_for(metadata: dict[str, Any], site: Site) -> dict[str, Any]:
    """``metadata`` with database ``tracker`` renamed ``site.name`` everywhere it is
    named, the outlet expression in the queries that show it, the story pages of
    ``site.browse_url`` in the Atom query, and tracker's plugin settings (who may
    write, the token from the environment)."""
    name, open_writes = site.name, site.open_writes
    renamed = copy.deepcopy(metadata)
    databases = renamed.get("databases") or {}
    if DATABASE_NAME in databases and name != DATABASE_NAME:
        databases[name] = databases.pop(DATABASE_NAME)
    plugins = renamed.setdefault("plugins", {})
    _rename_db_keys(plugins.get("datasette-dashboards"), name)
    _put_outlet(renamed)
    _put_story_pages(databases.get(name) or {}, story_pages(site.browse_url, name))
    plugins["tracker"] = {
        "writes": "open" if open_writes else "login",
        "token": {"$env": TOKEN_ENV},
    }
    return renamed


def _rename_db_keys(node: Any, name: str) -> None:
    """Every ``db: tracker`` in the dashboards' settings becomes ``db: name``."""
    if isinstance(node, dict):
        if node.get("db") == DATABASE_NAME:
            node["db"] = name
        for value in node.values():
            _rename_db_keys(value, name)
    elif isinstance(node, list):
        for value in node:
            _rename_db_keys(value, name)


def _put_outlet(node: Any) -> None:
    """Every query (a canned query's ``sql``, a chart's ``query``) with the outlet
    placeholder gets ``schema.OUTLET`` in its place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("sql", "query") and isinstance(value, str):
                node[key] = value.replace(OUTLET_PLACEHOLDER, OUTLET)
            else:
                _put_outlet(value)
    elif isinstance(node, list):
        for value in node:
            _put_outlet(value)


def _put_story_pages(database: dict[str, Any], pages: str) -> None:
    for query in (database.get("queries") or {}).values():
        if isinstance(query, dict) and STORY_PAGES_SQL in query.get("sql", ""):
            literal = "'" + pages.replace("'", "''") + "'"
            query["sql"] = query["sql"].replace(STORY_PAGES_SQL, f"SELECT {literal} AS story_pages")


def write_metadata(metadata: dict[str, Any]) -> Path:
    """``metadata`` as a JSON file of its own, for the Datasette about to start."""
    folder = Path(tempfile.mkdtemp(prefix="tracker-browse-"))
    path = folder / "metadata.json"
    path.write_text(json.dumps(metadata), encoding="utf-8")
    return path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_app(
    db_path: Path, metadata: Path, *, open_writes: bool = True, browse_url: str = ""
) -> Datasette:
    """The Datasette that ``serve`` starts, built in this process (for tests)."""
    from datasette.app import Datasette

    register_plugin()
    site = Site(db_path.stem, open_writes, browse_url)
    served = metadata_for(load_metadata(metadata), site)
    return Datasette(
        [str(db_path)],
        metadata=served,
        settings=dict(SETTINGS),
        template_dir=str(TEMPLATES),
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
