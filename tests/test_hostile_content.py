"""Hostile documents, through the real poll pipeline into a real SQLite file.

Entity bombs and external entities, bodies that name local files, broken bytes and
lying charsets, items without keys, impossible dates, control characters, huge and
deeply nested items, documents with thousands of items, truncated documents and feeds
whose guids or text change on every poll. Each test asserts its figure: milliseconds,
rows, error kinds, stored sizes. Scaled down here (a 1 MB item, 3,000 items); the
full-size runs (10 MB, 100,000 items) are in ``benchmarks/hostile.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile import (
    FAST,
    MESSAGE_LIMIT,
    Entry,
    Harness,
    RawServer,
    assert_failed_cleanly,
    make_all_due,
    news,
    respond,
    rss,
    service_for,
    watch_project,
)

from tracker.errors import ParseError, TopicError
from tracker.matching import TopicMatcher
from tracker.models import MIB, ItemText
from tracker.parse import parse_feed
from tracker.poll import ParsePool
from tracker.topics import load_topic

# Every test here polls through the parse worker processes: the slow tier.
pytestmark = pytest.mark.slow

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "TOPSECRET-7f3a"


def serve(server: RawServer, harness: Harness, body: bytes, **headers: str) -> str:
    """Serve ``body`` at a new path; configure it as a feed; return its URL."""
    path = f"/f{len(harness.feeds)}"
    server.route(path, respond(body, headers=headers))
    harness.add(server.url(path))
    return server.url(path)


def texts(harness: Harness) -> str:
    """Every text value in the database, to look for what must not be there."""
    return "\n".join(harness.store.conn.iterdump())


# ---- entities, DTDs, local files -------------------------------------------------------------


def entity_documents(secret_file: Path) -> dict[str, bytes]:
    laughs = '<!ENTITY a0 "ha">' + "".join(
        f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10)
    )
    big = "A" * 100_000
    head = '<?xml version="1.0"?>'
    body = (
        '<rss version="2.0"><channel><title>t</title><item><title>{}</title></item></channel></rss>'
    )
    return {
        "billion laughs": f"{head}<!DOCTYPE rss [{laughs}]>{body.format('&a9;')}",
        "quadratic blowup": f'{head}<!DOCTYPE rss [<!ENTITY big "{big}">]>'
        + body.format("&big;" * 10_000),
        "external entity": f'{head}<!DOCTYPE rss [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>'
        + body.format("&x;"),
        "parameter entity": f'{head}<!DOCTYPE rss [<!ENTITY % p SYSTEM "{secret_file.as_uri()}">'
        f" %p;]>{body.format('x')}",
        "declaration after padding": f"{head}{' ' * 200_000}<!DOCTYPE rss "
        f'[<!ENTITY x "{SECRET}">]>{body.format("&x;")}',
    }


def test_entity_declarations_are_refused_in_milliseconds_and_recorded(
    server: RawServer, harness: Harness, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    documents = entity_documents(secret_file)
    for name, document in documents.items():
        started = time.perf_counter()
        with pytest.raises(ParseError) as refused:
            parse_feed(document.encode(), {}, "http://127.0.0.1/", NOW)
        elapsed_ms = 1000 * (time.perf_counter() - started)
        assert refused.value.kind == "entities", name
        assert elapsed_ms < 50, f"{name}: refused in {elapsed_ms:.1f} ms"

    urls = [serve(server, harness, document.encode()) for document in documents.values()]
    cycle = harness.poll()
    for url in urls:
        assert_failed_cleanly(harness, url, "entities", items_before=0)
    assert cycle.elapsed < 3.0
    assert SECRET not in texts(harness)


def test_external_dtd_and_files_are_never_read(
    server: RawServer, harness: Harness, tmp_path: Path
) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak "{SECRET}">')
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(f"<rss version='2.0'><channel><title>{SECRET}</title></channel></rss>")
    documents = [
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd.as_uri()}"><rss version="2.0">'
        "<channel><title>t &leak;</title><item><guid>1</guid><title>x &leak;</title></item>"
        "</channel></rss>",
        '<rss version="2.0" xmlns:xi="http://www.w3.org/2001/XInclude"><channel><title>t'
        f'</title><item><guid>2</guid><title>x</title><description><xi:include href="'
        f'{secret_file.as_uri()}" parse="text"/></description></item></channel></rss>',
    ]
    for document in documents:
        serve(server, harness, document.encode())
    local_paths = [str(secret_file), secret_file.as_uri(), f"  {secret_file}\n"]
    path_urls = [serve(server, harness, path.encode()) for path in local_paths]

    harness.poll()

    assert SECRET not in texts(harness)
    assert harness.count("SELECT COUNT(*) FROM items") == 2
    for url in path_urls:
        assert_failed_cleanly(harness, url, "not_a_feed", items_before=0)


# ---- bytes and charsets --------------------------------------------------------------------


def test_one_bad_byte_does_not_turn_the_document_to_mojibake(
    server: RawServer, harness: Harness
) -> None:
    titles = ["Талибы и США провели переговоры", "طالبان و آمریکا", "Taliban talks"]
    body = rss([Entry(f"g{n}", title, f"http://o.example/{n}") for n, title in enumerate(titles)])
    broken = body.replace(b"o.example", b"other.example").replace(
        "переговоры".encode(), "переговоры".encode() + b"\xff", 1
    )
    lying = serve(server, harness, body, **{"Content-Type": "application/rss+xml; charset=latin-1"})
    damaged = serve(server, harness, broken)

    harness.poll()

    stored = {row[0] for row in harness.store.conn.execute("SELECT title FROM items")}
    assert set(titles) <= stored, stored
    assert any("\ufffd" in title for title in stored), "the bad byte was not replaced"
    assert "Ð" not in "".join(stored), "mojibake: UTF-8 read as Latin-1"
    for url in (lying, damaged):
        feed = harness.feed(url)
        assert feed["last_error"] is None
        assert feed["last_warning"] and len(feed["last_warning"]) <= MESSAGE_LIMIT
        assert harness.last_poll(url)["warnings"]


def test_nul_and_control_characters_are_stripped(server: RawServer, harness: Harness) -> None:
    nasty = "Kabul\x00 talks\x01\x08 \x1b[31mred\x1b[0m \x7f\x85end"
    document = rss([Entry("g\x00uid", nasty, "http://o.example/1", summary=nasty)])
    serve(server, harness, document)
    harness.poll()
    title, summary, key = harness.store.conn.execute(
        "SELECT title, summary, entry_key FROM items JOIN item_feeds ON item_id = items.id"
    ).fetchone()
    for value in (title, summary, key):
        assert not any(
            (ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F for ch in value
        )
    assert title.startswith("Kabul talks") and title.endswith("end")


# ---- keys, duplicates and dates ---------------------------------------------------------------


def test_items_without_guid_link_or_date_get_stable_keys(
    server: RawServer, harness: Harness
) -> None:
    keyless = [Entry(None, f"Untitled brief {n}", summary=f"Text {n}") for n in range(5)]
    url = serve(server, harness, rss(keyless))
    polls = [harness.poll().summary for _ in range(3)]
    assert [p.new_items for p in polls] == [5, 0, 0]
    assert harness.items(url) == 5
    assert harness.count("SELECT COUNT(*) FROM items") == 5


def test_duplicate_guids_in_one_document_keep_the_feed_working(
    server: RawServer, harness: Harness
) -> None:
    repeated = [Entry("same", f"Version {n}", f"http://o.example/{n}") for n in range(4)]
    url = serve(server, harness, rss([*repeated, *news(2)]))
    harness.poll()
    assert harness.feed(url)["last_error"] is None
    assert harness.items(url) == 3
    assert "repeating an earlier key" in harness.last_poll(url)["warnings"]


ODD_DATES = [
    "1700000000",
    "Fri, 01 Jan 2099 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "0000-00-00T00:00:00Z",
    "Mon, 30 Feb 2026 10:00:00 GMT",
    "yesterday",
    "9" * 40,
]


def test_impossible_or_epoch_dates_never_sort_above_real_news(
    server: RawServer, harness: Harness
) -> None:
    odd = [
        Entry(f"odd{n}", f"Odd {n}", f"http://o.example/odd{n}", date=date)
        for n, date in enumerate(ODD_DATES)
    ]
    url = serve(server, harness, rss(odd))
    harness.clock = lambda: NOW
    harness.poll()
    real = Entry("real", "Real news", "http://o.example/real", date="Mon, 02 Mar 2026 12:30:00 GMT")
    server.route("/f0", respond(rss([*odd, real])))
    harness.clock = lambda: NOW + timedelta(hours=1)
    harness.poll()

    rows = harness.store.conn.execute(
        "SELECT title, published, date_estimated, first_seen_at FROM items ORDER BY published DESC"
    ).fetchall()
    assert harness.items(url) == len(ODD_DATES) + 1
    assert rows[0]["title"] == "Real news" and rows[0]["date_estimated"] == 0
    for row in rows[1:]:
        assert row["date_estimated"] == 1, row["title"]
        assert row["published"] == row["first_seen_at"] == NOW.isoformat(), row["title"]


# ---- huge and costly documents ---------------------------------------------------------------


def dense_html(chars: int) -> str:
    unit = "<p><b>Kabul</b> <i>talks</i> <a href='/l'>more</a> <span>x</span></p>"
    return (unit * (chars // len(unit) + 1))[:chars]


def test_huge_dense_item_is_capped_truncated_and_parsed_in_bounded_time(
    server: RawServer, harness: Harness
) -> None:
    huge = Entry("huge", "Huge", "http://o.example/huge", summary=dense_html(1_000_000))
    deep = "<![CDATA[" + "<div>" * 50_000 + "deep" + "</div>" * 50_000 + "]]>"
    nested = Entry("deep", "Deep", "http://o.example/deep", summary=deep, raw=True)
    url = serve(server, harness, rss([huge, nested, *news(3)]))
    harness.settings = replace(FAST, max_bytes=4 * MIB)
    measured = harness.poll()
    assert measured.elapsed < 5.0, f"{measured.elapsed:.2f}s"
    assert harness.items(url) == 5
    longest, truncated = harness.store.conn.execute(
        "SELECT MAX(LENGTH(summary) + LENGTH(content)), SUM(truncated) FROM items"
    ).fetchone()
    assert longest <= 2 * 200_000, longest
    assert truncated >= 1


def test_deeply_nested_xml_is_parsed_in_bounded_time(server: RawServer, harness: Harness) -> None:
    deep = "<x>" * 20_000 + "</x>" * 20_000
    document = rss(news(2)).replace(b"</channel>", deep.encode() + b"</channel>")
    url = serve(server, harness, document)
    measured = harness.poll()
    assert measured.elapsed < 5.0
    assert harness.items(url) == 2
    assert harness.feed(url)["last_error"] is None


def test_thousands_of_items_are_capped_per_poll(server: RawServer, harness: Harness) -> None:
    url = serve(server, harness, rss(news(3000)))
    harness.settings = replace(FAST, max_items_per_poll=500)
    measured = harness.poll()
    assert harness.items(url) == 500
    assert "beyond max_items=500: 2500" in harness.last_poll(url)["warnings"]
    assert measured.elapsed < 5.0, f"{measured.elapsed:.2f}s"


def test_a_runaway_parse_is_killed_and_the_cycle_goes_on(
    server: RawServer, harness: Harness
) -> None:
    # RSS 0.91 goes to feedparser (no fast path), which needs seconds for 6,000 items.
    slow = serve(server, harness, rss(news(6000)).replace(b'version="2.0"', b'version="0.91"'))
    fine = serve(server, harness, rss(news(3, "fine")))
    harness.settings = replace(FAST, parse_timeout=0.3)
    measured = harness.poll()
    assert_failed_cleanly(harness, slow, "parse_timeout", items_before=0)
    assert harness.items(fine) == 3
    assert measured.elapsed < FAST.deadline + 3.0, f"{measured.elapsed:.2f}s"


def test_json_nesting_bomb_is_not_a_feed(server: RawServer, harness: Harness) -> None:
    url = serve(server, harness, b'{"items": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    measured = harness.poll()
    assert_failed_cleanly(harness, url, "not_a_feed", items_before=0)
    assert measured.elapsed < 3.0


def test_thousand_terms_on_a_megabyte_item_cannot_blow_up(tmp_path: Path) -> None:
    """No term is a pattern, so no text makes matching backtrack: a megabyte takes
    about a tenth of a second (benchmarks/match_speed.py measures speed), and the
    bound below is only there to catch a blow-up, on however loaded a machine."""
    terms = [f"term{n} word{n}" if n % 3 else f"pre{n}*" for n in range(1000)]
    terms += ["(a+)+$", "(x+x+)+y", "Taliban"]  # regex syntax is only punctuation here
    half = len(terms) // 2
    groups = [", ".join(json.dumps(t) for t in part) for part in (terms[:half], terms[half:])]
    path = tmp_path / "big.toml"
    path.write_text(
        f'name = "big"\n[groups.a]\nterms = [{groups[0]}]\n[groups.b]\nterms = [{groups[1]}]\n'
        '[rule]\nall_of = ["a", "b"]\nwithin = 40\n'
    )
    matcher = TopicMatcher(load_topic(path))
    words = ["the", "Taliban", "term5", "word5", "pre7x", "a" * 30, "(a+)+", "news"]
    text = " ".join(words[n % len(words)] for n in range(200_000))[:1_000_000]
    evil = "a" * 100_000 + "!" + "x" * 100_000 + "y"
    started = time.perf_counter()
    decision = matcher.decide(ItemText("Taliban", evil, text))
    elapsed = time.perf_counter() - started
    assert decision.matches
    assert elapsed < 10.0, f"{elapsed:.2f}s for 1,000 terms against 1.2 MB"
    path.write_text('name = "re"\n[groups.a]\nterms = [".*(a+)*"]\n[rule]\nall_of = ["a"]\n')
    with pytest.raises(TopicError, match=r"\*"):
        load_topic(path)  # a pattern cannot even be configured


# ---- documents that shrink, change or break ----------------------------------------------------


def test_truncated_or_shrunk_documents_never_delete_items(
    server: RawServer, harness: Harness
) -> None:
    full = rss(news(10))
    url = serve(server, harness, full)
    harness.poll()
    assert harness.items(url) == 10

    server.route("/f0", respond(full[: len(full) // 2]))
    harness.poll()
    assert harness.items(url) == 10
    server.route("/f0", respond(rss(news(2))))
    harness.poll()
    server.route("/f0", respond(b"<rss"))
    harness.poll()
    assert harness.items(url) == 10, "items that left the feed were deleted"
    assert harness.count("SELECT COUNT(*) FROM items") == 10


def test_guids_and_text_that_change_on_every_poll_do_not_alert_again(
    tmp_path: Path, pool: ParsePool, server: RawServer
) -> None:
    server.route("/hook", respond(b"", 204))
    config = watch_project(tmp_path, [server.url("/feed")])
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[[alerts]]\ntype = "webhook"\nurl = "{server.url("/hook")}"\n')
    backlog = Entry("b", "Old Taliban story", "http://o.example/old")
    server.route("/feed", respond(rss([backlog])))
    service = service_for(config, pool)
    try:
        asyncio.run(service.cycle())  # the first poll is backlog: never alerted
        for poll in range(5):
            fresh = Entry(
                f"guid-{poll}",  # a new guid every time, and new text
                "Taliban envoy arrives" + (" (updated)" if poll % 2 else ""),
                f"http://o.example/news?utm_source=rss&utm_content={poll}",
                summary=f"Updated at 10:{poll:02d}.",
            )
            server.route("/feed", respond(rss([backlog, fresh])))
            make_all_due(service.store)
            asyncio.run(service.cycle())
    finally:
        service.store.close()
    assert server.hits("/hook") == 1, "the same story was alerted more than once"
