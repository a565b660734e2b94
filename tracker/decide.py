"""The decider of a feed's poll (pure): what to write, given what the store holds.

Takes the feed's state, the poll (fetch and parse outcome, the parser worker's
analyses), the verdicts of the items the worker did not assess, a ``FeedSnapshot``
the store read just before the write, the scheduling inputs and ``now``; returns
one ``PollWrite``: which entries were seen again, which items changed, which are
new (with their ids, stories and bands) or carried by a stored item, which
verdict rows to write or delete and which flags are new, the feed's new columns
and next poll, the ``polls`` row and the ``PollSummary``. A rescore's verdict rows
are decided here too (``verdict_write``). ``compare_entries`` is the one place that
tells new, changed and unchanged entries apart (the parser workers use it too).

Must not: read the clock, the database or the network, or call the matcher.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tracker import schedule, stories
from tracker.errors import ErrorKind, cap_message, one_line
from tracker.models import (
    AssessmentRow,
    EntityRow,
    FeedColumns,
    FeedPoll,
    FeedSnapshot,
    FeedState,
    FlagDecision,
    FlagRow,
    ItemAnalysis,
    ItemLink,
    ItemUpdate,
    MatchRow,
    NewFlag,
    NewItem,
    ParsedItem,
    PollRow,
    PollSummary,
    PollWrite,
    Settings,
    VerdictWrite,
    iso,
    parse_iso,
)
from tracker.urls import redact_url

log = logging.getLogger(__name__)

STORY_CANDIDATES = 50  # recent items compared with a new one to find its story
REDIRECT_CONFIRMATIONS = 2  # polls that must see the same permanent redirect before the URL moves
# Errors in the body itself: a 304 or an unchanged body does not clear them.
CONTENT_ERRORS = frozenset(
    {
        ErrorKind.EMPTY,
        ErrorKind.NOT_A_FEED,
        ErrorKind.PARSE,
        ErrorKind.ENTITIES,
        ErrorKind.PARSE_TIMEOUT,
        ErrorKind.PARSE_CRASH,
    }
)
# The error kind of a poll the database could not take (disk full, I/O error, locked).
WRITE_ERROR = ErrorKind.STORE


@dataclass(frozen=True)
class EntryChanges:
    """A document's entries against the ones known before, in document order."""

    unchanged: tuple[ParsedItem, ...]
    changed: tuple[ParsedItem, ...]
    new: tuple[ParsedItem, ...]


def compare_entries(items: Iterable[ParsedItem], known: Mapping[str, str]) -> EntryChanges:
    """Split entries by ``known`` (entry key -> content hash of what was stored)."""
    unchanged, changed, new = [], [], []
    for item in items:
        before = known.get(item.key)
        if before is None:
            new.append(item)
        elif before == item.content_hash:
            unchanged.append(item)
        else:
            changed.append(item)
    return EntryChanges(tuple(unchanged), tuple(changed), tuple(new))


def fingerprint(
    item: ParsedItem, analyses: Mapping[str, ItemAnalysis]
) -> tuple[frozenset[str], tuple[int, ...]]:
    """The item's title tokens and story bands, as the parser worker found them."""
    analysis = analyses.get(item.key)
    if analysis is not None:
        return analysis.title_tokens, analysis.story_bands
    tokens = stories.title_tokens(item.title)
    return tokens, stories.story_bands(tokens)


def known_hashes(snapshot: FeedSnapshot) -> dict[str, str]:
    return {key: entry.content_hash for key, entry in snapshot.entries.items()}


def unassessed(poll: FeedPoll, snapshot: FeedSnapshot) -> list[ParsedItem]:
    """The new and changed items that need verdicts and came without them."""
    if poll.parsed is None or poll.error is not None:
        return []
    analyses = poll.analyses
    lacking = [
        item
        for item in poll.parsed.items
        if (analysis := analyses.get(item.key)) is None or analysis.decisions is None
    ]
    if not lacking:  # the usual case: the workers assessed every item
        return []
    changes = compare_entries(lacking, known_hashes(snapshot))
    return [*changes.changed, *changes.new]


@dataclass(frozen=True)
class PollInputs:
    """What a poll's decision needs besides the store's snapshot."""

    state: FeedState
    poll: FeedPoll
    verdicts: Mapping[str, Sequence[FlagDecision]]  # by key, for items without the worker's
    settings: Settings
    rng: random.Random
    now: datetime

    def decisions(self, item: ParsedItem) -> Sequence[FlagDecision]:
        analysis = self.poll.analyses.get(item.key)
        if analysis is not None and analysis.decisions is not None:
            return analysis.decisions
        return self.verdicts.get(item.key, ())


@dataclass(frozen=True)
class VerdictTarget:
    """An item and its verdicts, to be written."""

    item_id: int
    decisions: Sequence[FlagDecision]
    fresh: bool  # inserted by this write: no earlier verdict to replace
    backlog: bool  # a new flag of it is not alerted


@dataclass
class _Verdicts:
    """Verdict rows being gathered (see ``VerdictWrite``)."""

    flagged: frozenset[tuple[int, str]]
    now: str
    forget_matches: list[tuple[int, str]] = field(default_factory=list)
    forget_verdicts: list[tuple[int, str]] = field(default_factory=list)
    forget_flags: list[tuple[int, str]] = field(default_factory=list)
    matches: list[MatchRow] = field(default_factory=list)
    assessments: list[AssessmentRow] = field(default_factory=list)
    flags: list[FlagRow] = field(default_factory=list)
    new_flags: list[tuple[int, str]] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)

    def add(self, target: VerdictTarget, decision: FlagDecision) -> None:
        key = (target.item_id, decision.topic)
        if not target.fresh:  # what it replaces goes first
            self.forget_matches.append(key)
        if decision.entities:
            self.entities += [EntityRow(*key, name) for name in decision.entities]
        if not decision.relevant and not decision.flagged:
            if not target.fresh:
                self.forget_verdicts.append(key)
            return
        self.matches += [
            MatchRow(*key, m.group, m.term, m.matched, m.field, m.offset) for m in decision.matches
        ]
        self.assessments.append(_assessment(key, decision, self.now))
        if not decision.flagged:
            if not target.fresh:
                self.forget_flags.append(key)
            return
        self.flags.append(_flag(key, decision, self.now, target.backlog))
        if target.fresh or key not in self.flagged:
            self.new_flags.append(key)

    def frozen(self) -> VerdictWrite:
        return VerdictWrite(
            tuple(self.forget_matches),
            tuple(self.forget_verdicts),
            tuple(self.forget_flags),
            tuple(self.matches),
            tuple(self.assessments),
            tuple(self.flags),
            tuple(self.new_flags),
            tuple(self.entities),
        )


def verdict_write(
    targets: Iterable[VerdictTarget], flagged: frozenset[tuple[int, str]], now: datetime
) -> VerdictWrite:
    """The verdict rows of these items; ``flagged`` holds the (item, topic) pairs
    flagged before, so that only the others count as new flags."""
    gathered = _Verdicts(flagged, iso(now))
    for target in targets:
        for decision in target.decisions:
            gathered.add(target, decision)
    return gathered.frozen()


def flagged_after(
    before: Iterable[tuple[int, str]], verdicts: VerdictWrite
) -> set[tuple[int, str]]:
    """The (item, topic) pairs flagged once ``verdicts`` is written."""
    gone = {*verdicts.forget_verdicts, *verdicts.forget_flags}
    return (set(before) - gone) | {(row.item_id, row.topic) for row in verdicts.flags}


def _assessment(key: tuple[int, str], decision: FlagDecision, now: str) -> AssessmentRow:
    relevant, flagged = int(decision.relevant), int(decision.flagged)
    return AssessmentRow(*key, relevant, flagged, decision.score, decision.rule_version, now)


def _flag(key: tuple[int, str], decision: FlagDecision, now: str, backlog: bool) -> FlagRow:
    seeds = ", ".join(decision.seed_terms)
    return FlagRow(
        *key, decision.score, decision.reasons, seeds, decision.rule_version, now, int(backlog)
    )


# ---- one feed's poll ------------------------------------------------------------------


@dataclass(frozen=True)
class _Entries:
    """The items part of a poll's write."""

    touched: tuple[str, ...] = ()
    updated: tuple[ItemUpdate, ...] = ()
    inserted: tuple[NewItem, ...] = ()
    links: tuple[ItemLink, ...] = ()
    verdicts: VerdictWrite = field(default_factory=VerdictWrite)
    new_flags: tuple[NewFlag, ...] = ()


def decide_poll(inputs: PollInputs, snapshot: FeedSnapshot) -> PollWrite:
    """What to write for this poll, given what the store held (``snapshot``)."""
    poll = inputs.poll
    entries = _Entries()
    if poll.parsed is not None and poll.error is None:
        entries = _decide_entries(inputs, snapshot)
    timing = _timing(inputs, len(entries.inserted))
    columns, moved_to = _feed_columns(inputs, snapshot, timing, len(entries.inserted))
    summary = _summary(inputs, entries, moved_to, stopped=columns.gone == 1)
    return PollWrite(
        feed_id=inputs.state.id,
        now=iso(inputs.now),
        touched=entries.touched,
        updated=entries.updated,
        inserted=entries.inserted,
        links=entries.links,
        verdicts=entries.verdicts,
        feed=columns,
        poll=_poll_row(inputs, summary),
        summary=summary,
    )


def decide_refused(inputs: PollInputs, snapshot: FeedSnapshot, reason: str) -> PollWrite:
    """A poll whose write the database refused, recorded as a ``store`` error: nothing
    of its document is written, and its validators are not kept (the body must be
    fetched whole again)."""
    error = one_line(f"poll not saved, the database refused the write: {reason}")
    failed = replace(inputs.poll, parsed=None, error_kind=WRITE_ERROR, error=error)
    return decide_poll(replace(inputs, poll=failed), snapshot)


def _decide_entries(inputs: PollInputs, snapshot: FeedSnapshot) -> _Entries:
    assert inputs.poll.parsed is not None
    changes = compare_entries(inputs.poll.parsed.items, known_hashes(snapshot))
    updated = tuple(ItemUpdate(snapshot.entries[i.key].item_id, i) for i in changes.changed)
    new, links = _split_new(changes.new, snapshot)
    inserted = _place_in_stories(new, inputs.poll.analyses, snapshot.story_candidates)
    backlog = not snapshot.polled_before  # the feed's first poll: its flags are not alerted
    targets = [
        *(VerdictTarget(u.item_id, inputs.decisions(u.item), False, False) for u in updated),
        *(VerdictTarget(n.item_id, inputs.decisions(n.item), True, backlog) for n in inserted),
    ]
    verdicts = verdict_write(targets, snapshot.flags, inputs.now)
    touched = tuple(item.key for item in changes.unchanged)
    flags = _new_flags(inputs, snapshot, verdicts, updated, inserted)
    return _Entries(touched, updated, inserted, links, verdicts, flags)


def _split_new(
    fresh: Sequence[ParsedItem], snapshot: FeedSnapshot
) -> tuple[list[tuple[int, ParsedItem]], tuple[ItemLink, ...]]:
    """The entries this feed never had: new items (numbered from the snapshot's next
    id), or links to the item already stored for their URL (from another feed, or
    earlier in this document)."""
    known_urls = dict(snapshot.item_ids_by_url)
    next_id = snapshot.next_item_id
    links: list[ItemLink] = []
    new: list[tuple[int, ParsedItem]] = []
    for item in fresh:
        linked = known_urls.get(item.url) if item.url else None
        if linked is not None:
            links.append(
                ItemLink(item.key, linked, item.content_hash, item.publisher, item.publisher_url)
            )
            continue
        new.append((next_id, item))
        if item.url:
            known_urls[item.url] = next_id
        next_id += 1
    links += [ItemLink(item.key, item_id, item.content_hash) for item_id, item in new]
    return new, tuple(links)


def _place_in_stories(
    new: Sequence[tuple[int, ParsedItem]],
    analyses: Mapping[str, ItemAnalysis],
    stored: Mapping[int, Sequence[tuple[int, str]]],
) -> tuple[NewItem, ...]:
    """Each new item with its story: the closest recent copy's, else its own."""
    this_poll: dict[int, list[tuple[int, str]]] = {}
    placed = []
    for item_id, item in new:
        tokens, bands = fingerprint(item, analyses)
        candidates = _candidates(bands, this_poll, stored)
        story_id = (stories.best_match(tokens, candidates) if candidates else None) or item_id
        for band in bands:
            this_poll.setdefault(band, []).append((story_id, item.title))
        placed.append(NewItem(item_id, item, story_id, bands))
    return tuple(placed)


def _candidates(
    bands: Sequence[int], *sources: Mapping[int, Sequence[tuple[int, str]]]
) -> list[tuple[int, str]]:
    """Distinct (story id, title) pairs sharing a band, at most STORY_CANDIDATES."""
    found = dict.fromkeys(
        candidate for source in sources for band in bands for candidate in source.get(band, ())
    )
    return list(found)[:STORY_CANDIDATES]


def _new_flags(
    inputs: PollInputs,
    snapshot: FeedSnapshot,
    verdicts: VerdictWrite,
    updated: Sequence[ItemUpdate],
    inserted: Sequence[NewItem],
) -> tuple[NewFlag, ...]:
    """The flags this write makes new, for alerts (a first poll's are backlog)."""
    about: dict[int, tuple[int, str, str | None, bool, str]] = {}
    for update in updated:
        stored = snapshot.changed_items[update.item_id]
        item = update.item
        about[update.item_id] = (stored.story_id, item.title, stored.url, False, item.publisher)
    backlog = not snapshot.polled_before
    for new in inserted:
        item = new.item
        about[new.item_id] = (new.story_id, item.title, item.url, backlog, item.publisher)
    fresh = set(verdicts.new_flags)
    feed = _feed_title(inputs)
    return tuple(
        NewFlag(
            row.item_id, story, row.topic, title, url, outlet or feed, row.score, row.reasons, old
        )
        for row in verdicts.flags
        if (row.item_id, row.topic) in fresh
        for story, title, url, old, outlet in [about[row.item_id]]
    )


def _feed_title(inputs: PollInputs) -> str:
    parsed, state = inputs.poll.parsed, inputs.state
    # The name the user gave the feed in the config first: two feeds of one outlet can
    # carry the same title.
    return state.name or (parsed.title if parsed else "") or state.url


def _timing(inputs: PollInputs, new_items: int) -> schedule.PollTiming:
    state, poll, now = inputs.state, inputs.poll, inputs.now
    configured = state.interval or inputs.settings.interval
    if poll.error is None:
        return schedule.after_success(
            configured,
            state.poll_interval,
            new_items,
            poll.fetch.max_age,
            inputs.settings,
            now,
            inputs.rng,
        )
    failing_since = parse_iso(state.failing_since) or now
    return schedule.after_failure(
        configured,
        state.poll_interval,
        state.consecutive_failures + 1,
        poll.fetch.retry_after,
        (now - failing_since).total_seconds(),
        now,
        inputs.rng,
    )


def _feed_columns(
    inputs: PollInputs, snapshot: FeedSnapshot, timing: schedule.PollTiming, new_items: int
) -> tuple[FeedColumns, str | None]:
    """The feed's columns after this poll, and the URL it moved to, if it did."""
    state, poll, now = inputs.state, inputs.poll, iso(inputs.now)
    fetch = poll.fetch
    values: dict[str, Any] = {
        "last_polled_at": now,
        "first_polled_at": state.first_polled_at or now,
        "last_status": fetch.status,
        "next_poll_at": iso(timing.next_poll_at),
        "poll_interval_seconds": timing.interval,
    }
    if poll.error is not None:
        values.update(_failure_values(inputs))
    elif not (fetch.not_modified and state.last_error_kind in CONTENT_ERRORS):
        values.update(_success_values(state, poll, new_items, now))
    # A body that was never saved must be fetched whole again: keep the old validators.
    if (200 <= (fetch.status or 0) < 300 or fetch.status == 304) and (
        poll.error_kind != WRITE_ERROR
    ):
        values.update(_validator_values(state, poll))
    moved_to = None
    if poll.error is None and fetch.permanent_redirect:
        moved_to = _redirect_values(state, fetch.permanent_redirect, snapshot, values)
    return FeedColumns(**values), moved_to


def _success_values(state: FeedState, poll: FeedPoll, new_items: int, now: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_success_at": now,
        "last_error": None,
        "last_error_kind": None,
        "failing_since": None,
        "consecutive_failures": 0,
        "gone": 0,
    }
    if poll.parsed is not None:
        values["title"] = poll.parsed.title or state.title
        values["site_url"] = poll.parsed.link
        values["last_warning"] = (
            cap_message(poll.parsed.warnings[0]) if poll.parsed.warnings else None
        )
        if poll.parsed.language:
            values["language"] = poll.parsed.language
    if new_items:
        values["last_new_item_at"] = now
    return values


def _validator_values(state: FeedState, poll: FeedPoll) -> dict[str, Any]:
    """Validators of a body the server delivered, even one that did not parse: asking
    again conditionally is polite, and an unchanged broken body stays an error."""
    fetch = poll.fetch
    return {
        "etag": fetch.etag,
        "last_modified": fetch.last_modified,
        "content_hash": fetch.content_hash or state.content_hash,
    }


def _failure_values(inputs: PollInputs) -> dict[str, Any]:
    state, poll, now = inputs.state, inputs.poll, iso(inputs.now)
    failing_since = parse_iso(state.failing_since) or inputs.now
    failing_for = (inputs.now - failing_since).total_seconds()
    return {
        "last_error": cap_message(poll.error or ""),
        "last_error_kind": poll.error_kind,
        "last_error_at": now,
        "failing_since": state.failing_since or now,
        "consecutive_failures": state.consecutive_failures + 1,
        "gone": int(schedule.is_gone(poll.error_kind, failing_for, inputs.settings)),
    }


def _redirect_values(
    state: FeedState, target: str, snapshot: FeedSnapshot, values: dict[str, Any]
) -> str | None:
    """Count confirmations of a permanent redirect; move the URL once confirmed."""
    if redact_url(target) != target:  # a URL with credentials never goes in the database
        return None
    seen = state.redirect_seen + 1 if state.redirect_to == target else 1
    values.update(redirect_to=target, redirect_seen=seen)
    if seen < REDIRECT_CONFIRMATIONS:
        return None
    if snapshot.redirect_taken:
        log.warning("redirect target already a feed url=%s target=%s", state.url, target)
        return None
    values.update(url=target, previous_url=state.url, redirect_to=None, redirect_seen=0)
    return target


def _summary(
    inputs: PollInputs, entries: _Entries, moved_to: str | None, *, stopped: bool
) -> PollSummary:
    state, poll = inputs.state, inputs.poll
    if poll.error is not None:
        outcome = "error"
    elif poll.fetch.not_modified:
        outcome = "not_modified"
    else:
        outcome = "new" if entries.inserted or entries.updated else "unchanged"
    duration = max(0, int((inputs.now - poll.started_at).total_seconds() * 1000))
    return PollSummary(
        feed_url=state.url,
        feed_name=state.display_name,
        outcome=outcome,
        status=poll.fetch.status,
        items_seen=len(poll.parsed.items) if poll.parsed else 0,
        new_items=len(entries.inserted),
        updated_items=len(entries.updated),
        new_flags=entries.new_flags,
        duration_ms=duration,
        error_kind=poll.error_kind,
        error=cap_message(poll.error or "") or None,
        moved_to=moved_to,
        stopped=stopped,
    )


def _poll_row(inputs: PollInputs, summary: PollSummary) -> PollRow:
    poll = inputs.poll
    warnings = cap_message("\n".join(poll.parsed.warnings)) if poll.parsed else None
    return PollRow(
        inputs.state.id,
        iso(poll.started_at),
        summary.duration_ms,
        summary.status,
        summary.outcome,
        len(poll.fetch.body),
        summary.items_seen,
        summary.new_items,
        summary.updated_items,
        len(summary.new_flags),
        summary.error_kind,
        summary.error,
        warnings or None,
    )
