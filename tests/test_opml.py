"""OPML import and export: what feed readers hand us, and what we hand back."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tracker import config
from tracker import opml as opml_module
from tracker.errors import ConfigError
from tracker.models import FeedConfig
from tracker.opml import read_opml, write_opml

DATA = Path(__file__).parent / "data" / "opml"
GOOGLE_NEWS = (
    "https://news.google.com/rss/search?q=%22Taliban%22+%22United+States%22"
    "&hl=en-US&gl=US&ceid=US:en"
)


def opml(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<opml version="2.0"><head><title>t</title></head><body>{body}</body></opml>'
    ).encode()


def test_round_trip_keeps_urls_names_and_languages() -> None:
    feeds = [
        FeedConfig(url="https://tolonews.com/rss.xml", name="TOLOnews", language="en"),
        FeedConfig(url=GOOGLE_NEWS, name='Google News: "Taliban" & <US>', language="en"),
        FeedConfig(url="https://feeds.bbci.co.uk/pashto/rss.xml", name="بي بي سي پښتو"),
        FeedConfig(url="http://example.org/feed"),
    ]

    back = read_opml(write_opml(feeds))

    assert back == [
        feeds[0],
        feeds[1],
        feeds[2],
        FeedConfig(url="http://example.org/feed", name="http://example.org/feed"),
    ]


def test_written_document_is_opml_2_in_utf8() -> None:
    data = write_opml(
        [FeedConfig(url="https://tass.ru/rss/v2.xml", name="ТАСС", language="ru")],
        title="my feeds",
    )

    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(data)
    assert root.tag == "opml"
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "my feeds"
    [outline] = root.findall("body/outline")
    assert outline.attrib == {
        "type": "rss",
        "text": "ТАСС",
        "title": "ТАСС",
        "xmlUrl": "https://tass.ru/rss/v2.xml",
        "language": "ru",
    }


def test_names_with_control_characters_still_make_readable_opml() -> None:
    data = write_opml([FeedConfig(url="https://a.example/feed", name="bad\x0bname\x00")])

    assert read_opml(data) == [FeedConfig(url="https://a.example/feed", name="badname")]


def test_feeds_are_found_in_nested_folders_in_document_order() -> None:
    data = opml(
        '<outline text="A"><outline text="B">'
        '<outline text="deep" xmlUrl="https://deep.example/feed"/></outline>'
        '<outline text="shallow" xmlUrl="https://shallow.example/feed"/></outline>'
        '<outline text="top" xmlUrl="https://top.example/feed"/>'
    )

    assert [feed.name for feed in read_opml(data)] == ["deep", "shallow", "top"]


def test_a_feedly_style_export_with_folders() -> None:
    path = DATA / "sample.opml"

    feeds = read_opml(path.read_bytes(), source=str(path))

    assert [(feed.name, feed.url) for feed in feeds] == [
        ("TOLOnews", "https://tolonews.com/rss.xml"),
        ("Khaama Press", "https://www.khaama.com/feed/"),
        ("BBC News پښتو - کور", "https://feeds.bbci.co.uk/pashto/rss.xml"),
        ("Afghanistan Analysts Network - English", "https://www.afghanistan-analysts.org/en/feed/"),
        ("FDD's Long War Journal", "https://www.longwarjournal.org/feed"),
        ("BBC News", "https://feeds.bbci.co.uk/news/world/asia/rss.xml"),
        (
            "Al Jazeera – Breaking News, World News and Video from Al Jazeera",
            "https://www.aljazeera.com/xml/rss/all.xml",
        ),
        ('"Taliban" "United States" - Google News', GOOGLE_NEWS),
        ("ТАСС", "https://tass.ru/rss/v2.xml"),
        ("NPR Topics: World", "https://feeds.npr.org/1004/rss.xml"),
    ]


def test_imported_feeds_are_accepted_by_the_config(tmp_path: Path) -> None:
    path = tmp_path / "tracker.toml"
    path.write_text("[settings]\n", encoding="utf-8")
    feeds = read_opml((DATA / "sample.opml").read_bytes())

    for feed in feeds:
        config.add_feed(path, feed)

    assert config.load_config(path).feeds == tuple(feeds)


def test_the_same_feed_in_two_folders_is_listed_once() -> None:
    data = opml(
        '<outline text="A"><outline text="first" xmlUrl="https://x.example/feed"/></outline>'
        '<outline text="B"><outline text="second" xmlUrl="https://x.example/feed"/></outline>'
    )

    assert read_opml(data) == [FeedConfig(url="https://x.example/feed", name="first", folder="A")]


def test_folders_are_read_nested_and_written_back() -> None:
    data = opml(
        '<outline text="World"><outline title="Asia / Pacific" text="x">'
        '<outline text="deep" xmlUrl="https://deep.example/feed"/></outline>'
        '<outline text="shallow" xmlUrl="https://shallow.example/feed"/></outline>'
        '<outline text="top" xmlUrl="https://top.example/feed"/>'
    )

    feeds = read_opml(data)
    assert [(f.name, f.folder) for f in feeds] == [
        ("deep", "World/Asia - Pacific"),
        ("shallow", "World"),
        ("top", ""),
    ]
    written = write_opml(feeds)
    assert read_opml(written) == feeds
    body = ET.fromstring(written).find("body")
    assert body is not None
    assert [o.get("text") for o in body.findall("outline")] == ["World", "top"]


def test_unnamed_feeds_are_exported_with_their_known_title_else_their_url() -> None:
    feeds = [
        FeedConfig(url="https://a.example/feed"),
        FeedConfig(url="https://b.example/feed"),
        FeedConfig(url="https://c.example/feed", name="Own name"),
    ]
    titles = {"https://a.example/feed": "A Daily", "https://c.example/feed": "C's title"}

    back = read_opml(write_opml(feeds, feed_titles=titles))

    assert [f.name for f in back] == ["A Daily", "https://b.example/feed", "Own name"]


def test_folders_survive_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "tracker.toml"
    path.write_text("[settings]\n", encoding="utf-8")
    config.add_feed(path, FeedConfig(url="https://a.example/feed", folder="World/Asia"))

    assert config.load_config(path).feeds[0].folder == "World/Asia"


def test_name_falls_back_to_text_and_language_is_read() -> None:
    data = opml(
        '<outline text="  Text\n  name " xmlUrl="https://a.example/feed" language="ps"/>'
        '<outline text="ignored" title="Title" xmlUrl="https://b.example/feed"/>'
        '<outline xmlUrl="https://c.example/feed"/>'
    )

    assert read_opml(data) == [
        FeedConfig(url="https://a.example/feed", name="Text name", language="ps"),
        FeedConfig(url="https://b.example/feed", name="Title"),
        FeedConfig(url="https://c.example/feed"),
    ]


def test_attribute_case_and_scheme_case_are_forgiven() -> None:
    data = opml('<outline text="x" XMLURL="  HTTPS://Example.org/Feed  "/>')

    assert read_opml(data) == [FeedConfig(url="https://Example.org/Feed", name="x")]


def test_outlines_without_xmlurl_are_skipped() -> None:
    data = opml(
        '<outline text="folder"/>'
        '<outline text="a web page" type="link" url="https://example.org/"/>'
        '<outline text="site only" htmlUrl="https://example.org/"/>'
        '<outline text="empty" xmlUrl=""/>'
        '<outline text="kept" xmlUrl="https://example.org/feed"/>'
    )

    assert [feed.name for feed in read_opml(data)] == ["kept"]


@pytest.mark.parametrize(
    "url",
    [
        "feed://example.org/rss",
        "ftp://example.org/rss.xml",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.org/rss",
        "https://",
        "https://exa mple.org/rss",
    ],
)
def test_non_http_urls_are_skipped(url: str) -> None:
    data = opml(
        f'<outline text="bad" xmlUrl="{url}"/><outline text="ok" xmlUrl="http://ok.example/"/>'
    )

    assert read_opml(data) == [FeedConfig(url="http://ok.example/", name="ok")]


def test_an_opml_without_body_has_no_feeds() -> None:
    assert read_opml(b'<opml version="2.0"><head/></opml>') == []


@pytest.mark.parametrize(
    "data",
    [
        b'<opml version="2.0"><body><outline text="x" xmlUrl="https://a/"></body></opml>',
        b"",
        b"not xml at all",
        b"\x89PNG\r\n\x1a\n\x00\x00",
    ],
)
def test_malformed_xml_is_a_config_error_naming_the_file(data: bytes) -> None:
    with pytest.raises(ConfigError, match=r"^subscriptions\.opml:") as caught:
        read_opml(data, source="subscriptions.opml")

    assert caught.value.path == "subscriptions.opml"
    assert "not well-formed XML" in str(caught.value)


def test_malformed_xml_error_gives_the_line() -> None:
    data = b'<?xml version="1.0"?>\n<opml>\n<body>\n<outline text="x"></body>\n</opml>\n'

    with pytest.raises(ConfigError) as caught:
        read_opml(data, source="feeds.opml")

    assert caught.value.line == 4
    assert str(caught.value).startswith("feeds.opml:4: not well-formed XML")


def test_a_feed_document_is_not_opml() -> None:
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'

    with pytest.raises(
        ConfigError, match=r"^feed\.xml: not an OPML document \(root element <rss>\)"
    ):
        read_opml(rss, source="feed.xml")


BILLION_LAUGHS = """<?xml version="1.0" encoding="{encoding}"?>
<!DOCTYPE opml [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<opml version="2.0"><body><outline text="&h;" xmlUrl="https://a.example/&h;"/></body></opml>
"""


@pytest.mark.parametrize(
    ("encoding", "codec"),
    [("UTF-8", "utf-8"), ("UTF-16", "utf-16"), ("UTF-16", "utf-16-le"), ("UTF-16", "utf-16-be")],
)
def test_an_entity_bomb_is_refused_at_once(encoding: str, codec: str) -> None:
    data = BILLION_LAUGHS.format(encoding=encoding).encode(codec)
    started = time.perf_counter()

    with pytest.raises(ConfigError, match=r"^bomb\.opml: refusing .* DOCTYPE"):
        read_opml(data, source="bomb.opml")

    assert time.perf_counter() - started < 1.0


def test_external_entities_are_refused() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/"/></body></opml>'
    )

    with pytest.raises(ConfigError, match="DOCTYPE"):
        read_opml(data, source="x.opml")


def test_a_plain_doctype_is_refused_too() -> None:
    data = b'<!DOCTYPE opml>\n<opml version="2.0"><body/></opml>'

    with pytest.raises(ConfigError, match="DOCTYPE"):
        read_opml(data)


def test_the_parser_refuses_a_doctype_the_text_scan_missed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opml_module, "_scannable_text", lambda data: "")
    data = BILLION_LAUGHS.format(encoding="UTF-8").encode()

    with pytest.raises(ConfigError, match=r"^bomb\.opml: refusing .* DOCTYPE"):
        read_opml(data, source="bomb.opml")
