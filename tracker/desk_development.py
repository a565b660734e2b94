"""The desk's development page: ``/-/desk/development?id=N``.

Owns what the page shows of one development: its title, topic, first and last
report, first reporter, outlets and languages (languages by name), its coverage
over time (the ``development_coverage`` view: the outlets and languages it first
reached each day), its surges, and its timeline, ``TIMELINE_PAGE`` reports a page
(``&page=N``: a development of thousands of reports costs one page), where the copies
of one text (a story) are shown together under the story's first report; and the
triage form that reviews the whole development.

It reads through ``tracker.store.Store`` (opened read-only, on a worker thread), the
same reads as ``tracker development ID``. Every text from a feed is escaped by the
template.

Must not: write anything (triage posts to the desk's ``/-/desk/review``), or run SQL
of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Response

from tracker.desk import UNIT, analyst, may_write, tracker_database
from tracker.models import REVIEW_LABELS
from tracker.surges import language_name
from tracker.urls import is_http_url

TIMELINE_PAGE = 100  # reports of a development's timeline on one page


def story_groups(timeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The timeline's reports grouped by story, in the order each story first came:
    the story's first report, then its copies (the same text in other outlets)."""
    stories: dict[int, dict[str, Any]] = {}
    for report in timeline:
        entry = _report(report)
        story = stories.get(report["story_id"])
        if story is None:
            stories[report["story_id"]] = entry | {"copies": []}
        else:
            story["copies"].append(entry)
    return list(stories.values())


def _report(report: Mapping[str, Any]) -> dict[str, Any]:
    url = report["url"] or ""
    return {
        "item_id": report["item_id"],
        "published": str(report["published"] or "")[:16].replace("T", " "),
        "role": report["role"] or "",
        "language": language_name(report["language"] or "") or "?",
        "outlet": report["outlet"] or "",
        "title": report["title"] or "(untitled)",
        "url": url if is_http_url(url) else "",
    }


def page_context(found: Mapping[str, Any]) -> dict[str, Any]:
    """What the template shows of a development as ``Store.development`` reads it, with
    its ``coverage`` and ``surges``."""
    timeline = found["timeline"]
    return {
        "development": found,
        "languages": [language_name(code) for code in found["languages"]],
        "stories": story_groups(timeline),
        "coverage": found["coverage"],
        "surges": found["surges"],
        "first_item_id": timeline[0]["item_id"] if timeline else None,
        "pages": found.get("pages") or timeline_pages(len(timeline), 1),
        "labels": REVIEW_LABELS,
        "review_scope": UNIT.review_scope,
    }


def timeline_pages(reports: int, page: int) -> dict[str, Any]:
    """Where the shown page of a timeline of ``reports`` reports is: its number (within
    the pages there are), the reports it shows (first and last, from 1) and the pages
    before and after it (None: there is none)."""
    last = max(1, -(-reports // TIMELINE_PAGE))
    page = min(max(page, 1), last)
    first = (page - 1) * TIMELINE_PAGE
    return {
        "page": page,
        "last": last,
        "first_report": first + 1,
        "last_report": min(first + TIMELINE_PAGE, reports),
        "previous": page - 1 if page > 1 else None,
        "next": page + 1 if page < last else None,
    }


def requested_page(args: Mapping[str, str]) -> int:
    """The timeline page a request asks for (``page``, from 1); 1 when it names none."""
    try:
        return int(args.get("page", "1"))
    except ValueError:
        return 1


def _read(path: Path, development_id: int, page: int) -> dict[str, Any] | None:
    from tracker.store import Store

    with Store(path, read_only=True) as store:
        head = store.development(development_id, limit=0)
        if head is None:
            return None
        pages = timeline_pages(int(head["reports"]), page)
        offset = (pages["page"] - 1) * TIMELINE_PAGE
        found = store.development(development_id, limit=TIMELINE_PAGE, offset=offset)
        if found is None:
            return None
        coverage = store.development_coverage(development_id)
        surges = store.development_surges(development_id)
        return found | {"coverage": coverage, "surges": surges, "pages": pages}


async def development_page(datasette: Any, request: Any) -> Response:
    db = tracker_database(datasette)
    try:
        development_id = int(request.args.get("id", ""))
    except ValueError:
        return Response.text("give a development's id: /-/desk/development?id=12", status=400)
    loop = asyncio.get_running_loop()
    page = requested_page(request.args)
    found = await loop.run_in_executor(None, _read, Path(db.path), development_id, page)
    if found is None:
        return Response.text(f"no development {development_id}", status=404)
    context = page_context(found) | {
        "database": db.name,
        "may_write": may_write(datasette, request),
        "analyst": analyst(request),
        "back": request.full_path,
    }
    html = await datasette.render_template("desk_development.html", context, request=request)
    return Response.html(html)


ROUTES = ((r"^/-/desk/development$", development_page),)
