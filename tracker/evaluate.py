"""Measure a matcher against labeled items: precision, recall, F1 and the errors.

The labeled file is YAML (the format of ``tests/data/eval/dev-labeled.yaml``)::

    items:
    - {id: d01, flag: 1, rel: 1, lang: en, date: 2023-02-16T10:00:00Z,
       title: "...", summary: "...", content: "..."}

``flag`` is 1 (a follow-up), 0 (not) or ``~`` (ambiguous: left out of the
scores); ``rel`` is 1 or 0 (on-topic for the monitor); ``lang`` defaults to
``en``; ``content`` and ``date`` are optional.

Analysts' reviews (``tracker review``, the desk) are labeled items too:
``from_reviews`` turns them into ``LabeledItem`` (right and important: 1, wrong: 0)
and ``dump_labeled`` writes them in the file's format.

This module reads that one file (pyyaml is its only third-party library) and
wraps YAML problems in :class:`~tracker.errors.ConfigError`. It never writes
anything and never prints: :func:`format_report` and :func:`dump_labeled` return text
for the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from tracker.errors import ConfigError
from tracker.models import FlagDecision, ItemText, ReviewedItem

ITEM_KEYS = ("id", "flag", "rel", "lang", "date", "title", "summary", "content")


class TopicJudge(Protocol):
    """Anything that judges items for one topic, such as
    :class:`tracker.matching.TopicMatcher` (the poll's ``Assessor`` judges every topic
    at once)."""

    def decide(self, text: ItemText) -> FlagDecision: ...


@dataclass(frozen=True)
class LabeledItem:
    """One labeled news item."""

    id: str
    flag: bool | None  # None: ambiguous, not scored
    relevant: bool | None
    language: str
    title: str
    summary: str
    content: str = ""
    published: datetime | None = None

    def text(self) -> ItemText:
        return ItemText(self.title, self.summary, self.content, self.language)


@dataclass(frozen=True)
class EvalCase:
    """An item the matcher got wrong, with what it said."""

    id: str
    title: str
    score: float
    reasons: str


@dataclass(frozen=True)
class EvalReport:
    """Scores of the flag over the labeled items with a 0/1 flag."""

    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    ambiguous: int  # items with flag ~, not scored
    misses: tuple[EvalCase, ...]  # labeled 1, not flagged
    false_flags: tuple[EvalCase, ...]  # labeled 0, flagged
    relevance_correct: int = 0
    relevance_labeled: int = 0

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def load_labeled(path: Path) -> list[LabeledItem]:
    """Read a labeled YAML file; raise ConfigError naming the file and item when invalid."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read labeled items: {error.strerror}", path=str(path)) from error
    except yaml.YAMLError as error:
        line = _yaml_line(error)
        raise ConfigError("invalid YAML", path=str(path), line=line) from error
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError("expected a top-level 'items' list", path=str(path), key="items")
    return [_labeled_item(raw, number, str(path)) for number, raw in enumerate(items, start=1)]


def from_reviews(reviewed: Iterable[ReviewedItem], topic: str) -> list[LabeledItem]:
    """The reviews that apply to ``topic`` (its own and every-topic ones) as labeled
    items: right and important are follow-ups (1), wrong is not (0)."""
    latest: dict[str, LabeledItem] = {}
    for review in reviewed:
        if review.topic not in ("", topic):
            continue
        latest.pop(review.url, None)
        latest[review.url] = LabeledItem(
            id=review.url,
            flag=review.label != "wrong",
            relevant=None,
            language=review.text.language or "en",
            title=review.text.title,
            summary=review.text.summary,
            content=review.text.content,
            published=_published(review.published, review.url, "reviews"),
        )
    return list(latest.values())


def dump_labeled(items: Iterable[LabeledItem]) -> str:
    """``items`` as a labeled YAML file that ``load_labeled`` reads back."""
    rows = [_labeled_row(item) for item in items]
    return yaml.safe_dump({"items": rows}, allow_unicode=True, sort_keys=False, width=100)


def _labeled_row(item: LabeledItem) -> dict[str, Any]:
    row: dict[str, Any] = {"id": item.id, "flag": _flag_value(item.flag), "lang": item.language}
    if item.published is not None:
        row["date"] = item.published.isoformat()
    row.update(title=item.title, summary=item.summary)
    if item.content:
        row["content"] = item.content
    return row


def _flag_value(flag: bool | None) -> int | None:
    return None if flag is None else int(flag)


def evaluate(matcher: TopicJudge, items: Iterable[LabeledItem]) -> EvalReport:
    """Run ``matcher`` over ``items`` and count hits and errors of the flag."""
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "ambiguous": 0, "rel_ok": 0, "rel": 0}
    misses: list[EvalCase] = []
    false_flags: list[EvalCase] = []
    for item in items:
        decision = matcher.decide(item.text())
        if item.relevant is not None:
            counts["rel"] += 1
            counts["rel_ok"] += decision.relevant == item.relevant
        outcome = _outcome(item.flag, decision.flagged)
        counts[outcome] += 1
        if outcome == "fn":
            misses.append(_case(item, decision))
        elif outcome == "fp":
            false_flags.append(_case(item, decision))
    return EvalReport(
        true_positives=counts["tp"],
        false_positives=counts["fp"],
        false_negatives=counts["fn"],
        true_negatives=counts["tn"],
        ambiguous=counts["ambiguous"],
        misses=tuple(misses),
        false_flags=tuple(false_flags),
        relevance_correct=counts["rel_ok"],
        relevance_labeled=counts["rel"],
    )


def format_report(report: EvalReport) -> str:
    """A plain-text report: the scores, then each miss and false flag with its reasons."""
    lines = [
        f"precision {report.precision:.3f}  recall {report.recall:.3f}  F1 {report.f1:.3f}",
        f"tp {report.true_positives}  fp {report.false_positives}  "
        f"fn {report.false_negatives}  tn {report.true_negatives}  "
        f"ambiguous (not scored) {report.ambiguous}",
    ]
    if report.relevance_labeled:
        lines.append(f"relevance correct {report.relevance_correct}/{report.relevance_labeled}")
    lines += _section("missed follow-ups (labeled 1, not flagged)", report.misses)
    lines += _section("false flags (labeled 0, flagged)", report.false_flags)
    return "\n".join(lines)


def _section(heading: str, cases: Sequence[EvalCase]) -> list[str]:
    if not cases:
        return []
    lines = ["", f"{heading}: {len(cases)}"]
    for case in cases:
        lines.append(f"- {case.id} (score {case.score:g}): {case.title}")
        lines += [f"    {reason}" for reason in case.reasons.splitlines()]
    return lines


def _outcome(label: bool | None, flagged: bool) -> str:
    if label is None:
        return "ambiguous"
    if label:
        return "tp" if flagged else "fn"
    return "fp" if flagged else "tn"


def _case(item: LabeledItem, decision: FlagDecision) -> EvalCase:
    return EvalCase(item.id, item.title, decision.score, decision.reasons)


def _labeled_item(raw: Any, number: int, path: str) -> LabeledItem:
    if not isinstance(raw, dict):
        raise ConfigError(f"item {number} is not a mapping", path=path, key=f"items[{number}]")
    item_id = str(raw.get("id", number))
    unknown = sorted(set(map(str, raw)) - set(ITEM_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}", path=path, key=f"{item_id}.{unknown[0]}")
    title = raw.get("title")
    if not isinstance(title, str) or not title:
        raise ConfigError("needs a title", path=path, key=f"{item_id}.title")
    return LabeledItem(
        id=item_id,
        flag=_label(raw, "flag", item_id, path),
        relevant=_label(raw, "rel", item_id, path),
        language=str(raw.get("lang") or "en"),
        title=title,
        summary=_text(raw, "summary", item_id, path),
        content=_text(raw, "content", item_id, path),
        published=_published(raw.get("date"), item_id, path),
    )


def _label(raw: Mapping[str, Any], key: str, item_id: str, path: str) -> bool | None:
    value = raw.get(key)
    if value is None:
        return None
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    raise ConfigError("must be 1, 0 or ~", path=path, key=f"{item_id}.{key}")


def _text(raw: Mapping[str, Any], key: str, item_id: str, path: str) -> str:
    value = raw.get(key) or ""
    if not isinstance(value, str):
        raise ConfigError("must be a string", path=path, key=f"{item_id}.{key}")
    return value


def _published(value: Any, item_id: str, path: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        return _published(datetime.fromisoformat(str(value)), item_id, path)
    except ValueError as error:
        raise ConfigError("not an ISO-8601 date", path=path, key=f"{item_id}.date") from error


def _yaml_line(error: yaml.YAMLError) -> int | None:
    mark = getattr(error, "problem_mark", None)
    return mark.line + 1 if mark is not None else None
