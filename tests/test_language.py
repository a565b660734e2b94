"""The language of each item (#19): detected from its text, the declared one as a hint."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tracker.parse import parse_feed
from tracker.parse.language import item_language, language_code

DATA = Path(__file__).parent / "data"
NOW = datetime(2021, 9, 20, 12, 0, tzinfo=UTC)


def labeled_items() -> list[tuple[str, str, str, str]]:
    """(id, language, title, summary) of the non-English labeled items."""
    found = []
    for name in ("dev-labeled.yaml", "heldout-written.yaml"):
        document = yaml.safe_load((DATA / "eval" / name).read_text(encoding="utf-8"))
        for item in document["items"]:
            if item.get("lang", "en") != "en":
                found.append((item["id"], item["lang"], item["title"], item.get("summary", "")))
    return found


LABELED = labeled_items()
IDS = [item[0] for item in LABELED]
ARABIC_SCRIPT = [item for item in LABELED if item[1] in {"fa", "ps", "ur"}]


def test_the_labeled_set_has_the_languages_the_monitor_reads() -> None:
    assert {language for _, language, _, _ in LABELED} >= {"ru", "fa", "ps", "ur"}


@pytest.mark.parametrize(("item_id", "language", "title", "summary"), LABELED, ids=IDS)
def test_labeled_items_are_detected_with_their_feeds_language_as_hint(
    item_id: str, language: str, title: str, summary: str
) -> None:
    assert item_language(title, summary, language) == language
    assert item_language(title, "", language) == language  # the title alone


@pytest.mark.parametrize(
    ("item_id", "language", "title", "summary"), ARABIC_SCRIPT, ids=[i[0] for i in ARABIC_SCRIPT]
)
def test_persian_and_pashto_are_told_apart_even_under_the_other_ones_hint(
    item_id: str, language: str, title: str, summary: str
) -> None:
    other = {"fa": "ps", "ps": "fa", "ur": "fa"}[language]
    assert item_language(title, summary, other) == language


CASES = [
    # (title, summary, declared, expected, why)
    (
        "Die Regierung in Kabul hat am Sonntag neue Minister ernannt",
        "",
        "en",
        "de",
        "the text wins over a wrong declaration",
    ),
    (
        "Kabul airport reopens to international flights after weeks",
        "",
        "fa",
        "en",
        "an English item in a Persian aggregator feed",
    ),
    ("Live", "", "en-GB", "en", "too short: the declared language, as a code"),
    ("Breaking", "", "hindi", "", "too short and a declaration that is no language tag"),
    ("Taliban", "", "", "", "too short, nothing declared"),
    ("Ειδήσεις", "", "", "el", "a script of one language decides, however short"),
    ("서울에서 회담이 열렸다", "", "en", "ko", "Hangul"),
    ("東京で会談が行われた", "", "zh", "ja", "kana"),
    ("阿富汗塔利班政府宣布新内阁成员", "", "", "zh", "Chinese characters alone: CLD2"),
    ("The talks in Doha ended on Sunday with a statement", "", "", "en", "common English words"),
    ("x\x00y\x01z " * 20, "", "fa", "fa", "control characters: the hint, no error"),
    ("\ud800 lone surrogate " * 8, "", "ps", "ps", "text CLD2 cannot take: the hint"),
]


@pytest.mark.parametrize(("title", "summary", "declared", "expected", "why"), CASES)
def test_item_language(title: str, summary: str, declared: str, expected: str, why: str) -> None:
    assert item_language(title, summary, declared) == expected, why


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en-GB", "en"),
        ("fa_IR", "fa"),
        (" PS ", "ps"),
        ("iw", "he"),
        ("prs", "prs"),
        ("hindi", ""),
        ("", ""),
        ("x-klingon", ""),
    ],
)
def test_language_codes_from_declared_tags(tag: str, code: str) -> None:
    assert language_code(tag) == code


def test_a_mixed_language_aggregator_feed_labels_each_item() -> None:
    body = (DATA / "aggregators" / "bing-news-search.xml").read_bytes()
    body = body.replace(b"<channel>", b"<channel><language>fa-IR</language>", 1)
    feed = parse_feed(body, {}, "https://www.bing.com/news/search?q=x&format=rss", NOW)
    assert feed.language == "fa-ir"  # the feed keeps what it declares
    assert [item.language for item in feed.items] == ["en", "fa", "en", "en"]


def test_a_configured_language_is_the_hint_when_the_document_declares_none() -> None:
    body = (
        b'<rss version="2.0"><channel><title>Search</title><item><guid>1</guid>'
        b"<title>\xd8\xb7\xd8\xa7\xd9\x84\xd8\xa8\xd8\xa7\xd9\x86</title></item></channel></rss>"
    )  # one short word, "Taliban" in Arabic script: too short to tell fa from ps or ar
    headers = {"Content-Language": "ar"}
    url = "https://feeds.example.com/f"
    assert parse_feed(body, headers, url, NOW, language="ps").items[0].language == "ps"
    assert parse_feed(body, headers, url, NOW).items[0].language == "ar"
    declared = body.replace(b"<channel>", b"<channel><language>fa</language>")
    assert parse_feed(declared, headers, url, NOW, language="ps").items[0].language == "fa"


def test_items_stored_unchanged_are_not_detected_again(monkeypatch: pytest.MonkeyPatch) -> None:
    body = (DATA / "aggregators" / "bing-news-search.xml").read_bytes()
    body = body.replace(b"<channel>", b"<channel><language>fa-IR</language>", 1)
    url = "https://www.bing.com/news/search?q=x&format=rss"
    first, second, third, fourth = parse_feed(body, {}, url, NOW).items
    assert [first.language, second.language] == ["en", "fa"]
    detected: list[str] = []

    def counted(title: str, summary: str, declared: str) -> str:
        detected.append(title)
        return item_language(title, summary, declared)

    monkeypatch.setattr("tracker.parse.items.item_language", counted)
    # the first stored unchanged, the second changed since, the third with another key
    known = {first.key: first.content_hash, second.key: "an older version", "gone": "x"}
    again = parse_feed(body, {}, url, NOW, known=known).items
    assert detected == [second.title, third.title, fourth.title]
    assert [item.language for item in again] == ["fa", "fa", "en", "en"]  # the first: declared
    assert [item.content_hash for item in again] == [
        item.content_hash for item in (first, second, third, fourth)
    ]
