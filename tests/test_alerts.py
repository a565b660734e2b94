"""Alerts built from new flags, rendered as plain text and JSON, and digest timing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tracker.alerts import (
    DIGEST_PENDING_MAX,
    DIGEST_SHOWN,
    Alert,
    DigestState,
    alerts_from_flags,
    digest_due,
    digest_sent,
    digest_to_send,
    for_topics,
    merge_alerts,
    queue_for_digest,
    render_digest,
    render_digest_json,
    render_json,
    render_text,
    safe_link,
    story_pages,
)
from tracker.models import NewFlag

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def flag(
    item_id: int = 1,
    *,
    story_id: int = 7,
    topic: str = "quakes",
    title: str = "Aftershock hits coastal town",
    url: str | None = "https://news.example/aftershock",
    feed: str = "Daily News",
    score: float = 0.8,
    reasons: str = "matched: aftershock\nsame story as item 3",
    backlog: bool = False,
) -> NewFlag:
    return NewFlag(item_id, story_id, topic, title, url, feed, score, reasons, backlog)


def alert(story_id: int = 7, topic: str = "quakes", **changes: object) -> Alert:
    fields: dict[str, object] = {
        "title": f"Story {story_id}",
        "url": f"https://news.example/{story_id}",
        "feed": "Daily News",
        "score": 0.5,
        "reasons": "matched: quake",
        "outlets": ("Daily News",),
    }
    fields.update(changes)
    return Alert(topic=topic, story_id=story_id, **fields)  # type: ignore[arg-type]


# ---- building ---------------------------------------------------------------------------


def test_three_copies_of_one_story_make_one_alert_listing_every_outlet() -> None:
    flags = [
        flag(1, feed="Daily News", score=0.6, url="https://daily.example/a"),
        flag(2, feed="Wire Service", score=0.9, url="https://wire.example/a", reasons="best"),
        flag(3, feed="Evening Post", score=0.7, url="https://post.example/a"),
    ]

    [only] = alerts_from_flags(flags)

    assert only.outlets == ("Daily News", "Wire Service", "Evening Post")
    assert (only.feed, only.score, only.url, only.reasons) == (
        "Wire Service",
        0.9,
        "https://wire.example/a",
        "best",
    )


def test_one_alert_per_topic_and_story_in_first_seen_order() -> None:
    flags = [
        flag(1, story_id=2, topic="quakes"),
        flag(2, story_id=1, topic="quakes"),
        flag(3, story_id=2, topic="floods"),
        flag(4, story_id=2, topic="quakes", feed="Other"),
    ]

    alerts = alerts_from_flags(flags)

    assert [(a.topic, a.story_id) for a in alerts] == [("quakes", 2), ("quakes", 1), ("floods", 2)]
    assert alerts[0].outlets == ("Daily News", "Other")


def test_backlog_flags_are_dropped() -> None:
    flags = [
        flag(1, story_id=1, backlog=True),
        flag(2, story_id=2),
        flag(3, story_id=3, backlog=True),
    ]

    assert [a.story_id for a in alerts_from_flags(flags)] == [2]


def test_an_outlet_carrying_a_story_twice_is_listed_once() -> None:
    [only] = alerts_from_flags([flag(1), flag(2), flag(3, feed="")])

    assert only.outlets == ("Daily News",)


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.cookie)",
        "  JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example/story",
        "/relative/story",
        "https://news.example/a\nb",
        "https://news.example/a b",
        "",
    ],
)
def test_links_that_are_not_plain_http_are_dropped(link: str) -> None:
    [only] = alerts_from_flags([flag(url=link)])

    assert only.url is None
    assert "javascript" not in render_text(only)[1].lower()
    assert render_json(only)["url"] is None


def test_a_safe_link_from_another_copy_replaces_a_dropped_one() -> None:
    flags = [flag(1, score=0.9, url="javascript:alert(1)"), flag(2, url="http://ok.example/")]

    assert alerts_from_flags(flags)[0].url == "http://ok.example/"


def test_safe_link_keeps_http_and_https() -> None:
    assert safe_link(" https://news.example/a?b=1 ") == "https://news.example/a?b=1"
    assert safe_link("HTTP://news.example/") == "HTTP://news.example/"
    assert safe_link(None) is None


def test_control_and_direction_characters_are_stripped_from_feed_text() -> None:
    dirty = flag(
        title="Break\x00ing:\x1b[31m red\x07\u202e txet\r\nsecond  line",
        feed="Evil\x08 Feed\x9b",
        reasons="one\x00\n\n  two\x1b  \n",
    )

    [only] = alerts_from_flags([dirty])

    assert only.title == "Breaking:[31m red txet second line"
    assert only.outlets == ("Evil Feed",)
    assert only.reasons == "one\ntwo"
    subject, body = render_text(only)
    for text in (subject, body, json.dumps(render_json(only), ensure_ascii=False)):
        assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in text)
        assert "\u202e" not in text
    assert "\n" not in subject


def test_an_empty_title_is_shown_as_untitled() -> None:
    assert alerts_from_flags([flag(title=" \x00 ")])[0].title == "(untitled)"


def test_a_long_title_is_shortened() -> None:
    title = alerts_from_flags([flag(title="word " * 200)])[0].title

    assert len(title) <= 300
    assert title.endswith("…")


def test_a_score_that_is_not_a_number_becomes_zero() -> None:
    only = alerts_from_flags([flag(score=float("nan"))])[0]

    assert only.score == 0.0
    json.dumps(render_json(only), allow_nan=False)


def test_topic_filter() -> None:
    alerts = [alert(1, "quakes"), alert(2, "floods")]

    assert for_topics(alerts, ()) == alerts
    assert [a.topic for a in for_topics(alerts, ("floods",))] == ["floods"]


# ---- rendering --------------------------------------------------------------------------


def test_text_rendering_has_title_link_outlets_score_and_reasons() -> None:
    [only] = alerts_from_flags(
        [flag(1, score=0.8765), flag(2, feed="Wire Service", url="https://wire.example/a")]
    )

    subject, body = render_text(only)

    assert "Aftershock hits coastal town" in subject
    assert "quakes" in subject
    assert "https://news.example/aftershock" in body
    assert "Outlets: Daily News, Wire Service" in body
    assert "Score: 0.88" in body
    assert "- matched: aftershock" in body
    assert "- same story as item 3" in body
    assert "<" not in body


def test_text_rendering_without_a_link_says_so() -> None:
    _, body = render_text(alert(url=None))

    assert "(no link)" in body
    assert "Outlet: Daily News" in body


def test_json_rendering() -> None:
    [only] = alerts_from_flags([flag(1), flag(2, feed="Wire Service")])

    assert render_json(only) == {
        "topic": "quakes",
        "story_id": 7,
        "development_id": None,
        "update": False,
        "surge": None,
        "title": "Aftershock hits coastal town",
        "url": "https://news.example/aftershock",
        "feed": "Daily News",
        "outlets": ["Daily News", "Wire Service"],
        "score": 0.8,
        "reasons": ["matched: aftershock", "same story as item 3"],
        "summary": "",
        "published": None,
        "page_url": None,
    }


def test_digest_lists_every_alert_in_one_message() -> None:
    alerts = [alert(1), alert(2, "floods", url=None), alert(3)]

    subject, body = render_digest(alerts)

    assert subject.startswith("[tracker] 3 new follow-ups")
    assert "quakes" in subject and "floods" in subject
    for one in alerts:
        assert one.title in body
    assert "https://news.example/1" in body and "https://news.example/3" in body
    payload = render_digest_json(alerts)
    assert [a["story_id"] for a in payload["alerts"]] == [1, 2, 3]


def test_a_long_digest_lists_the_rest_by_title() -> None:
    alerts = [alert(n) for n in range(DIGEST_SHOWN + 3)]

    _, body = render_digest(alerts)

    assert "And 3 more:" in body
    assert f"- quakes: Story {DIGEST_SHOWN + 2}" in body
    assert body.count("Score:") == DIGEST_SHOWN


# ---- digests ----------------------------------------------------------------------------


def test_digest_due() -> None:
    hour = 3600.0

    assert digest_due(None, hour, NOW)
    assert not digest_due(NOW - timedelta(minutes=59), hour, NOW)
    assert digest_due(NOW - timedelta(hours=1), hour, NOW)
    assert digest_due(NOW - timedelta(days=2), hour, NOW)
    assert not digest_due(NOW + timedelta(minutes=1), hour, NOW)  # clock went back


def test_digest_state_queues_until_due_then_clears() -> None:
    state, dropped = queue_for_digest(DigestState(last_sent=NOW), [alert(1), alert(2)])
    assert dropped == ()
    assert digest_to_send(state, 3600, NOW + timedelta(minutes=30)) == ()

    later = NOW + timedelta(hours=1)
    batch = digest_to_send(state, 3600, later)
    assert [a.story_id for a in batch] == [1, 2]

    state, _ = queue_for_digest(state, [alert(3)])  # arrived while the digest was being sent
    state = digest_sent(state, batch, later)
    assert state.last_sent == later
    assert [a.story_id for a in state.pending] == [3]


def test_nothing_to_send_when_nothing_waits() -> None:
    assert digest_to_send(DigestState(), 60, NOW) == ()


def test_a_story_queued_twice_is_one_digest_entry_with_both_outlets() -> None:
    state, _ = queue_for_digest(DigestState(), [alert(1, outlets=("A",))])
    state, _ = queue_for_digest(state, [alert(1, outlets=("B",), score=0.9), alert(2)])

    assert [a.story_id for a in state.pending] == [1, 2]
    assert state.pending[0].outlets == ("A", "B")
    assert state.pending[0].score == 0.9


def test_a_full_digest_queue_drops_the_oldest() -> None:
    state, _ = queue_for_digest(DigestState(), [alert(n) for n in range(DIGEST_PENDING_MAX)])

    state, dropped = queue_for_digest(state, [alert(-1), alert(-2)])

    assert [a.story_id for a in dropped] == [0, 1]
    assert len(state.pending) == DIGEST_PENDING_MAX
    assert state.pending[-1].story_id == -2


def test_merge_keeps_distinct_topics_apart() -> None:
    merged = merge_alerts([alert(1, "quakes")], [alert(1, "floods")])

    assert [(a.topic, a.story_id) for a in merged] == [("quakes", 1), ("floods", 1)]


def test_alerts_carry_the_summary_publication_and_the_story_page() -> None:
    copies = [
        replace(flag(1), summary="Aftershock\x00 felt  along the coast.", published="2026-03-02"),
        replace(flag(2, feed="Wire Service"), published="2026-03-01T08:00:00+00:00"),
    ]
    pages = story_pages("https://desk.example.org/", "news")
    [only] = alerts_from_flags(copies, pages)

    payload = render_json(only)
    assert payload["summary"] == "Aftershock felt along the coast."
    assert payload["published"] == "2026-03-01T08:00:00+00:00"
    assert payload["page_url"] == "https://desk.example.org/news/story?story_id=7"
    _, body = render_text(only)
    assert "Every copy: https://desk.example.org/news/story?story_id=7" in body
    assert "Published: 2026-03-01T08:00:00+00:00" in body


def test_an_alert_of_a_development_links_the_desks_page_of_it() -> None:
    copies = [replace(flag(1), development_id=12), replace(flag(2), development_id=12)]
    for browse_url, site in (
        ("https://desk.example.org/", "https://desk.example.org"),
        ("https://example.org/tracker", "https://example.org/tracker"),
    ):
        [only] = alerts_from_flags(copies, story_pages(browse_url, "news"))
        assert only.page_url == f"{site}/-/desk/development?id=12"
        assert f"Every copy: {site}/-/desk/development?id=12" in render_text(only)[1]


def test_without_a_browse_url_alerts_link_no_page() -> None:
    [only] = alerts_from_flags([flag(1)], story_pages("", "news"))
    assert only.page_url is None
