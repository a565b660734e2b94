"""What ``feeds add`` checks before it writes: a page's feed links, the address rule,
and a real fetch and parse against a server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hostile import news, rss
from httpserver import LocalServer, Reply

from tracker.errors import FeedRefused
from tracker.feedcheck import check_feed, feed_links, refused_address
from tracker.feedsurvey import check_feeds, failure
from tracker.models import FeedConfig, Settings

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BASE = "https://outlet.example/news/"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def test_feed_links_are_absolute_in_page_order_without_duplicates() -> None:
    html = """<html><head>
      <link rel="stylesheet" href="/style.css">
      <link rel="alternate" type="application/rss+xml" href="rss.xml" title="RSS">
      <LINK REL="Alternate feed" TYPE="application/atom+xml; charset=utf-8"
            href="https://other.example/atom">
      <link rel="alternate" type="application/rss+xml" href="/news/rss.xml">
      <link rel="alternate" type="text/html" href="/fr/">
      <link rel="alternate" type="application/feed+json" href="javascript:alert(1)">
      <link rel="alternate" type="application/feed+json" href="/feed.json">
    </head></html>"""

    assert feed_links(html, BASE) == [
        "https://outlet.example/news/rss.xml",
        "https://other.example/atom",
        "https://outlet.example/feed.json",
    ]


def test_a_base_element_changes_what_relative_links_mean() -> None:
    html = (
        '<base href="https://cdn.example/x/">'
        '<link rel="alternate" type="application/rss+xml" href="f.xml">'
    )
    assert feed_links(html, BASE) == ["https://cdn.example/x/f.xml"]


def test_a_page_without_feed_links_has_none() -> None:
    assert feed_links("<html><body><a href='/rss.xml'>RSS</a></body></html>", BASE) == []


@pytest.mark.parametrize(
    ("url", "allow_private", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", True, "link-local or metadata"),
        ("http://[fd00:ec2::254]/", True, "link-local or metadata"),
        ("http://10.1.2.3/feed", False, "allow_private is off"),
        ("HTTP://127.0.0.1:8080/feed", False, "allow_private is off"),
    ],
)
def test_the_fetchers_address_rule_applies_at_add_time(
    url: str, allow_private: bool, words: str
) -> None:
    refusal = refused_address(url, Settings(allow_private=allow_private))
    assert refusal is not None and words in refusal


@pytest.mark.parametrize("url", ["http://10.1.2.3/feed", "http://127.0.0.1:8080/feed"])
def test_private_addresses_are_allowed_when_configured_explicitly(url: str) -> None:
    assert refused_address(url, Settings(allow_private=True)) is None


def test_check_reads_the_title_and_counts_the_items(server: LocalServer) -> None:
    server.route("/feed.xml", Reply(body=rss(news(4), title="Radio Asia")))

    checked = check_feed(server.url("/feed.xml"), Settings(), NOW)

    assert (checked.url, checked.title, checked.items, checked.page) == (
        server.url("/feed.xml"),
        "Radio Asia",
        4,
        None,
    )


def test_check_follows_the_one_feed_a_page_links_to(server: LocalServer) -> None:
    server.route("/feed.xml", Reply(body=rss(news(2))))
    link = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
    server.route("/", Reply(body=f"<!DOCTYPE html><html><head>{link}</head></html>".encode()))

    checked = check_feed(server.url("/"), Settings(), NOW)

    assert (checked.url, checked.items, checked.page) == (
        server.url("/feed.xml"),
        2,
        server.url("/"),
    )


def test_a_page_whose_feed_link_is_broken_is_refused(server: LocalServer) -> None:
    link = '<link rel="alternate" type="application/rss+xml" href="/gone.xml">'
    server.route("/", Reply(body=f"<html><head>{link}</head></html>".encode()))

    with pytest.raises(FeedRefused, match=r"/gone.xml: HTTP 404"):
        check_feed(server.url("/"), Settings(), NOW)


def test_an_empty_answer_is_refused(server: LocalServer) -> None:
    server.route("/empty", Reply(body=b""))
    with pytest.raises(FeedRefused, match="empty"):
        check_feed(server.url("/empty"), Settings(), NOW)


@pytest.mark.parametrize(
    ("path", "reply", "kind", "words"),
    [
        ("/missing.xml", None, "http", "HTTP 404"),
        ("/gone.xml", Reply(status=410), "gone", "HTTP 410 Gone: the feed is gone for good"),
        ("/text.txt", Reply(body=b"just words", headers={"Content-Type": "text/plain"}), "", ""),
    ],
)
def test_add_refuses_on_the_judgement_of_feeds_check(
    server: LocalServer, path: str, reply: Reply | None, kind: str, words: str
) -> None:
    if reply is not None:
        server.route(path, reply)
    url = server.url(path)
    [surveyed] = asyncio.run(check_feeds(Settings(), [FeedConfig(url=url)], NOW, 30))
    judged = failure(surveyed)
    assert judged is not None and judged[0].startswith(kind) and words in judged[1]

    with pytest.raises(FeedRefused) as refused:
        check_feed(url, Settings(), NOW)
    assert str(refused.value) == f"{url}: {judged[1]}"


def test_a_page_served_as_text_is_still_searched_for_its_feed_link(server: LocalServer) -> None:
    link = '<link rel="alternate" type="application/atom+xml" href="/feed.xml">'
    page = f"<!DOCTYPE html><html><head>{link}</head></html>".encode()
    server.route("/", Reply(body=page, headers={"Content-Type": "text/plain"}))
    server.route("/feed.xml", Reply(body=rss(news(2))))
    [surveyed] = asyncio.run(check_feeds(Settings(), [FeedConfig(url=server.url("/"))], NOW, 30))
    assert failure(surveyed) == (
        "html",
        "got a web page, not a feed (look for the site's RSS or Atom link)",
    )

    checked = check_feed(server.url("/"), Settings(), NOW)

    assert (checked.url, checked.items, checked.page) == (
        server.url("/feed.xml"),
        2,
        server.url("/"),
    )
