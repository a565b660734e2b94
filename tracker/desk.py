"""The analyst's desk: the page ``tracker browse`` opens on, and its writes.

Owns the Datasette routes of the desk (registered by ``datasette_plugin``):

- ``/``: the inbox, flagged developments newest *flagged* first, each with its
  title, its best report linked, the matched terms in ``<mark>`` in title and
  summary, a short reason, its reports, outlets, languages and first reporter, and
  a "new" mark for what came after the analyst's last "seen" (kept in
  ``desk_marks``). Filters: topic, flagged since/until, review status; a search box
  (full-text, within the desk);
- ``/-/desk/development?id=N``: a development's page (``desk_development``): its
  timeline with the stories (copies of one text) inside it, outlets, languages,
  coverage over time, surges and first reporter, with the triage form;
- ``/-/desk/search``: full-text search over every item with FTS5 ``snippet()``
  highlights, newest first, each flagged result naming its development; a query
  FTS5 cannot parse is searched as a phrase;
- ``/-/desk/review`` and ``/-/desk/seen`` (POST): a review of a development, the
  analyst's "seen" mark. Datasette's CSRF protection covers them; beyond loopback
  only a logged-in analyst may write (``/-/desk/login`` takes the configured token).

The desk's unit is a flagged *development* (``flags.development_id``); ``UNIT`` names
the page that shows one and the scope of a review from the desk. An entry costs the
same whatever its development's size: ``DESK_SQL`` reads of each development only
what the entry shows (its counts kept on ``developments``, its newest and best flags
and its first and newest reports from indexes, the labels from the reviews).

Writes go through ``tracker.store.Store`` (a reviews row, a desk mark), on a worker
thread, never by SQL of this module's own. Every text from a feed is escaped.

Must not: write anything but reviews and desk marks, or render unescaped feed text.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from datasette.utils.asgi import Response
from datasette.utils.sqlite import sqlite3
from markupsafe import Markup, escape

from tracker.alerts import DEVELOPMENT_PAGE
from tracker.datasette_plugin import highlight, terms_pattern
from tracker.errors import TrackerError
from tracker.models import REVIEW_LABELS, Review
from tracker.store.schema import OUTLET, outlet_of

PAGE_SIZE = 50
FIRST_SCAN = 500  # newest flags the desk first reads its units from; then 8 times more
SEARCH_LIMIT = 50
STORIES_SHOWN = 6  # stories of a development named on its desk entry
STORIES_SCAN = 200  # first reports of a development its named stories and outlets are from
OUTLETS_SHOWN = 12  # outlets of a development named on its desk entry, then "and N more"
TERMS_REPORTS = 50  # newest reports of a unit whose matched terms are highlighted
QUERY_MAX_CHARS = 1000  # a longer search is cut: FTS5 phrase of 10 KB is no search
LOCAL_ANALYST = "local"
STATUSES = ("inbox", "important", "right", "wrong", "all")
PLUGIN = "tracker"
_SNIPPET_OPEN, _SNIPPET_CLOSE = "\x02", "\x03"


@dataclass(frozen=True)
class DeskUnit:
    """What the desk lists one row for: the page that shows a unit (the unit's id is
    appended) and the scope of a review of a whole unit."""

    page: str
    review_scope: str

    def page_of(self, database: str) -> str:
        return self.page.format(database=database)


UNIT = DeskUnit(page=DEVELOPMENT_PAGE, review_scope="development")

# The latest review of each whole development (for every topic, and for its own),
# reaching the development its item is in now: read once, from the reviews (CROSS JOIN
# keeps SQLite from reading every flag to look their reviews up), never from the
# developments' reports.
DEVELOPMENT_REVIEWS_SQL = """development_reviews AS MATERIALIZED (
  SELECT development_id, topic, label, reviewed_at, id FROM (
    SELECT reviewed.development_id, reviews.topic, reviews.label, reviews.reviewed_at,
      reviews.id, ROW_NUMBER() OVER (PARTITION BY reviewed.development_id, reviews.topic
        ORDER BY reviews.reviewed_at DESC, reviews.id DESC) AS latest
    FROM reviews CROSS JOIN flags AS reviewed ON reviewed.item_id = reviews.item_id
      AND reviews.topic IN ('', reviewed.topic)
    WHERE reviews.scope = 'development' AND reviewed.development_id IS NOT NULL)
  WHERE latest = 1
)"""
# The latest review that reaches a flag: of the item itself, of its whole story, or
# of its whole development.
LABEL_SQL = """(SELECT label FROM (
    SELECT label, reviewed_at, id FROM reviews
    WHERE (reviews.item_id = flags.item_id
        OR (reviews.scope = 'story' AND reviews.story_id = flags.story_id))
      AND reviews.topic IN ('', flags.topic)
    UNION ALL
    SELECT label, reviewed_at, id FROM development_reviews
    WHERE development_reviews.development_id = flags.development_id
      AND development_reviews.topic IN ('', flags.topic))
  ORDER BY reviewed_at DESC, id DESC LIMIT 1)"""

_OF_UNIT = "development_id = {0}.unit_id AND topic = {0}.topic"
# The same, for reading a unit's first reports in publication order from the index in
# that order (another index of the development would sort all its reports first).
_FIRST_OF_UNIT = "development_id = {0}.unit_id AND +topic = {0}.topic"
_BY_PUBLISHED = "flags INDEXED BY flags_development_published"
# A flag of a unit that no review of its item or story reaches: its label is the
# whole development's. Found at the first flag not among the reviewed ones.
_UNREACHED = f"""EXISTS (SELECT 1 FROM flags AS f WHERE f.{_OF_UNIT.format("recent")}
    AND NOT EXISTS (SELECT 1 FROM reviewed WHERE reviewed.item_id = f.item_id
      AND reviewed.topic = f.topic))"""
_LABELS = """(SELECT {0} FROM labelled WHERE labelled.unit_id = recent.unit_id
    AND labelled.topic = recent.topic)"""

# The newest :scan flags that pass the filters (read newest first from an index) name
# the units; a unit with no flag among them was flagged before all of them, so it
# could only come after them: when the units found are fewer than a page, the desk
# scans further (``desk_rows``). Each unit is judged without reading all its reports:
# its newest and best flags come from indexes, and the labels of its flags from the
# reviews (a flag no review of its item or story reaches has the whole development's
# label), so an entry costs the same whatever the development's size.
DESK_SQL = f"""
WITH newest AS MATERIALIZED (
  SELECT item_id, topic, development_id FROM flags
  WHERE (:topic = '' OR flags.topic = :topic)
    AND (:since = '' OR flags.flagged_at >= :since)
    AND (:until = '' OR flags.flagged_at < :until)
    AND (:q = '' OR flags.item_id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH :q))
  ORDER BY flags.flagged_at DESC, flags.item_id DESC LIMIT :scan
),
recent AS MATERIALIZED (
  SELECT DISTINCT development_id AS unit_id, topic FROM newest
  WHERE development_id IS NOT NULL
),
-- the flags of the listed units that a review of their item or story reaches
reviewed AS MATERIALIZED (
  SELECT flags.item_id, flags.topic, flags.development_id, items.story_id
  FROM reviews CROSS JOIN flags ON flags.item_id = reviews.item_id
    AND reviews.topic IN ('', flags.topic)
  CROSS JOIN items ON items.id = flags.item_id
  WHERE (flags.development_id, flags.topic) IN (SELECT unit_id, topic FROM recent)
  UNION
  SELECT flags.item_id, flags.topic, flags.development_id, items.story_id
  FROM reviews CROSS JOIN items ON items.story_id = reviews.story_id
  CROSS JOIN flags ON flags.item_id = items.id AND reviews.topic IN ('', flags.topic)
  WHERE reviews.scope = 'story'
    AND (flags.development_id, flags.topic) IN (SELECT unit_id, topic FROM recent)
),
{DEVELOPMENT_REVIEWS_SQL},
labelled AS MATERIALIZED (
  SELECT flags.development_id AS unit_id, flags.topic, {LABEL_SQL} AS label
  FROM reviewed AS flags
),
judged AS MATERIALIZED (
  SELECT recent.unit_id, recent.topic,
    (SELECT item_id FROM flags WHERE {_OF_UNIT.format("recent")}
      ORDER BY score DESC LIMIT 1) AS item_id,
    (SELECT flagged_at FROM flags WHERE {_OF_UNIT.format("recent")}
      ORDER BY flagged_at DESC LIMIT 1) AS flagged_at,
    (SELECT label FROM development_reviews WHERE development_id = recent.unit_id
      AND topic IN ('', recent.topic) ORDER BY reviewed_at DESC, id DESC LIMIT 1) AS whole,
    {_UNREACHED} AS unreached,
    {_LABELS.format("SUM(COALESCE(label, '') != 'wrong')")} AS open_reviewed,
    {_LABELS.format("MAX(label = 'important')")} AS important_reviewed,
    {_LABELS.format("MAX(label = 'right')")} AS right_reviewed
  FROM recent
),
units AS (
  SELECT unit_id, topic, item_id, flagged_at,
    COALESCE(open_reviewed, 0) + (unreached AND COALESCE(whole, '') != 'wrong') AS open_flags,
    COALESCE(important_reviewed, 0) OR (unreached AND whole = 'important') AS important,
    COALESCE(right_reviewed, 0) OR (unreached AND whole = 'right') AS right_flags
  FROM judged
),
page AS MATERIALIZED (
  SELECT * FROM units
  WHERE CASE :status
    WHEN 'inbox' THEN open_flags > 0
    WHEN 'wrong' THEN open_flags = 0
    WHEN 'important' THEN important AND open_flags > 0
    WHEN 'right' THEN right_flags AND open_flags > 0
    ELSE 1 END
  ORDER BY flagged_at DESC, unit_id DESC
  LIMIT :limit
)
SELECT page.*, best.score, best.reasons, items.title, items.url, items.link,
  items.summary, items.published,
  -- the first outlets to carry it, named as configured now, among its first reports
  (SELECT json_group_array(outlet) FROM (
    SELECT {outlet_of("items")} AS outlet, MIN(first.published) AS at FROM (
      SELECT item_id, published FROM {_BY_PUBLISHED} WHERE {_FIRST_OF_UNIT.format("page")}
      ORDER BY published LIMIT {STORIES_SCAN}) AS first
    JOIN items ON items.id = first.item_id
    JOIN item_feeds ON item_feeds.item_id = items.id
    JOIN feeds ON feeds.id = item_feeds.feed_id
    GROUP BY outlet ORDER BY at, outlet LIMIT {OUTLETS_SHOWN})) AS outlets,
  unit.outlet_count, unit.languages,
  (SELECT json_group_array(item_id) FROM (SELECT item_id FROM flags
    WHERE {_OF_UNIT.format("page")} ORDER BY flagged_at DESC LIMIT {TERMS_REPORTS}))
    AS report_ids,
  -- each story (copies of one text) by its first report's title, oldest first, among
  -- the development's first reports
  (SELECT json_group_array(title) FROM (
    SELECT title, MIN(published) FROM (
      SELECT COALESCE(NULLIF(items.title, ''), '(untitled)') AS title, flags.published,
        COALESCE(items.story_id, items.id) AS story
      FROM {_BY_PUBLISHED} JOIN items ON items.id = flags.item_id
      WHERE flags.{_FIRST_OF_UNIT.format("page")}
      ORDER BY flags.published LIMIT {STORIES_SCAN})
    GROUP BY story ORDER BY MIN(published) LIMIT {STORIES_SHOWN + 1})) AS stories,
  (SELECT COUNT(*) FROM newest) AS flags_scanned,
  unit.title AS unit_title, unit.first_outlet AS first_reporter, unit.reports AS reports
FROM page JOIN flags AS best ON best.item_id = page.item_id AND best.topic = page.topic
JOIN items ON items.id = page.item_id
LEFT JOIN developments AS unit ON unit.id = page.unit_id
ORDER BY page.flagged_at DESC, page.unit_id DESC
"""

TERMS_SQL = "SELECT DISTINCT item_id, matched_text FROM matches WHERE item_id IN ({}) AND topic = ?"

SEARCH_SQL = f"""
SELECT items.id, items.title, items.url, items.link, items.published,
  {OUTLET} AS feed,
  snippet(items_fts, -1, '{_SNIPPET_OPEN}', '{_SNIPPET_CLOSE}', '…', 24) AS snippet,
  highlight(items_fts, 0, '{_SNIPPET_OPEN}', '{_SNIPPET_CLOSE}') AS marked_title,
  unit.id AS development_id, unit.title AS development_title
FROM items_fts
JOIN items ON items.id = items_fts.rowid
LEFT JOIN feeds ON feeds.id = items.feed_id
LEFT JOIN developments AS unit ON unit.id = (SELECT development_id FROM flags
  WHERE flags.item_id = items.id AND development_id IS NOT NULL LIMIT 1)
WHERE items_fts MATCH :q
ORDER BY items_fts.rowid DESC
LIMIT {SEARCH_LIMIT}
"""


# ---- pure decisions ----------------------------------------------------------------


@dataclass(frozen=True)
class DeskFilters:
    """What the analyst asked the desk for (every field optional: empty is "any")."""

    topic: str = ""
    since: str = ""
    until: str = ""
    q: str = ""
    status: str = "inbox"

    def params(self, fts_query: str) -> dict[str, object]:
        return {
            "topic": self.topic,
            "since": self.since,
            "until": self.until,
            "q": fts_query,
            "status": self.status,
            "limit": PAGE_SIZE,
        }

    def query_string(self, **changes: str) -> str:
        values = {**self.__dict__, **changes}
        kept = {key: value for key, value in values.items() if value}
        return urlencode(kept)


def desk_filters(args: Mapping[str, str]) -> DeskFilters:
    """The filters from a request's query string; an unknown status is the inbox."""
    status = args.get("status", "inbox")
    return DeskFilters(
        topic=args.get("topic", "").strip(),
        since=args.get("since", "").strip(),
        until=args.get("until", "").strip(),
        q=args.get("q", "").strip()[:QUERY_MAX_CHARS],
        status=status if status in STATUSES else "inbox",
    )


def wider_scan(found: int, flags_scanned: int | None, scan: int) -> int | None:
    """How many flags to scan next when ``scan`` flags gave ``found`` units of a page
    (``flags_scanned``: how many there were, None when no unit came back); None: the
    page is full or every flag that passes the filters was read."""
    if found >= PAGE_SIZE or (flags_scanned is not None and flags_scanned < scan):
        return None
    return scan * 8


def phrase_query(text: str) -> str:
    """``text`` as one FTS5 phrase: what a query FTS5 cannot parse is searched as."""
    return '"' + text.replace('"', '""') + '"'


def short_reason(reasons: str) -> str:
    """The first line of a flag's reasons, without its "flagged:" lead."""
    first = next((line.strip() for line in reasons.splitlines() if line.strip()), "")
    return re.sub(r"^flagged:\s*", "", first)


def snippet_html(snippet: str) -> Markup:
    """An FTS5 snippet, escaped, with its marked terms in ``<mark>``."""
    escaped = str(escape(snippet))
    return Markup(escaped.replace(_SNIPPET_OPEN, "<mark>").replace(_SNIPPET_CLOSE, "</mark>"))


def is_new(flagged_at: str, seen_through: str | None) -> bool:
    return seen_through is None or flagged_at > seen_through


def safe_back(path: str) -> str:
    """Where to go after a write: a path of this site only, never another host."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def form_is_genuine(form: Mapping[str, str], cookies: Mapping[str, str], bearer: bool) -> bool:
    """A desk form carries the CSRF token of its cookie. Datasette's CSRF check lets a
    POST without cookies through (a cross-site form sends none), so the desk checks too;
    an API client with a bearer token has no ambient credentials to abuse."""
    if bearer:
        return True
    token, cookie = form.get("csrftoken", ""), cookies.get("ds_csrftoken", "")
    return bool(cookie) and hmac.compare_digest(token.encode(), cookie.encode())


def token_matches(given: str, configured: str) -> bool:
    return bool(configured) and hmac.compare_digest(given.encode(), configured.encode())


def desk_row(row: Mapping[str, Any], terms: Iterable[str], seen: str | None) -> dict[str, Any]:
    """One desk entry as the template shows it, every feed text escaped."""
    pattern = terms_pattern(terms)
    url = row["url"] or row["link"] or ""
    headline = row["unit_title"] or row["title"] or url
    return {
        "unit_id": row["unit_id"],
        "item_id": row["item_id"],
        "topic": row["topic"],
        "title": highlight(headline, pattern),
        "reports": row["reports"] or 0,
        "stories": [
            highlight(title, pattern)
            for title in json.loads(row["stories"] or "[]")[:STORIES_SHOWN]
            if title != headline
        ],
        "first_reporter": row["first_reporter"] or "",
        "summary": highlight(row["summary"] or "", pattern),
        "url": url if url.startswith(("http://", "https://")) else "",
        "reason": short_reason(row["reasons"]),
        "outlets": outlets_line(json.loads(row["outlets"] or "[]"), row["outlet_count"] or 0),
        "languages": ",".join(json.loads(row["languages"] or "[]")),
        "flagged_at": row["flagged_at"],
        "published": row["published"],
        "new": is_new(row["flagged_at"], seen),
        "label": _unit_label(row),
    }


def outlets_line(outlets: list[str], outlet_count: int) -> str:
    """The outlets a desk entry names: the first ``OUTLETS_SHOWN`` to carry the
    development, then how many more."""
    shown = ", ".join(outlets[:OUTLETS_SHOWN])
    more = outlet_count - min(len(outlets), OUTLETS_SHOWN)
    return f"{shown} and {more} more" if more > 0 else shown


def _unit_label(row: Mapping[str, Any]) -> str:
    if not row["open_flags"]:
        return "wrong"
    if row["important"]:
        return "important"
    return "right" if row["right_flags"] else ""


# ---- the routes --------------------------------------------------------------------


def tracker_database(datasette: Any) -> Any:
    """The database tracker serves: the first file Datasette serves, whatever its name."""
    for name, db in datasette.databases.items():
        if not name.startswith("_") and db.path:
            return db
    raise TrackerError("no tracker database is served")


def plugin_setting(datasette: Any, key: str) -> Any:
    return (datasette.plugin_config(PLUGIN) or {}).get(key)


def may_write(datasette: Any, request: Any) -> bool:
    """Anyone on a loopback-only desk; beyond loopback, a logged-in analyst only."""
    return plugin_setting(datasette, "writes") != "login" or request.actor is not None


def analyst(request: Any) -> str:
    actor = request.actor
    return str(actor.get("id")) if isinstance(actor, dict) and actor.get("id") else LOCAL_ANALYST


async def fts_rows(db: Any, sql: str, params: dict[str, object], q_key: str = "q") -> Any:
    """Run ``sql``; when FTS5 cannot parse the query, run it again as a phrase."""
    try:
        return await db.execute(sql, params)
    except sqlite3.OperationalError:
        # FTS5 says "syntax error", "unterminated string", "unknown special query"...;
        # a phrase of the same text always parses.
        if not params.get(q_key):
            raise
        return await db.execute(sql, {**params, q_key: phrase_query(str(params[q_key]))})


async def desk_page(datasette: Any, request: Any) -> Response:
    db = tracker_database(datasette)
    filters = desk_filters(request.args)
    seen = await _seen_through(db, analyst(request))
    rows = await desk_rows(db, filters)
    terms = await _terms_by_unit(db, rows)
    entries = [desk_row(row, terms.get((row["unit_id"], row["topic"]), ()), seen) for row in rows]
    topics = await db.execute("SELECT DISTINCT topic FROM flags ORDER BY topic")
    context = {
        "entries": entries,
        "filters": filters,
        "topics": [row[0] for row in topics.rows],
        "statuses": STATUSES,
        "labels": REVIEW_LABELS,
        "database": db.name,
        "unit_page": UNIT.page_of(db.name),
        "review_scope": UNIT.review_scope,
        "may_write": may_write(datasette, request),
        "seen_through": seen,
        "newest": max((row["flagged_at"] for row in rows), default=""),
        "new_count": sum(entry["new"] for entry in entries),
        "back": request.full_path,
    }
    html = await datasette.render_template("desk.html", context, request=request)
    return Response.html(html)


async def desk_rows(db: Any, filters: DeskFilters) -> list[Any]:
    """The desk's rows, reading wider windows of the newest flags until a page is full."""
    params = filters.params(filters.q)
    flags = int((await db.execute("SELECT COUNT(*) FROM flags")).rows[0][0])
    scan = FIRST_SCAN
    while True:
        rows = list((await fts_rows(db, DESK_SQL, {**params, "scan": scan})).rows)
        wider = wider_scan(len(rows), rows[0]["flags_scanned"] if rows else None, scan)
        if wider is None or scan >= flags:
            return rows
        scan = wider


async def _seen_through(db: Any, who: str) -> str | None:
    rows = (await db.execute("SELECT seen_through FROM desk_marks WHERE analyst = ?", [who])).rows
    return str(rows[0][0]) if rows else None


async def _terms_by_unit(db: Any, rows: list[Any]) -> dict[tuple[int, str], list[str]]:
    """The texts that matched in any report of each row's unit, for its topic."""
    terms: dict[tuple[int, str], list[str]] = {}
    for row in rows:
        ids = json.loads(row["report_ids"] or "[]")
        sql = TERMS_SQL.format(", ".join("?" * len(ids)))
        found = (await db.execute(sql, [*ids, row["topic"]])).rows if ids else []
        terms[(row["unit_id"], row["topic"])] = list(dict.fromkeys(f[1] for f in found))
    return terms


async def search_page(datasette: Any, request: Any) -> Response:
    db = tracker_database(datasette)
    q = request.args.get("q", "").strip()[:QUERY_MAX_CHARS]
    results: list[dict[str, Any]] = []
    if q:
        rows = (await fts_rows(db, SEARCH_SQL, {"q": q})).rows
        results = [_search_result(row) for row in rows]
    context = {
        "q": q,
        "results": results,
        "database": db.name,
        "limit": SEARCH_LIMIT,
        "unit_page": UNIT.page_of(db.name),
    }
    html = await datasette.render_template("desk_search.html", context, request=request)
    return Response.html(html)


def _search_result(row: Mapping[str, Any]) -> dict[str, Any]:
    url = row["url"] or row["link"] or ""
    return {
        "id": row["id"],
        "title": snippet_html(row["marked_title"] or url),
        "snippet": snippet_html(row["snippet"] or ""),
        "url": url if url.startswith(("http://", "https://")) else "",
        "feed": row["feed"] or "",
        "published": row["published"],
        "development_id": row["development_id"],
        "development": row["development_title"] or "",
    }


async def writable_form(datasette: Any, request: Any) -> dict[str, str] | Response:
    """The posted form, or the response refusing it (not a POST, no CSRF token, or
    beyond loopback without a logged-in analyst)."""
    if request.method != "POST":
        return Response.text("POST a form here", status=405)
    if not may_write(datasette, request):
        return Response.text("log in to write (/-/desk/login)", status=403)
    form: dict[str, str] = dict(await request.post_vars())
    bearer = request.headers.get("authorization", "").startswith("Bearer ")
    if not form_is_genuine(form, request.cookies, bearer and request.actor is not None):
        return Response.text("form refused: no CSRF token", status=403)
    return form


async def review_post(datasette: Any, request: Any) -> Response:
    """Store a review from the desk's form, then go back to the desk."""
    form = await writable_form(datasette, request)
    if isinstance(form, Response):
        return form
    try:
        review = Review(
            item_id=int(form.get("item_id", "")),
            label=form.get("label", ""),
            scope=form.get("scope", "story"),
            topic=form.get("topic", ""),
            note=form.get("note", "").strip(),
            reviewer=analyst(request),
            source="desk",
        )
        await _in_store(datasette, lambda store: store.add_review(review, _now()))
    except (ValueError, TrackerError) as error:
        return Response.text(f"review refused: {error}", status=400)
    return Response.redirect(safe_back(form.get("back", "/")))


async def seen_post(datasette: Any, request: Any) -> Response:
    """Remember what the analyst has seen: flags up to ``through`` are no longer new."""
    form = await writable_form(datasette, request)
    if isinstance(form, Response):
        return form
    through = form.get("through", "") or _now().isoformat(timespec="seconds")
    who = analyst(request)
    await _in_store(datasette, lambda store: store.mark_seen(who, through))
    return Response.redirect(safe_back(form.get("back", "/")))


async def login_page(datasette: Any, request: Any) -> Response:
    """A form for the configured token; a right one logs the analyst in (signed cookie)."""
    message = ""
    if request.method == "POST":
        form = await request.post_vars()
        configured = str(plugin_setting(datasette, "token") or "")
        if token_matches(form.get("token", ""), configured):
            response = Response.redirect("/")
            actor = {"id": form.get("analyst", "").strip() or "analyst"}
            response.set_cookie("ds_actor", datasette.sign({"a": actor}, "actor"))
            return response
        message = "That token is not the configured one." if configured else "No token set."
    context = {"message": message}
    return Response.html(await datasette.render_template("desk_login.html", context, request))


def actor_from_token(datasette: Any, request: Any) -> dict[str, str] | None:
    """``Authorization: Bearer TOKEN`` with the configured token is an analyst."""
    header = request.headers.get("authorization", "")
    configured = str(plugin_setting(datasette, "token") or "")
    if header.startswith("Bearer ") and token_matches(header[7:].strip(), configured):
        return {"id": "token"}
    return None


async def _in_store(datasette: Any, write: Any) -> Any:
    from tracker.store import Store

    path = Path(tracker_database(datasette).path)

    def run() -> Any:
        with Store(path) as store:
            return write(store)

    return await asyncio.get_running_loop().run_in_executor(None, run)


def _now() -> datetime:
    return datetime.now(UTC)


ROUTES = (
    (r"^/$", desk_page),
    (r"^/-/desk/search$", search_page),
    (r"^/-/desk/review$", review_post),
    (r"^/-/desk/seen$", seen_post),
    (r"^/-/desk/login$", login_page),
)
