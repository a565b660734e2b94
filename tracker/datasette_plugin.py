"""tracker's Datasette plugin: how tracker's columns look when browsed.

Owns the ``render_cell`` hook for tracker's databases:

- ``reasons`` (flags and the views and queries that show them) become a list, one
  reason per line, with the item's matched terms (from ``matches``) in ``<mark>``;
- ``url``, ``link`` and the other URL columns become links only when they are
  http(s) URLs; any other scheme (``javascript:``, ``data:``) stays inert text;
- ``story_id`` links to the ``story`` canned query, when the database has it;
- an item's ``title`` and ``summary`` (the ``items`` table and an item's page) get
  the texts that matched in it in ``<mark>``.

Every value is escaped with markupsafe: no text from a feed is ever rendered as
live HTML. Every other column is left to Datasette, which escapes by default.

It also registers the analyst's desk (``tracker.desk``: the landing page, search,
reviews) as routes, and lets an ``Authorization: Bearer`` header with the configured
token stand for a logged-in analyst.

``browse`` registers this module with Datasette's plugin manager.

Must not: write to the database (the desk writes its reviews through the store), or
read anything but ``matches`` and ``items``.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from datasette import hookimpl
from markupsafe import Markup, escape

from tracker.urls import is_http_url

ITEM_TEXT_COLUMNS = frozenset({"title", "summary"})  # marked on the items pages
URL_COLUMNS = frozenset({"url", "link", "atom_link", "site_url", "previous_url", "redirect_to"})
STORY_QUERY = "story"
REASONS_STYLE = "margin: 0; padding-left: 1.2em; min-width: 14em"
_UNSAFE_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")

MATCHED_TERMS_SQL = """
    SELECT DISTINCT matched_text, term FROM matches
    WHERE {where} AND (:topic IS NULL OR topic = :topic)
"""
MATCHES_COLUMNS = frozenset({"item_id", "topic", "term", "matched_text"})
_ITEM_WHERE = "item_id = :id"
# Datasette's reads go through memory-mapped pages rather than a read() per page: a
# view over thousands of flags touches pages all over a large database.
MMAP_BYTES = 1 << 30
_STORY_WHERE = "item_id IN (SELECT id FROM items WHERE story_id = :id)"
# Databases known to have tracker's matches table. Only a yes is remembered (the schema
# never drops it), so a page of reasons asks once, not twice per row.
_HAS_MATCHES: weakref.WeakSet[Any] = weakref.WeakSet()
_TERMS_READERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


# ---- pure rendering ----------------------------------------------------------------


def is_web_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL, safe to put in an ``href``."""
    return not _UNSAFE_IN_URL.search(value) and is_http_url(value)


def link_html(value: str) -> Markup:
    """An escaped link for a web URL; escaped plain text for anything else."""
    if not is_web_url(value):
        return escape(value)
    return Markup('<a href="{}" rel="nofollow noopener noreferrer">{}</a>').format(value, value)


def reason_lines(reasons: str) -> list[str]:
    """The reasons as lines: one per line of text, or per element of a JSON list."""
    stripped = reasons.strip()
    if stripped.startswith("["):
        try:
            decoded = json.loads(stripped)
        except ValueError:
            decoded = None
        if isinstance(decoded, list):
            return [_reason_text(element) for element in decoded if element]
    return [line.strip() for line in stripped.splitlines() if line.strip()]


def _reason_text(element: object) -> str:
    if isinstance(element, Mapping):
        return ", ".join(f"{key}: {value}" for key, value in element.items())
    return str(element)


def terms_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for the terms, longest first, whole words where a term has word ends."""
    unique = sorted({term for term in terms if term.strip()}, key=lambda t: (-len(t), t))
    if not unique:
        return None
    return re.compile("|".join(_term_regex(term) for term in unique))


def _term_regex(term: str) -> str:
    start = r"(?<!\w)" if re.match(r"\w", term) else ""
    end = r"(?!\w)" if re.search(r"\w$", term) else ""
    return f"{start}{re.escape(term)}{end}"


def highlight(text: str, pattern: re.Pattern[str] | None) -> Markup:
    """``text`` escaped, with each match of ``pattern`` in ``<mark>``."""
    if pattern is None:
        return escape(text)
    # Joined as strings of escaped pieces: Markup.format and Markup.join cost a
    # formatter pass per piece, on every reasons cell of every page.
    pieces: list[str] = []
    position = 0
    for found in pattern.finditer(text):
        pieces.append(escape(text[position : found.start()]))
        pieces.append(f"<mark>{escape(found.group())}</mark>")
        position = found.end()
    pieces.append(escape(text[position:]))
    return Markup("".join(pieces))


def reasons_html(reasons: str, terms: Iterable[str]) -> Markup:
    """The reasons as an escaped list with the matched terms marked."""
    pattern = terms_pattern(terms)
    lines = "".join(f"<li>{reason_line_html(line, pattern)}</li>" for line in reason_lines(reasons))
    return Markup(f'<ul class="tracker-reasons" style="{escape(REASONS_STYLE)}">{lines}</ul>')


def reason_line_html(line: str, pattern: re.Pattern[str] | None) -> Markup:
    """One reason with the matched terms marked after its label only: in
    ``US actors: "US" in title`` the group's name "US actors" is no match."""
    label, colon, rest = line.partition(": ")
    if not colon:
        return highlight(line, pattern)
    return Markup(f"{escape(label)}{colon}{highlight(rest, pattern)}")


# ---- the hook ------------------------------------------------------------------------


@hookimpl  # type: ignore[untyped-decorator]
def register_routes() -> list[tuple[str, Any]]:
    from tracker import desk, desk_development  # they import this module's rendering

    return [*desk.ROUTES, *desk_development.ROUTES]


@hookimpl  # type: ignore[untyped-decorator]
def actor_from_request(datasette: Any, request: Any) -> dict[str, str] | None:
    from tracker import desk

    return desk.actor_from_token(datasette, request)


@hookimpl  # type: ignore[untyped-decorator]
def menu_links(datasette: Any) -> list[dict[str, str]]:
    return [
        {"href": "/", "label": "Analyst's desk"},
        {"href": "/-/desk/search", "label": "Search all items"},
    ]


@hookimpl  # type: ignore[untyped-decorator]
def prepare_connection(conn: Any) -> None:
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


@hookimpl  # type: ignore[untyped-decorator]
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | Awaitable[Markup | None] | None:
    """tracker's columns rendered safely; ``None`` leaves a cell to Datasette."""
    if not isinstance(value, str | int) or value == "":
        return None
    if column in URL_COLUMNS and isinstance(value, str):
        return link_html(value)
    if column == "reasons" and isinstance(value, str):
        return _reasons_cell(datasette, database, row, value)
    if column == "story_id" and isinstance(value, int):
        return _story_link(datasette, database, value)
    if table == "items" and column in ITEM_TEXT_COLUMNS and isinstance(value, str):
        return _item_text_cell(datasette, database, row, value)
    return None


async def _item_text_cell(datasette: Any, database: str, row: Any, text: str) -> Markup:
    """An item's title or summary with the terms that matched in it marked."""
    item_id = _cell(row, "id")
    if not isinstance(item_id, int):
        return escape(text)
    db = datasette.get_database(database)
    if not await _has_matches(db):
        return escape(text)
    params = {"id": item_id, "topic": None}
    sql = MATCHED_TERMS_SQL.format(where=_ITEM_WHERE)
    reader = _terms_reader(db)
    rows = (
        reader.execute(sql, params).fetchall() if reader else (await db.execute(sql, params)).rows
    )
    return highlight(text, terms_pattern(str(pair[0]) for pair in rows))


async def _reasons_cell(datasette: Any, database: str, row: Any, reasons: str) -> Markup:
    terms = await _matched_terms(datasette.get_database(database), row)
    return reasons_html(reasons, terms)


async def _matched_terms(db: Any, row: Any) -> list[str]:
    """The texts and terms that matched for the row's item (or story) and topic."""
    item_id, story_id = _cell(row, "item_id"), _cell(row, "story_id")
    if isinstance(item_id, int):
        where, key = _ITEM_WHERE, item_id
    elif isinstance(story_id, int):
        where, key = _STORY_WHERE, story_id
    else:
        return []
    if not await _has_matches(db):
        return []
    topic = _cell(row, "topic")
    params = {"id": key, "topic": topic if isinstance(topic, str) else None}
    sql = MATCHED_TERMS_SQL.format(where=where)
    reader = _terms_reader(db)
    if reader is None:
        rows = (await db.execute(sql, params)).rows
    else:
        rows = reader.execute(sql, params).fetchall()
    return [str(text) for pair in rows for text in pair if text]


def _terms_reader(db: Any) -> Any:
    """A read-only connection to ``db`` for this (the event loop's) thread, or None.

    A page renders one reasons cell after another, each with an indexed lookup of a
    few microseconds; through Datasette's query threads each also costs a thread hop,
    20-40 ms for a page of 100 flagged rows. Only such lookups run here.
    """
    if db.is_memory:  # a fresh connection would open another, empty database
        return None
    if db not in _TERMS_READERS:
        _TERMS_READERS[db] = db.connect()  # closed with the database
    return _TERMS_READERS[db]


async def _has_matches(db: Any) -> bool:
    """Whether this database has tracker's ``matches`` table (Datasette may serve others)."""
    if db in _HAS_MATCHES:
        return True
    if not await db.table_exists("matches"):
        return False
    found = MATCHES_COLUMNS.issubset(await db.table_columns("matches"))
    if found:
        _HAS_MATCHES.add(db)
    return found


def _story_link(datasette: Any, database: str, story_id: int) -> Markup | None:
    queries = datasette.metadata("queries", database=database) or {}
    if STORY_QUERY not in queries:
        return None
    href = f"{datasette.urls.query(database, STORY_QUERY)}?story_id={story_id}"
    return Markup('<a href="{}">{}</a>').format(href, story_id)


def _cell(row: Any, column: str) -> Any:
    """A row's value by column name, unwrapping Datasette's expanded foreign keys."""
    try:
        value = row[column]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(value, Mapping):
        return value.get("value")
    return value
