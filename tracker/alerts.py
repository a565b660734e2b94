"""What an alert says: new flags turned into plain-text and JSON messages.

Owns the ``Alert`` record (one per topic and development — or story, for a flag
not placed in a development —, however many outlets carried it; or one per surge,
a development spreading to new outlets or a new language), its renderings
for e-mail, chat and webhooks, digests of several alerts, and
the decision of when a digest sink is due. Everything here is a pure function of
its inputs, stdlib only.

Titles, links and outlet names come from feeds and are untrusted: text loses its
control and bidirectional-override characters, links that are not http(s) (such
as ``javascript:``) are dropped, and nothing is ever rendered as HTML.

Must not: send anything, read the clock, or touch the database or the network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tracker.urls import is_http_url

if TYPE_CHECKING:
    from tracker.models import AlertKey, NewFlag
    from tracker.surges import SurgeAlertRow

# Tunables for rendering and digests.
TITLE_MAX = 300  # characters of a title kept in a subject or a body
SUMMARY_MAX = 1000  # characters of a summary kept in an alert
SUBJECT_PREFIX = "[tracker]"
DIGEST_SHOWN = 50  # alerts written out in full in one digest; the rest by title only
DIGEST_PENDING_MAX = 500  # alerts a digest sink holds in memory; the oldest go first
# The desk's page of one development under browse_url (the development's id appended).
DEVELOPMENT_PAGE = "/-/desk/development?id="

# C0 and C1 controls, DEL, and the marks that reorder text (they can disguise a link)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Alert:
    """One flagged story for one topic, cleaned and ready to render."""

    topic: str
    story_id: int
    title: str
    url: str | None  # http(s) only
    feed: str  # the outlet of the best-scoring copy
    score: float
    reasons: str  # one reason per line
    outlets: tuple[str, ...]  # every outlet that carried the story, first seen first
    summary: str = ""  # the best-scoring copy's summary, plain text
    published: str = ""  # when the story's first copy was published (ISO-8601 UTC)
    # with browse_url set: the desk's page of its development, else its story's page
    page_url: str | None = None
    development_id: int | None = None  # the development it opens (None: a story's alert)
    update: bool = False  # an update of a development already alerted (sinks opt in)
    surge_id: int | None = None  # the development spread (sinks opt in): why in ``surge``
    surge: str = ""

    @property
    def key(self) -> AlertKey:
        """What makes two alerts the same alert: one development (or its update, or one
        of its surges), or one story."""
        if self.surge_id is not None:
            return (self.topic, "surge", self.surge_id)
        if self.development_id is not None:
            return (self.topic, "update" if self.update else "development", self.development_id)
        return (self.topic, "story", self.story_id)


@dataclass(frozen=True)
class DigestState:
    """A digest sink's memory: when it last sent, and what waits for the next digest."""

    last_sent: datetime | None = None
    pending: tuple[Alert, ...] = ()


# ---- building alerts -------------------------------------------------------------------


def alerts_from_flags(
    flags: Sequence[NewFlag], pages: str = "", *, update: bool = False
) -> list[Alert]:
    """One alert per topic and development (a story, for a flag not in one yet), in
    first-seen order; backlog flags are dropped. ``update``: the flags are updates of
    developments already alerted. With ``pages`` (``story_pages``), each alert links to
    its development's page on the desk, or its story's page in Datasette."""
    groups: dict[AlertKey, list[NewFlag]] = {}
    for flag in flags:
        if not flag.backlog:
            groups.setdefault(flag.alert_key, []).append(flag)
    alerts = [replace(_alert_from_copies(copies), update=update) for copies in groups.values()]
    if not pages:
        return alerts
    return [replace(a, page_url=safe_link(_page_of(pages, a))) for a in alerts]


def alerts_from_surges(surges: Sequence[SurgeAlertRow], pages: str = "") -> list[Alert]:
    """One alert per surge, linking to its development's page with ``pages``."""
    alerts = [
        Alert(
            topic=surge.topic,
            story_id=surge.story_id,
            title=clean_line(surge.title, TITLE_MAX) or "(untitled)",
            url=safe_link(surge.url),
            feed=clean_line(surge.outlets[0]) if surge.outlets else "",
            score=0.0,
            reasons=clean_text(surge.reason),
            outlets=_unique(clean_line(outlet) for outlet in surge.outlets),
            summary=clean_line(surge.summary, SUMMARY_MAX),
            published=surge.published,
            development_id=surge.development_id,
            surge_id=surge.id,
            surge=clean_line(surge.reason, TITLE_MAX),
        )
        for surge in surges
    ]
    return [replace(a, page_url=safe_link(_page_of(pages, a))) if pages else a for a in alerts]


def _page_of(pages: str, alert: Alert) -> str:
    if alert.development_id is not None:
        site = pages.rsplit("/", 2)[0]  # ``story_pages``: {browse_url}/{database}/story
        return f"{site}{DEVELOPMENT_PAGE}{alert.development_id}"
    return f"{pages}?story_id={alert.story_id}"


def story_pages(browse_url: str, database: str) -> str:
    """Where Datasette shows one story (the ``story`` query) under ``browse_url``."""
    if not browse_url:
        return ""
    return f"{browse_url.rstrip('/')}/{quote(database)}/story"


def _alert_from_copies(copies: Sequence[NewFlag]) -> Alert:
    best = max(copies, key=lambda flag: _finite(flag.score))  # first of equals wins
    links = [safe_link(flag.url) for flag in (best, *copies)]
    return Alert(
        topic=best.topic,  # ours, not the feed's: kept as is to match the flags
        story_id=best.story_id,
        title=clean_line(best.title, TITLE_MAX) or "(untitled)",
        url=next((link for link in links if link), None),
        feed=clean_line(best.feed),
        score=_finite(best.score),
        reasons=clean_text(best.reasons),
        outlets=_unique(clean_line(flag.feed) for flag in copies),
        summary=clean_line(best.summary, SUMMARY_MAX),
        published=min((flag.published for flag in copies if flag.published), default=""),
        development_id=best.development_id,
    )


def merge_alerts(older: Sequence[Alert], newer: Sequence[Alert]) -> tuple[Alert, ...]:
    """``older`` then ``newer``, one alert per key: a repeat adds its outlets to the first."""
    merged: dict[AlertKey, Alert] = {}
    for alert in (*older, *newer):
        seen = merged.get(alert.key)
        merged[alert.key] = alert if seen is None else _combine(seen, alert)
    return tuple(merged.values())


def _combine(first: Alert, second: Alert) -> Alert:
    best = second if second.score > first.score else first
    return replace(best, outlets=_unique((*first.outlets, *second.outlets)))


def for_topics(alerts: Sequence[Alert], topics: Sequence[str]) -> list[Alert]:
    """The alerts a sink with this ``topics`` filter wants (empty filter: all)."""
    return [alert for alert in alerts if not topics or alert.topic in topics]


# ---- untrusted text --------------------------------------------------------------------


def clean_line(text: str | None, limit: int | None = None) -> str:
    """``text`` on one line: no control characters, runs of whitespace as one space."""
    line = _SPACES.sub(" ", _strip_controls(text or "")).strip()
    if limit is not None and len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def clean_text(text: str | None) -> str:
    """Multi-line ``text`` without control characters or blank lines."""
    lines = (clean_line(line) for line in (text or "").splitlines())
    return "\n".join(line for line in lines if line)


def safe_link(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) link without spaces or control characters."""
    if url is None:
        return None
    link = url.strip()
    if not is_http_url(link) or _CONTROLS.search(link) or _SPACES.search(link):
        return None
    return link


def _strip_controls(text: str) -> str:
    return _CONTROLS.sub(lambda match: " " if match.group().isspace() else "", text)


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in names if name))


def _finite(score: float) -> float:
    return float(score) if math.isfinite(score) else 0.0


# ---- rendering -------------------------------------------------------------------------


def render_text(alert: Alert) -> tuple[str, str]:
    """The subject and plain-text body of one alert."""
    kind = "update: " if alert.update else "spreads: " if alert.surge else ""
    subject = clean_line(f"{SUBJECT_PREFIX} {alert.topic}: {kind}{alert.title}")
    return subject, _text_block(alert)


def _text_block(alert: Alert) -> str:
    outlets = ", ".join(alert.outlets) or alert.feed or "(unknown)"
    label = "Outlets" if len(alert.outlets) > 1 else "Outlet"
    lines = [
        f"Update: {alert.title}" if alert.update else alert.title,
        *([f"Spreads: {alert.surge}"] if alert.surge else []),
        alert.url or "(no link)",
        "",
        f"Topic: {alert.topic}",
        f"{label}: {outlets}",
        f"Score: {alert.score:.2f}",
    ]
    if alert.published:
        lines.append(f"Published: {alert.published}")
    if alert.page_url:
        lines.append(f"Every copy: {alert.page_url}")
    if alert.summary:
        lines += ["", alert.summary]
    reasons = alert.reasons.splitlines()
    if reasons:
        lines += ["", "Why:", *(f"- {reason}" for reason in reasons)]
    return "\n".join(lines)


def render_json(alert: Alert) -> dict[str, Any]:
    """The webhook payload of one alert."""
    return {
        "topic": alert.topic,
        "story_id": alert.story_id,
        "development_id": alert.development_id,
        "update": alert.update,
        "surge": {"id": alert.surge_id, "why": alert.surge} if alert.surge_id else None,
        "title": alert.title,
        "url": alert.url,
        "feed": alert.feed,
        "outlets": list(alert.outlets),
        "score": alert.score,
        "reasons": alert.reasons.splitlines(),
        "summary": alert.summary,
        "published": alert.published or None,
        "page_url": alert.page_url,
    }


def render_digest(alerts: Sequence[Alert]) -> tuple[str, str]:
    """The subject and plain-text body of one message covering several alerts."""
    topics = ", ".join(_unique(alert.topic for alert in alerts))
    noun = "follow-up" if len(alerts) == 1 else "follow-ups"
    subject = clean_line(f"{SUBJECT_PREFIX} {len(alerts)} new {noun}: {topics}", TITLE_MAX)
    blocks = [f"{n}. {_text_block(a)}" for n, a in enumerate(alerts[:DIGEST_SHOWN], 1)]
    rest = alerts[DIGEST_SHOWN:]
    if rest:
        titles = "\n".join(f"- {alert.topic}: {alert.title}" for alert in rest)
        blocks.append(f"And {len(rest)} more:\n{titles}")
    return subject, "\n\n---\n\n".join(blocks)


def render_digest_json(alerts: Sequence[Alert]) -> dict[str, Any]:
    """The webhook payload of a digest: a subject and every alert's own payload."""
    subject, _ = render_digest(alerts)
    return {"digest": True, "title": subject, "alerts": [render_json(a) for a in alerts]}


# ---- digests ---------------------------------------------------------------------------


def digest_due(last_sent: datetime | None, period: float, now: datetime) -> bool:
    """True when a digest sent at ``last_sent`` (None: never) is ``period`` seconds old."""
    return last_sent is None or now - last_sent >= timedelta(seconds=period)


def queue_for_digest(
    state: DigestState, alerts: Sequence[Alert]
) -> tuple[DigestState, tuple[Alert, ...]]:
    """``state`` with ``alerts`` waiting too, and the oldest alerts dropped to make room
    (a sink that stays down must not hold more than ``DIGEST_PENDING_MAX``)."""
    pending = merge_alerts(state.pending, alerts)
    cut = max(0, len(pending) - DIGEST_PENDING_MAX)
    return replace(state, pending=pending[cut:]), pending[:cut]


def digest_to_send(state: DigestState, period: float, now: datetime) -> tuple[Alert, ...]:
    """The alerts to send as one digest now, or nothing when none wait or it is not due."""
    return state.pending if state.pending and digest_due(state.last_sent, period, now) else ()


def digest_sent(state: DigestState, sent: Sequence[Alert], now: datetime) -> DigestState:
    """``state`` after ``sent`` went out at ``now``."""
    keys = {alert.key for alert in sent}
    pending = tuple(alert for alert in state.pending if alert.key not in keys)
    return DigestState(last_sent=now, pending=pending)
