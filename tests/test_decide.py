"""The decider of a poll, pure: plain records in, one ``PollWrite`` out, no database."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tracker import decide
from tracker.models import (
    KEEP,
    FeedPoll,
    FeedSnapshot,
    FeedState,
    FetchResult,
    FlagDecision,
    KnownEntry,
    ParsedFeed,
    ParsedItem,
    PollWrite,
    Settings,
    StoredItem,
    TermMatch,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
URL = "http://outlet.example/rss"
STATE = FeedState(
    id=7,
    url=URL,
    name="Outlet",
    title="",
    configured=True,
    interval=900.0,
    poll_interval=None,
    etag=None,
    last_modified=None,
    content_hash=None,
    first_polled_at="2026-03-01T00:00:00+00:00",
    last_polled_at=None,
    last_success_at=None,
    last_status=None,
    last_error=None,
    last_error_kind=None,
    failing_since=None,
    consecutive_failures=0,
    next_poll_at=None,
    gone=False,
    redirect_to=None,
    redirect_seen=0,
)


def item(key: str, title: str, content_hash: str | None = None) -> ParsedItem:
    return ParsedItem(
        key=key,
        key_kind="guid",
        url=f"http://outlet.example/{key}",
        link=None,
        title=title,
        summary="",
        content="",
        author="",
        language="en",
        published=NOW,
        published_raw=None,
        date_estimated=False,
        content_hash=content_hash or f"h:{title}",
    )


def poll(*items: ParsedItem, **fetch: object) -> FeedPoll:
    result = FetchResult(URL, URL, status=200, etag='"e"', content_hash="b", **fetch)  # type: ignore[arg-type]
    parsed = ParsedFeed("Outlet", None, "en", "rss20", items)
    return FeedPoll(URL, NOW - timedelta(seconds=2), result, parsed)


def snapshot(**fields: object) -> FeedSnapshot:
    values: dict[str, object] = {
        "entries": {},
        "item_ids_by_url": {},
        "changed_items": {},
        "flags": frozenset(),
        "polled_before": True,
        "next_item_id": 10,
        "story_candidates": {},
    }
    values.update(fields)
    return FeedSnapshot(**values)  # type: ignore[arg-type]


def verdict(flagged: bool, relevant: bool = True) -> tuple[FlagDecision, ...]:
    match = TermMatch("g", "term", "term", "title", 0)
    return (FlagDecision("t", relevant, flagged, 2.0, "why", "v1", (match,) if relevant else ()),)


def decided(
    the_poll: FeedPoll,
    the_snapshot: FeedSnapshot,
    verdicts: dict[str, tuple[FlagDecision, ...]] | None = None,
    state: FeedState = STATE,
) -> PollWrite:
    inputs = decide.PollInputs(state, the_poll, verdicts or {}, Settings(), random.Random(3), NOW)
    return decide.decide_poll(inputs, the_snapshot)


def test_entries_are_compared_with_what_the_feed_had() -> None:
    changes = decide.compare_entries(
        [item("a", "A"), item("b", "B2"), item("c", "C")], {"a": "h:A", "b": "h:B"}
    )
    assert [
        [i.key for i in part] for part in (changes.unchanged, changes.changed, changes.new)
    ] == [
        ["a"],
        ["b"],
        ["c"],
    ]


def test_new_changed_and_unchanged_entries_are_written_apart() -> None:
    known = {"a": KnownEntry(1, "h:A"), "b": KnownEntry(2, "h:B")}
    write = decided(
        poll(item("a", "A"), item("b", "B2"), item("c", "C"), item("d", "D")),
        snapshot(
            entries=known,
            changed_items={2: StoredItem(2, None)},
            item_ids_by_url={"http://outlet.example/d": 4},
        ),
    )
    assert write.touched == ("a",)
    assert [(u.item_id, u.item.title) for u in write.updated] == [(2, "B2")]
    assert [(n.item_id, n.item.key, n.story_id) for n in write.inserted] == [(10, "c", 10)]
    assert [(link.key, link.item_id) for link in write.links] == [("d", 4), ("c", 10)]
    summary = write.summary
    assert (summary.outcome, summary.new_items, summary.updated_items) == ("new", 1, 1)
    assert write.poll.new_items == 1 and write.poll.feed_id == 7
    assert write.feed.last_new_item_at == NOW.isoformat()


def test_a_changed_item_that_becomes_flagged_is_a_new_flag_and_one_that_stops_loses_it() -> None:
    known = {"a": KnownEntry(1, "h:A"), "b": KnownEntry(2, "h:B")}
    write = decided(
        poll(item("a", "A2"), item("b", "B2")),
        snapshot(
            entries=known,
            changed_items={1: StoredItem(5, "http://x/1"), 2: StoredItem(2, None)},
            flags=frozenset({(2, "t")}),
        ),
        {"a": verdict(flagged=True), "b": verdict(flagged=False)},
    )
    verdicts = write.verdicts
    assert verdicts.forget_matches == ((1, "t"), (2, "t"))  # replaced by the new ones
    assert verdicts.forget_flags == ((2, "t"),) and verdicts.new_flags == ((1, "t"),)
    assert [(row.item_id, row.backlog) for row in verdicts.flags] == [(1, 0)]
    assert [
        (f.item_id, f.story_id, f.url, f.title, f.backlog) for f in write.summary.new_flags
    ] == [(1, 5, "http://x/1", "A2", False)]
    irrelevant = decided(
        poll(item("b", "B3")),
        snapshot(entries=known, changed_items={2: StoredItem(2, None)}),
        {"b": verdict(flagged=False, relevant=False)},
    )
    assert irrelevant.verdicts.forget_verdicts == ((2, "t"),)
    assert irrelevant.verdicts.assessments == ()


def test_a_flag_already_there_is_updated_not_new() -> None:
    known = {"a": KnownEntry(1, "h:A")}
    write = decided(
        poll(item("a", "A2")),
        snapshot(
            entries=known, changed_items={1: StoredItem(1, None)}, flags=frozenset({(1, "t")})
        ),
        {"a": verdict(flagged=True)},
    )
    assert len(write.verdicts.flags) == 1 and write.verdicts.new_flags == ()
    assert write.summary.new_flags == ()


def test_a_first_polls_flags_are_backlog() -> None:
    write = decided(
        poll(item("a", "A")), snapshot(polled_before=False), {"a": verdict(flagged=True)}
    )
    assert [row.backlog for row in write.verdicts.flags] == [1]
    assert [f.backlog for f in write.summary.new_flags] == [True]
    assert write.verdicts.forget_matches == ()  # a new item has nothing to replace


def test_a_new_item_joins_the_story_of_a_recent_copy() -> None:
    copy = item("a", "Taliban and US envoys meet in Doha for talks - Outlet")
    _, bands = decide.fingerprint(copy, {})
    candidates = {bands[0]: ((42, "Taliban and US envoys meet in Doha for talks"),)}
    write = decided(poll(copy), snapshot(story_candidates=candidates))
    assert [n.story_id for n in write.inserted] == [42]
    assert write.inserted[0].bands == bands


def test_a_permanent_redirect_moves_the_feed_once_confirmed() -> None:
    target = "http://moved.example/rss"
    once = decided(poll(permanent_redirect=target), snapshot())
    assert (once.feed.redirect_to, once.feed.redirect_seen, once.feed.url) == (target, 1, KEEP)
    seen = replace(STATE, redirect_to=target, redirect_seen=1)
    twice = decided(poll(permanent_redirect=target), snapshot(), state=seen)
    assert (twice.feed.url, twice.feed.previous_url, twice.feed.redirect_to) == (target, URL, None)
    assert twice.summary.moved_to == target
    taken = decided(poll(permanent_redirect=target), snapshot(redirect_taken=True), state=seen)
    assert (taken.feed.url, taken.summary.moved_to, taken.feed.redirect_seen) == (KEEP, None, 2)


def test_a_failed_fetch_counts_a_failure_and_backs_off() -> None:
    failing = replace(STATE, consecutive_failures=2, failing_since="2026-03-02T10:00:00+00:00")
    result = FetchResult(URL, URL, status=503, error_kind="http", error="HTTP 503")
    write = decided(FeedPoll(URL, NOW, result, None, "http", "HTTP 503"), snapshot(), state=failing)
    feed = write.feed
    assert (feed.consecutive_failures, feed.failing_since) == (3, failing.failing_since)
    assert (feed.last_error_kind, feed.last_error, feed.gone) == ("http", "HTTP 503", 0)
    assert feed.etag is KEEP and feed.last_success_at is KEEP
    assert feed.next_poll_at >= (NOW + timedelta(seconds=900 * 4 * 0.9)).isoformat()  # type: ignore[operator]
    assert (write.summary.outcome, write.poll.outcome, write.inserted) == ("error", "error", ())


def test_a_refused_write_is_a_store_error_that_keeps_the_old_validators() -> None:
    inputs = decide.PollInputs(STATE, poll(item("a", "A")), {}, Settings(), random.Random(), NOW)
    write = decide.decide_refused(inputs, snapshot(), "database or disk is full")
    assert (write.summary.error_kind, write.summary.items_seen, write.inserted) == ("store", 0, ())
    assert write.feed.last_error_kind == "store" and write.feed.consecutive_failures == 1
    assert write.feed.etag is KEEP and write.feed.content_hash is KEEP
    assert "database or disk is full" in (write.summary.error or "")


def test_an_unchanged_body_after_a_content_error_keeps_the_error() -> None:
    broken = replace(STATE, last_error_kind="parse", last_error="bad", consecutive_failures=1)
    result = FetchResult(URL, URL, status=304, not_modified=True)
    write = decided(FeedPoll(URL, NOW, result), snapshot(), state=broken)
    assert write.feed.last_error is KEEP and write.feed.consecutive_failures is KEEP
    assert write.summary.outcome == "not_modified"
