"""Article text for items whose feed text is too short to decide (#19): a loopback site
of article pages (boilerplate, comments and related links, a paywall stub, a 5 MB page,
a redirect to a private address, a page that never ends, a page robots.txt forbids),
polled for real into a SQLite file, then the after-cycle hook."""

from __future__ import annotations

import ipaddress
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import make_project
from httpserver import LocalServer, Reply

from tracker import articletext, fetch
from tracker.articles import fetch_article_text, page_text
from tracker.config import load_config
from tracker.hooks import FinishedCycle
from tracker.models import ArticleCandidate, ItemText
from tracker.poll import ParsePool, Poller, run_poll
from tracker.store import Store
from tracker.topicset import load_topic_set

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = (
    "Taliban officials spoke to reporters in Kabul on Sunday. The talks with the United "
    "States special envoy Zalmay Khalilzad in Doha covered the release of prisoners, "
    "humanitarian aid and the reopening of the US embassy. The State Department said the "
    "meeting was constructive and that Washington would continue its engagement with the "
    "Taliban government on counterterrorism."
)
PAGE = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>News</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>Taliban officials speak to reporters in Kabul</h1>
<p>{ARTICLE}</p><p>Officials gave no date for the next round of talks.</p></article>
<section class="comments"><h2>Comments</h2><p>Great piece, thanks!</p></section>
<aside class="related"><h2>Related</h2><ul><li><a href="/x">Football results</a></li></ul>
</aside><footer>Copyright 2026 News Corp. All rights reserved.</footer></body></html>"""
PAYWALL = """<!DOCTYPE html><html><head><title>Subscribe</title></head><body>
<div class="paywall"><p>Subscribe to continue reading.</p></div></body></html>"""
TITLES = {
    "good": "Taliban officials speak to reporters in Kabul",
    "paywall": "Taliban officials hold a news conference in Kandahar",
    "huge": "Taliban officials speak to elders in Herat",
    "private": "Taliban officials speak to traders in Mazar",
    "endless": "Taliban officials speak to students in Jalalabad",
    "robots": "Taliban officials speak to farmers in Ghazni",
}


def feed(server: LocalServer) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{server.url('/a/' + name)}</link>"
        f"<guid>{name}</guid><pubDate>Sun, 06 Dec 2026 10:00:00 GMT</pubDate></item>"
        for name, title in TITLES.items()
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Outlet</title>'
        f"<link>https://outlet.example/</link>{items}</channel></rss>"
    ).encode()


def site(server: LocalServer) -> None:
    html = {"Content-Type": "text/html; charset=utf-8"}
    server.route("/a/good", Reply(body=PAGE.encode(), headers=html))
    server.route("/a/paywall", Reply(body=PAYWALL.encode(), headers=html))
    server.route("/a/huge", Reply(body=b"<html><body><p>" + b"x" * 5_000_000, headers=html))
    secret = f"http://localhost:{server.port}/a/secret"
    server.route("/a/private", Reply(status=302, headers={"Location": secret}))
    server.route("/a/secret", Reply(body=PAGE.encode(), headers=html))
    server.route(
        "/a/endless",
        Reply(
            body=b"<html><body>" + b"<p>more</p>" * 100_000,
            headers=html,
            trickle=0.05,
            content_length=-1,
        ),
    )
    server.route("/a/robots", Reply(body=PAGE.encode(), headers=html))
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /a/robots\n"))


@contextmanager
def polled(tmp_path: Path, config_path: Path) -> Iterator[tuple[Store, FinishedCycle]]:
    """The project's feeds polled once for real, then its store and the finished cycle
    that after-cycle hooks get."""
    config = load_config(config_path)
    topics = load_topic_set(tmp_path / "config" / "topics", tmp_path / "seeds")
    pool = ParsePool(os.cpu_count() or 1)
    try:
        with Store(tmp_path / "db" / "tracker.db") as store:
            now = datetime.now(UTC)
            store.sync_feeds(config.feeds, now)
            poller = Poller(store, config.settings, topics.assess, pool)
            summary = run_poll(poller, store.feeds(configured_only=True))
            store.end_cycle()
            yield store, FinishedCycle(summary, now, store, config, topics)
    finally:
        pool.close()


@pytest.fixture
def public_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 looks public to the address guard (as a publisher's site would), and
    ``localhost`` resolves to loopback: a private address."""

    async def resolve(host: str, port: int) -> list[fetch.IPAddress]:
        if host == "127.0.0.1":
            return [ipaddress.ip_address("93.184.216.34")]
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(fetch, "resolve_host", resolve)


@pytest.mark.slow  # waits for the endless page's deadline
@pytest.mark.usefixtures("public_loopback")
def test_article_pages_are_fetched_once_and_decide_short_items(tmp_path: Path) -> None:
    settings = 'article_text = true\narticle_delay = "0.1s"'
    with LocalServer() as server:
        site(server)
        server.route("/feed.xml", Reply(body=feed(server), headers={"Content-Type": "text/xml"}))
        path = make_project(tmp_path, [server.url("/feed.xml")], extra_settings=settings)
        path.write_text(path.read_text().replace('deadline = "10s"', 'deadline = "2s"'))
        with polled(tmp_path, path) as (store, cycle):
            facts = fetch_article_text(cycle)
            again = fetch_article_text(cycle)
            # A rescore (a topic edit) decides with the article text too: the flag stays.
            changes = store.rescore(cycle.topics.assess, cycle.topics.names, cycle.now)
        requests = [urlsplit_path(r.path) for r in server.received]

    with sqlite3.connect(tmp_path / "db" / "tracker.db") as conn:
        conn.row_factory = sqlite3.Row
        items = {r["title"]: r for r in conn.execute("SELECT * FROM items")}
        flags = {r["title"]: r["reasons"] for r in conn.execute("SELECT * FROM flagged")}
    status = {name: items[title]["article_status"] for name, title in TITLES.items()}
    assert status == {
        "good": "ok",
        "paywall": "ok",  # the stub's line is all the text there is: it decides nothing
        "huge": "too_large",
        "private": "blocked",
        "endless": "timeout",
        "robots": "robots",
    }
    good = items[TITLES["good"]]
    assert "Zalmay Khalilzad" in good["article_text"]
    for boilerplate in ("Great piece", "Football results", "All rights reserved", "Sport"):
        assert boilerplate not in good["article_text"]
    # The title alone does not flag it; with the article's text it flags, and says why.
    assert "decided with the article's text from its page" in flags[TITLES["good"]]
    assert set(flags) == {TITLES["good"]}
    assert items[TITLES["paywall"]]["article_text"] == "Subscribe to continue reading."
    assert "refused" in items[TITLES["private"]]["article_error"]
    fetched = sum(value == "ok" for value in status.values())
    assert facts == {"articles_fetched": fetched, "articles_failed": 6 - fetched}
    assert changes == []
    assert again is None  # every item was tried once: none is fetched again
    assert "/a/secret" not in requests and "/a/robots" not in requests
    assert requests.count("/a/good") == 1 and requests.count("/robots.txt") == 1


def urlsplit_path(path: str) -> str:
    return path.split("?", 1)[0]


def candidate(
    url: str, title: str = "Taliban meet in Doha", feeds: tuple[str, ...] = ()
) -> ArticleCandidate:
    return ArticleCandidate(1, url, ItemText(title, ""), feeds or ("http://f.example/rss",))


def test_only_short_fetchable_items_of_feeds_with_article_text_on_are_chosen() -> None:
    google = "https://news.google.com/rss/articles/CBMiNEFVX3lxTE14N3JUMGQya1Z?oc=5"
    long_title = " ".join(["Taliban"] * 45)
    chosen, skipped = articletext.choose(
        [
            candidate("https://outlet.example/a"),
            candidate(google),
            candidate("https://outlet.example/b", long_title),
            candidate("https://outlet.example/c", feeds=("http://off.example/rss",)),
            candidate("https://outlet.example/d"),
        ],
        40,
        frozenset({"http://off.example/rss"}),
        limit=1,
    )
    assert [c.url for c in chosen] == ["https://outlet.example/a"]  # d waits: the limit
    assert [r.error for r in skipped] == [
        "the link leads to the article only through the aggregator's script",
        "the feed's text is long enough to decide",
        "article_text is off for its feeds",
    ]


def test_a_page_in_another_encoding_than_declared_is_read_in_its_own() -> None:
    sentence = "Le ministre a déclaré à Kaboul que la réunion aura lieu à Doha. "
    page = (
        '<html><head><meta charset="utf-8"><title>Réunion</title></head><body>'
        f"<article><p>{sentence * 12}</p></article></body></html>"
    )
    text = page_text(page.encode("cp1252"), "text/html; charset=utf-8")
    assert "déclaré à Kaboul" in text and "\ufffd" not in text
    assert page_text(page.encode("utf-8"), "text/html") == text


NEAR = "Washington weighs technical mission in Kabul, officials say"  # dev item d08's title
FAR = "Washington weighs new rules for football stadiums"


def test_an_item_near_a_seed_but_not_relevant_is_chosen_and_others_skipped() -> None:
    topics = load_topic_set(ROOT / "config" / "topics", ROOT / "seeds")

    def is_near(text: ItemText) -> bool:
        return articletext.near_seed(topics.decide(text))

    near = replace(candidate("https://outlet.example/near", NEAR), relevant=False)
    far = replace(candidate("https://outlet.example/far", FAR), item_id=2, relevant=False)
    relevant = replace(candidate("https://outlet.example/r"), item_id=3)

    chosen, skipped = articletext.choose([relevant, near, far], 40, frozenset(), 5, is_near)

    assert [c.url for c in chosen] == ["https://outlet.example/r", "https://outlet.example/near"]
    assert [(r.item_id, r.error) for r in skipped] == [
        (2, "not relevant to a topic, nor near its seed article")
    ]
    # Neither is relevant on its title; only the near one shares the seed's terms.
    assert not any(d.relevant for d in topics.assess(near.text))
    assert [len(d.seed_terms) for d in topics.decide(near.text)] == [2]
    assert articletext.choose([near], 40, frozenset(), 5)[1][0].status == "skipped"


@pytest.mark.slow  # a poll through the parse workers
@pytest.mark.usefixtures("public_loopback")
def test_the_page_of_an_item_near_the_seed_is_fetched_and_flags_it(tmp_path: Path) -> None:
    html = {"Content-Type": "text/html; charset=utf-8"}
    with LocalServer() as server:
        server.route("/a/near", Reply(body=PAGE.encode(), headers=html))
        server.route("/a/far", Reply(body=PAGE.encode(), headers=html))
        items = "".join(
            f"<item><title>{title}</title><link>{server.url('/a/' + name)}</link>"
            f"<guid>{name}</guid><pubDate>Sun, 06 Dec 2026 10:00:00 GMT</pubDate></item>"
            for name, title in (("near", NEAR), ("far", FAR))
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>O</title>{items}'
        body += "</channel></rss>"
        server.route("/feed.xml", Reply(body=body.encode(), headers={"Content-Type": "text/xml"}))
        path = make_project(
            tmp_path, [server.url("/feed.xml")], extra_settings="article_text = true"
        )
        with polled(tmp_path, path) as (_, cycle):
            facts = fetch_article_text(cycle)
        requests = [urlsplit_path(r.path) for r in server.received]

    with sqlite3.connect(tmp_path / "db" / "tracker.db") as conn:
        conn.row_factory = sqlite3.Row
        found = {r["title"]: r for r in conn.execute("SELECT * FROM items")}
        flags = {r["title"]: r["reasons"] for r in conn.execute("SELECT * FROM flagged")}
    assert facts == {"articles_fetched": 1, "articles_failed": 0}
    assert "/a/near" in requests and "/a/far" not in requests
    assert found[NEAR]["article_status"] == "ok"
    assert (found[FAR]["article_status"], found[FAR]["article_error"]) == (
        "skipped",
        "not relevant to a topic, nor near its seed article",
    )
    assert "decided with the article's text from its page" in flags[NEAR]
    assert set(flags) == {NEAR}
