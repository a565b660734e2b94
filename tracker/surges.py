"""Surges: when a development spreads, the pure decision to alert on it.

Owns what counts as a development's spread and the words of its alert. A development
*surges* when ``surge_outlets`` outlets it had not reached carry it within
``surge_window`` ("spread to 3 new outlets in 24h: Pajhwok, Tolo, RIA"), or when it
is first reported in a language it had not reached ("first report in Russian: RIA").

What the development had already reached is the baseline, never news: the outlets and
languages of the cycle it started in (its first alert names them), those reached
through a backlog (a feed's first poll, a rescore) and those an earlier surge named.
So a surge alerts once, a restart changes nothing (the baseline is read from the
database), and the same flags give the same surges whenever they are looked at.

Must not: touch the database, the clock or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker.config import format_duration
from tracker.models import DevelopmentConfig

NAMES_SHOWN = 5  # outlets named in a surge's reason; the rest as "…"
KINDS = ("outlets", "language")
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fa": "Persian",
    "fr": "French",
    "hi": "Hindi",
    "ps": "Pashto",
    "ru": "Russian",
    "tg": "Tajik",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "uz": "Uzbek",
    "zh": "Chinese",
}


@dataclass(frozen=True)
class Carriage:
    """One outlet carrying one report of a development (a report in two feeds is two)."""

    item_id: int
    outlet: str
    language: str
    published: datetime
    flagged_at: datetime
    backlog: bool  # flagged by a feed's first poll or a rescore: never news


@dataclass(frozen=True)
class Coverage:
    """A development's reports as surges see them, and what its surges already named."""

    development_id: int
    topic: str
    carriages: tuple[Carriage, ...]
    surged_outlets: frozenset[str] = frozenset()
    surged_languages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Surge:
    """A development's spread worth an alert."""

    development_id: int
    topic: str
    kind: str  # "outlets" or "language"
    outlets: tuple[str, ...]  # the new outlets, or the new language's first outlets
    first_at: datetime
    last_at: datetime  # the report that made it a surge
    item_id: int  # ... and its item
    reason: str
    language: str = ""


@dataclass(frozen=True)
class SurgeAlertRow:
    """A surge not alerted yet, with what its alert shows of the development."""

    id: int
    development_id: int
    topic: str
    title: str
    url: str | None
    story_id: int
    reason: str
    outlets: tuple[str, ...]
    published: str  # when its last report was published (ISO-8601 UTC)
    summary: str = ""


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def firsts(carriages: Sequence[Carriage], language: bool) -> list[Carriage]:
    """The first carriage of each outlet (or language), in the order they came."""
    seen: dict[str, Carriage] = {}
    for carriage in sorted(carriages, key=lambda c: (c.published, c.item_id, c.outlet)):
        name = carriage.language if language else carriage.outlet
        if name and name not in seen:
            seen[name] = carriage
    return list(seen.values())


def _known(carriage: Carriage, started: datetime) -> bool:
    """Reached in the development's first cycle, or through a backlog: not news."""
    return carriage.backlog or carriage.flagged_at <= started


def outlet_surges(coverage: Coverage, rule: DevelopmentConfig) -> list[Surge]:
    """Each run of ``surge_outlets`` new outlets within ``surge_window``."""
    if rule.surge_outlets <= 0 or not coverage.carriages:
        return []
    started = min(c.flagged_at for c in coverage.carriages)
    window = timedelta(seconds=rule.surge_window)
    found: list[Surge] = []
    pending: list[Carriage] = []
    for carriage in firsts(coverage.carriages, language=False):
        if _known(carriage, started) or carriage.outlet in coverage.surged_outlets:
            continue
        pending = [c for c in pending if carriage.published - c.published <= window]
        pending.append(carriage)
        if len(pending) >= rule.surge_outlets:
            found.append(_outlet_surge(coverage, pending, rule))
            pending = []
    return found


def _outlet_surge(coverage: Coverage, run: Sequence[Carriage], rule: DevelopmentConfig) -> Surge:
    names = tuple(c.outlet for c in run)
    return Surge(
        coverage.development_id,
        coverage.topic,
        "outlets",
        names,
        run[0].published,
        run[-1].published,
        run[-1].item_id,
        outlets_reason(names, rule.surge_window),
    )


def language_surges(coverage: Coverage, rule: DevelopmentConfig) -> list[Surge]:
    """Each language the development reached after its first cycle."""
    if not rule.surge_languages or not coverage.carriages:
        return []
    started = min(c.flagged_at for c in coverage.carriages)
    found = []
    for first in firsts(coverage.carriages, language=True):
        if _known(first, started) or first.language in coverage.surged_languages:
            continue
        outlets = tuple(
            dict.fromkeys(
                c.outlet
                for c in coverage.carriages
                if c.language == first.language and c.item_id == first.item_id and c.outlet
            )
        )
        reason = f"first report in {language_name(first.language)}: {', '.join(outlets)}"
        found.append(
            Surge(
                coverage.development_id,
                coverage.topic,
                "language",
                outlets,
                first.published,
                first.published,
                first.item_id,
                reason,
                first.language,
            )
        )
    return found


def detect(coverage: Coverage, rule: DevelopmentConfig) -> list[Surge]:
    """Every surge of the development not named before, oldest first."""
    found = outlet_surges(coverage, rule) + language_surges(coverage, rule)
    return sorted(found, key=lambda surge: (surge.last_at, KINDS.index(surge.kind)))


def outlets_reason(names: Sequence[str], window: float) -> str:
    shown = ", ".join(names[:NAMES_SHOWN]) + (", …" if len(names) > NAMES_SHOWN else "")
    return f"spread to {len(names)} new outlets in {_period(window)}: {shown}"


def _period(seconds: float) -> str:
    """A window as analysts say it: "24h" and "48h" rather than "1d" and "2d"."""
    hours = seconds / 3600
    return f"{hours:g}h" if hours.is_integer() and hours <= 48 else format_duration(seconds)
