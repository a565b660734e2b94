"""Error kinds are the strings the database stores; messages are bounded in one way."""

from __future__ import annotations

import pickle
import sqlite3

import pytest

from tracker.errors import (
    MESSAGE_MAX,
    ErrorKind,
    FeedGone,
    FetchError,
    ParseError,
    ServiceLocked,
    StoreError,
    TopicError,
    cap_message,
    one_line,
)

# What feeds.last_error_kind and polls.error_kind hold in existing databases, and what
# Datasette users filter on: renaming one is a schema change.
STORED_KINDS = {
    "error",
    "config",
    "topic",
    "store",
    "locked",  # a service's error kind (never stored on a feed)
    "fetch",
    "url",
    "blocked",
    "timeout",
    "connect",
    "protocol",
    "redirects",
    "http",
    "gone",
    "too_large",
    "empty",
    "parse",
    "not_a_feed",
    "entities",
    "parse_timeout",
    "parse_crash",
}


def test_error_kinds_are_exactly_the_stored_strings() -> None:
    assert {kind.value for kind in ErrorKind} == STORED_KINDS
    assert all(str(kind) == kind.value == kind for kind in ErrorKind)
    assert f"{ErrorKind.TOO_LARGE}" == "too_large"


def test_an_error_kind_is_stored_and_read_back_as_its_string() -> None:
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE polls (error_kind TEXT)")
        conn.execute("INSERT INTO polls VALUES (?)", (ErrorKind.NOT_A_FEED,))
        (stored,) = conn.execute("SELECT error_kind FROM polls").fetchone()
    assert (type(stored), stored) == (str, "not_a_feed")


def test_every_error_has_a_kind() -> None:
    assert StoreError("disk full").kind == ErrorKind.STORE
    assert ServiceLocked("held").kind == ErrorKind.LOCKED
    assert TopicError("bad").kind == ErrorKind.TOPIC
    assert FetchError("x").kind == ErrorKind.FETCH
    assert FeedGone("gone", kind=ErrorKind.GONE, status=410).kind == ErrorKind.GONE


def test_a_parse_error_kind_sent_as_a_string_becomes_an_error_kind() -> None:
    error = ParseError("not a feed", kind="not_a_feed")
    assert error.kind is ErrorKind.NOT_A_FEED
    assert pickle.loads(pickle.dumps(error.kind)) is ErrorKind.NOT_A_FEED
    with pytest.raises(ValueError):
        ParseError("x", kind="no_such_kind")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven char", 10, "eleven ..."),
        ("abcdef", 2, ".."),
        ("", 5, ""),
    ],
)
def test_cap_message(text: str, limit: int, expected: str) -> None:
    assert cap_message(text, limit) == expected
    assert len(cap_message(text, limit)) <= limit


def test_cap_message_keeps_lines_and_one_line_flattens_them() -> None:
    text = "first line\nsecond\tline  "
    assert cap_message(text) == text
    assert one_line(text) == "first line second line"
    long = "word\n" * MESSAGE_MAX
    assert len(one_line(long)) == MESSAGE_MAX and "\n" not in one_line(long)
    assert one_line(long).endswith("...")
