"""parse_feed: small inline documents -> expected items, hostile input, and the real corpus."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import feedparser
import pytest

from tracker.errors import ParseError
from tracker.models import ParsedFeed, ParsedItem
from tracker.parse import fastpath as fastxml
from tracker.parse import htmltext as parse_module
from tracker.parse import parse_feed

CORPUS = Path(__file__).parent / "data" / "corpus"
NOW = datetime(2021, 9, 20, 12, 0, tzinfo=UTC)
URL = "https://news.example.com/feed.xml"
RSS_HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def parse(body: bytes | str, headers: dict[str, str] | None = None, **kw: Any) -> ParsedFeed:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return parse_feed(data, headers if headers is not None else {}, URL, NOW, **kw)


def only_item(body: bytes | str, **kw: Any) -> ParsedItem:
    feed = parse(body, **kw)
    assert len(feed.items) == 1, feed.items
    return feed.items[0]


def rss(items: str, channel: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>News</title><link>https://news.example.com/</link>{channel}{items}"
        "</channel></rss>"
    )


def assert_fields(item: ParsedItem, expected: dict[str, Any]) -> None:
    actual = {name: getattr(item, name) for name in expected}
    assert actual == expected


# --- formats ------------------------------------------------------------------------------

RSS20 = rss(
    """<item>
      <title>Taliban name new government</title>
      <link>https://news.example.com/world/1?utm_source=rss&amp;id=9#top</link>
      <guid isPermaLink="false">story-1</guid>
      <description>&lt;p&gt;The group &lt;b&gt;announced&lt;/b&gt; a cabinet.&lt;/p&gt;
      </description>
      <content:encoded><![CDATA[<p>Full <em>text</em> of the story.</p>
        <p>Second paragraph.</p>]]></content:encoded>
      <dc:creator>Jane Reporter</dc:creator>
      <pubDate>Tue, 07 Sep 2021 18:30:00 +0200</pubDate>
    </item>""",
    channel="<language>en-GB</language>",
)

ATOM10 = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>Le Fil</title><link href="https://fil.example.fr/"/>
  <id>urn:uuid:feed</id><updated>2021-09-17T10:00:00Z</updated>
  <entry>
    <id>urn:uuid:1225c695</id>
    <title type="html">Kaboul &lt;i&gt;sous&lt;/i&gt; tension</title>
    <link rel="alternate" href="https://fil.example.fr/a/1"/>
    <link rel="enclosure" href="https://fil.example.fr/a/1.mp3"/>
    <summary type="text">Résumé &amp; plus</summary>
    <content type="html">&lt;div&gt;Corps de l'article&lt;/div&gt;</content>
    <author><name>Marie</name></author>
    <published>2021-09-17T09:30:00+02:00</published>
    <updated>2021-09-17T09:45:00+02:00</updated>
  </entry>
</feed>"""

ATOM03 = """<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
  <title>Old Atom</title><link rel="alternate" type="text/html" href="https://old.example.com/"/>
  <entry>
    <title>Entry one</title>
    <link rel="alternate" type="text/html" href="https://old.example.com/1"/>
    <id>tag:old.example.com,2004:1</id>
    <issued>2004-06-02T19:07:55-04:00</issued>
    <summary>First</summary>
  </entry>
</feed>"""

RDF = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.de/">
    <title>RDF News</title><link>https://rdf.example.de/</link>
    <dc:language>de</dc:language>
  </channel>
  <item rdf:about="https://rdf.example.de/meldung/1">
    <title>Meldung eins</title>
    <link>https://rdf.example.de/meldung/1</link>
    <description>Kurz &amp; knapp</description>
    <dc:date>2021-09-16T08:00:00+00:00</dc:date>
  </item>
</rdf:RDF>"""

RSS091 = """<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="0.91"><channel>
  <title>Weiz</title><link>https://ff.example.at/</link><language>de-at</language>
  <item><title>Einsatz</title><link>https://ff.example.at/e/1</link>
  <description>Brandmeldeanlage</description></item>
</channel></rss>"""

JSON11 = """{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "JSON News", "home_page_url": "https://json.example.org/", "language": "en",
  "items": [
    {"id": "j1", "url": "https://json.example.org/1", "title": "First &amp; foremost",
     "content_html": "<p>Hello <script>alert(1)</script>world</p>",
     "summary": "A summary", "date_published": "2021-09-18T10:00:00-04:00",
     "authors": [{"name": "Ann"}, {"name": "Bob"}], "language": "en-US"},
    {"id": 2, "content_text": "Only text", "date_modified": "2021-09-19T00:00:00Z",
     "author": {"name": "Cy"}},
    "not an item"
  ]
}"""

JSON10 = """{"version": "https://jsonfeed.org/version/1", "title": "T",
  "items": [{"id": "x", "url": "/relative", "title": "Rel"}]}"""

FORMATS = [
    # (document, feed format, feed fields, first item's fields)
    (
        RSS20,
        "rss20",
        {"title": "News", "link": "https://news.example.com/", "language": "en-gb"},
        {
            "key": "story-1",
            "key_kind": "guid",
            "url": "https://news.example.com/world/1?id=9",
            "link": "https://news.example.com/world/1?utm_source=rss&id=9#top",
            "title": "Taliban name new government",
            "summary": "The group announced a cabinet.",
            "content": "Full text of the story.\nSecond paragraph.",
            "author": "Jane Reporter",
            "language": "en",
            "published": datetime(2021, 9, 7, 16, 30, tzinfo=UTC),
            "published_raw": "Tue, 07 Sep 2021 18:30:00 +0200",
            "date_estimated": False,
            "truncated": False,
        },
    ),
    (
        ATOM10,
        "atom10",
        {"title": "Le Fil", "link": "https://fil.example.fr/", "language": "fr"},
        {
            "key": "urn:uuid:1225c695",
            "key_kind": "guid",
            "url": "https://fil.example.fr/a/1",
            "title": "Kaboul sous tension",
            "summary": "Résumé & plus",
            "content": "Corps de l'article",
            "author": "Marie",
            "language": "fr",
            "published": datetime(2021, 9, 17, 7, 30, tzinfo=UTC),
            "published_raw": "2021-09-17T09:30:00+02:00",
        },
    ),
    (
        ATOM03,
        "atom03",
        {"title": "Old Atom", "link": "https://old.example.com/"},
        {
            "key": "tag:old.example.com,2004:1",
            "url": "https://old.example.com/1",
            "title": "Entry one",
            "summary": "First",
            "published": datetime(2004, 6, 2, 23, 7, 55, tzinfo=UTC),
        },
    ),
    (
        RDF,
        "rss10",
        {"title": "RDF News", "link": "https://rdf.example.de/", "language": "de"},
        {
            "url": "https://rdf.example.de/meldung/1",
            "title": "Meldung eins",
            "summary": "Kurz & knapp",
            "content": "",
            "language": "de",
            "published": datetime(2021, 9, 16, 8, 0, tzinfo=UTC),
        },
    ),
    (
        RSS091,
        "rss091u",
        {"title": "Weiz", "language": "de-at"},
        {"key": "https://ff.example.at/e/1", "key_kind": "link", "title": "Einsatz"},
    ),
    (
        JSON11,
        "json11",
        {"title": "JSON News", "link": "https://json.example.org/", "language": "en"},
        {
            "key": "j1",
            "key_kind": "guid",
            "url": "https://json.example.org/1",
            "title": "First &amp; foremost",  # JSON Feed titles are plain text
            "summary": "A summary",
            "content": "Hello world",
            "author": "Ann, Bob",
            "language": "en",
            "published": datetime(2021, 9, 18, 14, 0, tzinfo=UTC),
            "published_raw": "2021-09-18T10:00:00-04:00",
        },
    ),
    (
        JSON10,
        "json10",
        {"title": "T", "link": None},
        {"key": "x", "url": "https://news.example.com/relative", "title": "Rel"},
    ),
]


@pytest.mark.parametrize(("document", "fmt", "feed_fields", "item_fields"), FORMATS)
def test_formats(
    document: str, fmt: str, feed_fields: dict[str, Any], item_fields: dict[str, Any]
) -> None:
    feed = parse(document)
    assert feed.format == fmt
    assert {name: getattr(feed, name) for name in feed_fields} == feed_fields
    assert_fields(feed.items[0], item_fields)


def test_json_feed_numeric_ids_other_authors_and_non_object_items() -> None:
    feed = parse(JSON11)
    second = feed.items[1]
    assert_fields(second, {"key": "2", "content": "Only text", "author": "Cy", "language": "en"})
    assert second.published == datetime(2021, 9, 19, tzinfo=UTC)
    assert any("not objects" in w for w in feed.warnings)


# --- text -----------------------------------------------------------------------------------

TITLES = [
    # (title element as written, plain text expected)
    ("<![CDATA[Kabul <b>airport</b> reopens]]>", "Kabul airport reopens"),
    ("A &lt;b&gt;bold&lt;/b&gt; move &amp;amp; more", "A bold move & more"),
    ("<![CDATA[Tom &amp; Jerry]]>", "Tom & Jerry"),
    ("  spaced \n\t  out  ", "spaced out"),
    ("Bell\x07 and\x1b escape", "Bell and escape"),
    ("Zero&#8203;width &#x200c;joiner kept", "Zero\u200bwidth \u200cjoiner kept"),
    ("Fish &amp; chips &#8211; &#x201C;quoted&#x201D;", "Fish & chips – “quoted”"),
    ("طالبان در کابل", "طالبان در کابل"),
]


@pytest.mark.parametrize(("title", "expected"), TITLES)
def test_titles_become_plain_text(title: str, expected: str) -> None:
    item = only_item(rss(f"<item><guid>g</guid><title>{title}</title></item>"))
    assert item.title == expected


def test_scripts_and_styles_in_descriptions_are_not_text() -> None:
    description = "&lt;script&gt;alert(1)&lt;/script&gt;Safe &lt;style&gt;p {}&lt;/style&gt;text"
    item = only_item(rss(f"<item><guid>g</guid><description>{description}</description></item>"))
    assert item.summary == "Safe text"


def test_control_characters_are_stripped_from_json_feed_text() -> None:
    doc = JSON10.replace('"title": "Rel"', '"title": "Bell\\u0007 C1\\u0085 NUL\\u0000 tab\\tok"')
    assert parse(doc).items[0].title == "Bell C1 NUL tab ok"


# Simple markup is read with a regular expression instead of HTMLParser: the same text.
MARKUP = [
    '<img src="https://x.example/a.jpg" alt=""/><p>One &amp; <b>two</b></p><p>Three</p>',
    "<P CLASS='a'>Upper</P ><BR/>case<br />breaks<br>and</br>more<hr/>",
    '<a href="x>y" title=\'q "r"\'>quoted</a> &lt;not a tag&gt; &nbsp;&copy 2021 &#39;',
    '<div\n  class="c"\n>multi-line tag</div><li>item</li>',
    "<template><p>hidden</p></template>shown <head>x</head>",
    "<p>a < b</p>",
    "<p>comment <!-- gone --> here</p>",
    "<p>odd </p class=x> end tag <my-el>custom</my-el> <o:p>word</o:p>",
    "<p>raw <script>document.write('<p>')</script> text</p><style>p{}</style>",
    '<img src=a/>unquoted <input checked disabled> <a b="c"d="e">glued</a>',
    '<iframe src="https://v.example/"></iframe><p>after a frame</p>',
    "trailing &amp",
    "no markup at all",
]


@pytest.mark.parametrize("markup", MARKUP)
def test_simple_markup_gives_the_text_html_parser_gives(markup: str) -> None:
    assert parse_module._html_to_text(markup) == parse_module._extracted_text(markup)
    item = only_item(rss(f"<item><guid>g</guid><description>{escape(markup)}</description></item>"))
    expected = " ".join(parse_module._extracted_text(markup).split())
    assert " ".join(item.summary.split()) == expected


def test_plain_text_atom_title_keeps_angle_brackets() -> None:
    doc = ATOM10.replace('type="html">Kaboul &lt;i&gt;sous&lt;/i&gt; tension', ">if a &lt; b")
    assert parse(doc).items[0].title == "if a < b"


def test_nul_and_illegal_xml_characters_are_stripped() -> None:
    doc = rss("<item><guid>g\x01</guid><title>Nul\x00 here\x0b</title></item>")
    feed = parse(doc)
    assert_fields(feed.items[0], {"key": "g", "title": "Nul here"})
    assert any("not allowed in XML" in w for w in feed.warnings)


def test_markup_escaped_twice_is_still_stripped() -> None:
    description = "<![CDATA[&lt;p&gt;People reached: &lt;b&gt;133,000&lt;/b&gt;&lt;/p&gt;]]>"
    item = only_item(rss(f"<item><guid>g</guid><description>{description}</description></item>"))
    assert item.summary == "People reached: 133,000"


def test_content_is_the_longest_content_and_empty_when_absent() -> None:
    entry = """<entry><id>e</id><title>t</title>
      <content type="text">short</content>
      <content type="html">&lt;p&gt;a much longer body&lt;/p&gt;</content></entry>"""
    doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>{entry}</feed>'
    assert only_item(doc).content == "a much longer body"
    assert only_item(rss("<item><guid>g</guid><title>t</title></item>")).content == ""


def test_fields_are_capped_and_marked_truncated() -> None:
    doc = rss(
        f"<item><guid>g</guid><title>short</title><description>{'x' * 500}</description></item>"
    )
    item = only_item(doc, max_field_chars=100)
    assert len(item.summary) == 100
    assert item.truncated
    assert not only_item(doc).truncated


# --- keys, links, duplicates, limits --------------------------------------------------------


def test_item_without_guid_link_or_date_gets_a_stable_hash_key() -> None:
    doc = rss("<item><title>Untitled wire copy</title><description>Body</description></item>")
    first = parse_feed(doc.encode(), {}, URL, NOW).items[0]
    later = parse_feed(doc.encode(), {}, URL, NOW + timedelta(hours=6)).items[0]
    assert first.key_kind == "hash"
    assert first.key.startswith("sha256:")
    assert first.key == later.key
    assert first.content_hash == later.content_hash
    assert (first.published, first.date_estimated, first.published_raw) == (NOW, True, None)
    assert later.published == NOW + timedelta(hours=6)


def test_content_hash_covers_title_summary_content_and_url() -> None:
    item = only_item(RSS20)
    expected = "\x1f".join((item.title, item.summary, item.content, item.url or ""))
    assert item.content_hash == hashlib.sha256(expected.encode()).hexdigest()
    edited = only_item(RSS20.replace("new government", "interim government"))
    assert edited.key == item.key
    assert edited.content_hash != item.content_hash


LINKS = [
    # (item markup, expected key_kind, url, link)
    ("<link>javascript:alert(1)</link><title>x</title>", "hash", None, None),
    ("<link>data:text/html,hi</link><title>x</title>", "hash", None, None),
    (
        "<link>/world/2?at_medium=RSS</link>",
        "link",
        "https://news.example.com/world/2",
        "https://news.example.com/world/2?at_medium=RSS",
    ),
    (
        "<link>https://News.Example.com:443/a#x</link>",
        "link",
        "https://news.example.com/a",
        "https://News.Example.com:443/a#x",
    ),
    (
        "<guid>https://news.example.com/p/3</guid>",
        "guid",
        "https://news.example.com/p/3",
        "https://news.example.com/p/3",
    ),
    ("<guid>not-a-url-123</guid><title>x</title>", "guid", None, None),
]


@pytest.mark.parametrize(("markup", "key_kind", "url", "link"), LINKS)
def test_links(markup: str, key_kind: str, url: str | None, link: str | None) -> None:
    item = only_item(rss(f"<item>{markup}</item>"))
    assert (item.key_kind, item.url, item.link) == (key_kind, url, link)


def test_duplicate_guids_keep_the_first_and_warn() -> None:
    items = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title></item>"
        for guid, title in [("a", "first"), ("b", "other"), ("a", "second"), ("a", "third")]
    )
    feed = parse(rss(items))
    assert [(i.key, i.title) for i in feed.items] == [("a", "first"), ("b", "other")]
    assert any("repeating an earlier key" in w and w.endswith(": 2") for w in feed.warnings)


def test_very_long_guid_is_hashed_into_the_key() -> None:
    item = only_item(rss(f"<item><guid>{'g' * 5000}</guid></item>"))
    assert item.key_kind == "guid"
    assert item.key == "sha256:" + hashlib.sha256(("g" * 5000).encode()).hexdigest()


def test_max_items_keeps_the_first_in_document_order() -> None:
    items = "".join(f"<item><guid>{n}</guid><title>t{n}</title></item>" for n in range(5))
    feed = parse(rss(items), max_items=3)
    assert [i.key for i in feed.items] == ["0", "1", "2"]
    assert any("max_items=3" in w for w in feed.warnings)


def test_empty_entries_are_skipped() -> None:
    feed = parse(rss("<item></item><item><guid>g</guid></item>"))
    assert [i.key for i in feed.items] == ["g"]
    assert any("empty" in w for w in feed.warnings)


# --- dates and languages --------------------------------------------------------------------

DATES = [
    # (date element, published expected (None: NOW, estimated), raw expected)
    (
        "<pubDate>Mon, 20 Sep 2021 11:00:00 GMT</pubDate>",
        datetime(2021, 9, 20, 11, tzinfo=UTC),
        "Mon, 20 Sep 2021 11:00:00 GMT",
    ),
    (
        "<pubDate>Mon, 20 Sep 2021 23:00:00 GMT</pubDate>",
        datetime(2021, 9, 20, 23, tzinfo=UTC),
        "Mon, 20 Sep 2021 23:00:00 GMT",
    ),
    ("<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>", None, "Thu, 01 Jan 1970 00:00:00 GMT"),
    ("<pubDate>Sat, 31 Dec 1994 23:59:59 GMT</pubDate>", None, "Sat, 31 Dec 1994 23:59:59 GMT"),
    ("<pubDate>Fri, 01 Jan 2049 00:00:00 GMT</pubDate>", None, "Fri, 01 Jan 2049 00:00:00 GMT"),
    ("<pubDate>Wed, 22 Sep 2021 12:00:00 GMT</pubDate>", None, "Wed, 22 Sep 2021 12:00:00 GMT"),
    ("<pubDate>1631836800</pubDate>", None, "1631836800"),
    ("<pubDate>0</pubDate>", None, "0"),
    ("<pubDate>yesterday-ish</pubDate>", None, "yesterday-ish"),
    (
        "<dc:date>2021-09-19T08:00:00+05:30</dc:date>",
        datetime(2021, 9, 19, 2, 30, tzinfo=UTC),
        "2021-09-19T08:00:00+05:30",
    ),
    ("", None, None),
]


@pytest.mark.parametrize(("markup", "published", "raw"), DATES)
def test_dates(markup: str, published: datetime | None, raw: str | None) -> None:
    item = only_item(rss(f"<item><guid>g</guid>{markup}</item>"))
    assert item.published == (published or NOW)
    assert item.published.tzinfo is not None and item.published.utcoffset() == timedelta(0)
    assert item.date_estimated is (published is None)
    assert item.published_raw == raw


LANGUAGES = [
    # (channel language, item xml:lang, Content-Language header, expected)
    ("<language>en-GB</language>", "", "", "en"),
    ("<language>en-GB</language>", ' xml:lang="ps"', "fa", "ps"),
    ("", "", "fa-IR, en", "fa"),
    ("", "", "", ""),
]


@pytest.mark.parametrize(("channel", "item_attr", "header", "expected"), LANGUAGES)
def test_language_of_a_short_text_falls_back_from_entry_to_feed_to_header(
    channel: str, item_attr: str, header: str, expected: str
) -> None:
    doc = rss(f"<item{item_attr}><guid>g</guid><title>t</title></item>", channel=channel)
    headers = {"Content-Language": header} if header else {}
    assert only_item(doc, headers=headers).language == expected


# --- charsets -------------------------------------------------------------------------------


def legacy_rss(encoding: str, title: str, *, declare: bool = True) -> bytes:
    """An RSS document with one item, encoded in ``encoding`` and (by default) declaring it."""
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if declare else ""
    body = rss(f"<item><guid>g</guid><title>{title}</title></item>").split("?>", 1)[1]
    return (declaration + body).encode(encoding)


CHARSETS = [
    # (body, headers, expected title, warning fragment or "")
    (legacy_rss("windows-1251", "Талибы в Кабуле"), {}, "Талибы в Кабуле", ""),
    (legacy_rss("koi8-r", "Афганистан"), {}, "Афганистан", ""),
    (legacy_rss("iso-8859-7", "Αφγανιστάν"), {}, "Αφγανιστάν", ""),
    (legacy_rss("gb2312", "阿富汗塔利班"), {}, "阿富汗塔利班", ""),
    (legacy_rss("windows-1252", "Café “quoted”", declare=False), {}, "Café “quoted”", ""),
    # a declaration that lies: the bytes are UTF-8
    (
        legacy_rss("utf-8", "Kaboul: l'aéroport").replace(
            b'encoding="utf-8"', b'encoding="iso-8859-1"'
        ),
        {},
        "Kaboul: l'aéroport",
        "valid UTF-8",
    ),
    (
        legacy_rss("utf-8", "Привет"),
        {"content-type": "text/xml; charset=windows-1251"},
        "Привет",
        "valid UTF-8",
    ),
    # a header that lies: the bytes are windows-1251, as the XML declaration says
    (
        legacy_rss("windows-1251", "Привет"),
        {"content-type": "text/xml; charset=utf-8"},
        "Привет",
        "",
    ),
    (
        legacy_rss("windows-1252", "Café", declare=False),
        {"content-type": "application/rss+xml; charset=utf-8"},
        "Café",
        "not utf-8 as declared",
    ),
    # one bad byte in UTF-8 text must not turn the rest into mojibake
    (
        legacy_rss("utf-8", "Талибы в Кабуле XBAD").replace(b"XBAD", b"\xff"),
        RSS_HEADERS,
        "Талибы в Кабуле \ufffd",
        "invalid UTF-8",
    ),
    # UTF-16 and UTF-32 with a byte order mark
    ("\ufeff".encode("utf-16-le") + legacy_rss("utf-16-le", "Ürümqi"), {}, "Ürümqi", ""),
    (legacy_rss("utf-16", "Ürümqi"), {}, "Ürümqi", ""),
    (legacy_rss("utf-32", "Ürümqi"), {}, "Ürümqi", ""),
    (b"\xef\xbb\xbf" + legacy_rss("utf-8", "BOM ünïcode"), {}, "BOM ünïcode", ""),
]


@pytest.mark.parametrize(("body", "headers", "title", "warning"), CHARSETS)
def test_charsets(body: bytes, headers: dict[str, str], title: str, warning: str) -> None:
    feed = parse(body, headers=headers)
    assert feed.items[0].title == title
    if warning:
        assert any(warning in w for w in feed.warnings), feed.warnings
    else:
        assert feed.warnings == ()


# --- broken and hostile input ---------------------------------------------------------------

NOT_FEEDS = [
    # (body, kind, message fragment)
    (b"", "empty", "empty"),
    (b"   \r\n\t  ", "empty", "empty"),
    (b"\x00\x00\x00\x00", "empty", "empty"),
    (b"\xef\xbb\xbf\n", "empty", "empty"),
    (
        b"<!DOCTYPE html><html><head><title>Sorry</title></head><body>Not here</body></html>",
        "not_a_feed",
        "HTML page",
    ),
    (b"<html><body><p>Access denied</p></body></html>", "not_a_feed", "HTML page"),
    (b"<note><to>you</to><body>hi</body></note>", "not_a_feed", "no RSS, Atom or JSON Feed"),
    (b"just some text, not markup", "not_a_feed", "no RSS, Atom or JSON Feed"),
    (b'{"name": "not a feed"}', "not_a_feed", "JSON"),
    (b'{"items": "nope"', "not_a_feed", "invalid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not_a_feed", "no RSS, Atom or JSON Feed"),
    (b"/etc/passwd", "not_a_feed", "no RSS, Atom or JSON Feed"),
    (b"file:///etc/passwd", "not_a_feed", "no RSS, Atom or JSON Feed"),
    (b"http://127.0.0.1:9/feed.xml", "not_a_feed", "no RSS, Atom or JSON Feed"),
]


@pytest.mark.parametrize(("body", "kind", "fragment"), NOT_FEEDS)
def test_not_a_feed(body: bytes, kind: str, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body, headers=RSS_HEADERS)
    message = str(caught.value)
    assert caught.value.kind == kind
    assert fragment in message
    assert "\n" not in message and len(message.encode()) <= 1024


def test_a_body_naming_a_local_feed_file_is_never_opened(tmp_path: Path) -> None:
    feed_file = tmp_path / "feed.xml"
    feed_file.write_text(rss("<item><guid>secret-item</guid></item>"), encoding="utf-8")
    assert parse(feed_file.read_bytes()).items  # the file is a good feed...
    for body in (str(feed_file).encode(), feed_file.as_uri().encode()):
        with pytest.raises(ParseError):  # ...but its name is not one
            parse(body)


def test_bad_entries_do_not_lose_the_good_ones() -> None:
    doc = rss(
        "<item><guid>ok-1</guid><title>Fine</title></item>"
        "<item><guid>bad</guid><title>Broken & unescaped <b>tag</title></item>"
        "<item><guid>ok-2</guid><title>Also fine</title></item>"
    )
    feed = parse(doc)
    assert {"ok-1", "ok-2"} <= {i.key for i in feed.items}
    assert any("not well-formed" in w for w in feed.warnings)


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
        for n in range(1, 10)
    )
    + ']>\n<rss version="2.0"><channel><title>&lol9;</title>'
    "<item><title>&lol9;</title></item></channel></rss>"
)


@pytest.mark.parametrize("padding", ["", "<!-- <a " + "x" * 200_000 + " -->\n"])
def test_entity_expansion_bomb_is_refused_fast(padding: str) -> None:
    body = BILLION_LAUGHS.replace("<!DOCTYPE", padding + "<!DOCTYPE").encode()
    started = time.perf_counter()
    with pytest.raises(ParseError) as caught:
        parse(body)
    assert time.perf_counter() - started < 0.1
    assert caught.value.kind == "entities"


def test_external_entities_and_dtds_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER", encoding="utf-8")
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "{secret.as_uri()}">', encoding="utf-8")
    entity_doc = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        + rss("<item><guid>g</guid><title>&xxe;</title></item>").split("?>", 1)[1]
    )
    with pytest.raises(ParseError) as caught:
        parse(entity_doc)
    assert caught.value.kind == "entities"
    assert "TOP-SECRET" not in str(caught.value)
    passwd_doc = entity_doc.replace(secret.as_uri(), "file:///etc/passwd")
    with pytest.raises(ParseError):
        parse(passwd_doc)
    dtd_doc = (
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd.as_uri()}">'
        + rss("<item><guid>g</guid><title>x &leak; y</title></item>").split("?>", 1)[1]
    )
    feed = parse(dtd_doc)
    texts = [feed.title] + [f"{i.title} {i.summary} {i.content}" for i in feed.items]
    assert not any("TOP-SECRET" in text or "root:" in text for text in texts)


# --- the real corpus ------------------------------------------------------------------------


def corpus_manifest() -> dict[str, dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        return {row["file"]: row for row in csv.DictReader(manifest, delimiter="\t")}


MANIFEST = corpus_manifest()
CORPUS_FILES = sorted(MANIFEST)


def feedparser_distinct_entries(body: bytes) -> set[str]:
    """What feedparser itself finds: entries told apart by id, else link, else title."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = feedparser.parse(io.BytesIO(body))
    keys = (
        (dict.get(e, "id") or dict.get(e, "link") or dict.get(e, "title") or "").strip()
        for e in result["entries"]
    )
    return {key for key in keys if key}


def test_manifest_lists_exactly_the_corpus_files() -> None:
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()}
    assert on_disk - {"MANIFEST.tsv"} == set(MANIFEST)


@pytest.mark.slow
@pytest.mark.parametrize("name", CORPUS_FILES, ids=[name[-60:] for name in CORPUS_FILES])
def test_corpus_file_parses_or_fails_cleanly(name: str) -> None:
    body = (CORPUS / name).read_bytes()
    try:
        feed = parse_feed(body, {}, "https://feeds.example.com/feed", NOW)
    except ParseError as error:
        assert error.kind in {"empty", "not_a_feed", "entities"}
        assert len(str(error).encode()) <= 1024
        return
    expected_items = MANIFEST[name]["item_count"]
    if expected_items.isdigit() and int(expected_items) > 0:
        assert feed.items
    distinct = feedparser_distinct_entries(body)
    assert len(feed.items) >= 0.9 * len(distinct)
    for item in feed.items:
        assert item.key and item.content_hash
        assert item.url is None or item.url.startswith(("http://", "https://"))
        assert item.published.tzinfo is not None


def corpus_feed(name: str) -> ParsedFeed:
    return parse_feed((CORPUS / name).read_bytes(), {}, "https://feeds.example.com/f", NOW)


TALIBAN = re.compile(r"taliban|afghan|\biskp\b|khorasan", re.IGNORECASE)
SNAPSHOTS = "snapshots/gesab001__headlines/"
SERIES = {
    "bbc": [
        "20210916T212418Z_4971cfe5",
        "20210917T001345Z_389f6341",
        "20210917T010844Z_b95dce25",
        "20210918T191344Z_0080ea81",
    ],
    "nytimes": [
        "20210916T212418Z_4971cfe5",
        "20210916T233955Z_c424896f",
        "20210917T010844Z_b95dce25",
        "20210917T015952Z_1d5dddb4",
    ],
}


@pytest.mark.parametrize("outlet", sorted(SERIES))
def test_snapshots_of_one_feed_share_item_keys_and_find_the_taliban_items(outlet: str) -> None:
    names = [f"{SNAPSHOTS}{outlet}/{stamp}.xml" for stamp in SERIES[outlet]]
    feeds = [corpus_feed(name) for name in names]
    for earlier, later in itertools.pairwise(feeds):
        shared = {i.key for i in earlier.items} & {i.key for i in later.items}
        assert len(shared) >= 10  # the same stories, recognised by the same keys
    for name, feed in zip(names, feeds, strict=True):
        mentions = [i for i in feed.items if TALIBAN.search(f"{i.title} {i.summary} {i.url}")]
        assert len(mentions) == int(MANIFEST[name]["taliban_afghan_iskp_item_count"])
        assert all(not i.date_estimated for i in feed.items)


CORPUS_CASES = [
    # (file, expected feed format, a title that must appear among the items)
    (
        "fixtures/miniflux__v2/internal__reader__parser__testdata__encoding_WINDOWS-1251.xml",
        "rss20",
        "Цитата #17703",
    ),
    (
        "fixtures/prof18__RSS-Parser/rssparser__src__commonTest__resources__feed-test-greek.xml",
        "rss20",
        "«Πορτραίτα καραντίνας» για έμπνευση από τη συλλογή Φέλιου",
    ),
    (
        "fixtures/Ranchero-Software__NetNewsWire/Modules__RSParser__Tests__RSParserTests__Resources"
        "__kc0011.rss",
        "rss20",
        "建国35周年纪念，华表，和平鸽",
    ),
    (
        "fixtures/danmactough__node-feedparser/test__feeds__iconv.xml",
        "rss20",
        "В Бузулуке главные стройплощадки – детсад и Ледовый дворец",
    ),
    ("feedparser-tests/json/example.json", "json10", "post 2"),
]


@pytest.mark.parametrize(("name", "fmt", "title"), CORPUS_CASES)
def test_corpus_charsets_and_formats(name: str, fmt: str, title: str) -> None:
    feed = corpus_feed(name)
    assert feed.format == fmt
    assert title in {i.title for i in feed.items}


def test_corpus_feed_declared_latin1_but_written_in_utf8_reads_as_utf8() -> None:
    feed = corpus_feed(
        "fixtures/codehollow__FeedReader/FeedReader.Tests__Feeds__Rss20FinanzenNet.xml"
    )
    assert any("für" in i.summary for i in feed.items)
    assert not any("Ã" in i.summary for i in feed.items)


def test_corpus_koi8r_single_byte_decodes_as_declared() -> None:
    feed = corpus_feed("feedparser-tests/_only-in-tag-v6.0.14/encoding/x80_koi8-r.xml")
    assert feed.title == "\u2500"


def test_corpus_duplicate_guids_and_double_escaped_html() -> None:
    name = next(n for n in CORPUS_FILES if "DSR_RSS_test" in n)
    feed = corpus_feed(name)
    assert len(feed.items) < int(MANIFEST[name]["item_count"])
    assert any("repeating an earlier key" in w for w in feed.warnings)
    assert any("Funding required: 57.6M (US$)" in i.summary for i in feed.items)
    assert not any("<p>" in i.summary or "&lt;" in i.summary for i in feed.items)


def test_corpus_truncated_fragment_keeps_its_items() -> None:
    feed = corpus_feed("fixtures/AyushYadav__news_twitter_analysis/theguardian_rss.xml")
    assert len(feed.items) >= 150


# ---- the fast path: lxml for plain RSS and Atom, the same items as feedparser ------------


def outcome(body: bytes, *, fast: bool) -> ParsedFeed | tuple[str, str]:
    try:
        return parse_feed(body, {}, "https://feeds.example.com/f", NOW, fast=fast)
    except ParseError as error:
        return error.kind, str(error)


@pytest.mark.slow
@pytest.mark.parametrize("name", CORPUS_FILES, ids=[name[-60:] for name in CORPUS_FILES])
def test_corpus_file_gives_the_same_items_with_or_without_the_fast_path(name: str) -> None:
    body = (CORPUS / name).read_bytes()
    assert outcome(body, fast=True) == outcome(body, fast=False)


def test_the_fast_path_reads_plain_rss_and_atom_and_leaves_the_rest_to_feedparser() -> None:
    read = sum(
        fastxml.read_document((CORPUS / name).read_bytes()) is not None for name in CORPUS_FILES
    )
    assert read >= 20, "the fast path took none of the common documents"
    assert fastxml.read_document(rss("<item><title>x</title></item>").encode()) is not None
    assert fastxml.read_document(b'<!DOCTYPE rss><rss version="2.0"><channel/></rss>') is None
    assert (
        fastxml.read_document(b'<rss version="2.0" xml:base="http://b/"><channel/></rss>') is None
    )


FAST_PATH_CASES = {
    "guid before link": rss(
        "<item><guid>http://a.example/1</guid><link>http://a.example/x?a=1&amp;b=2</link>"
        "<title>&lt;b&gt;Bold&lt;/b&gt; news</title></item>"
    ),
    "permalink guid, no link": rss('<item><guid isPermaLink="true">abc-123</guid></item>'),
    "guid not a permalink": rss(
        '<item><guid isPermaLink="false">http:///a.example/p</guid><title>T</title></item>'
    ),
    "mis-decoded UTF-8 and C1 controls": rss(
        "<item><title>Caf\u00c3\u00a9 \u0093quoted\u0094</title><description>"
        "<![CDATA[<p>Para</p> &amp; more]]></description></item>"
    ),
    "dates and authors": rss(
        "<item><title>T</title><pubDate>Tue, 31 Feb 2021 10:00:00 +0000</pubDate>"
        "<dc:date>2021-09-06T16:45:00Z</dc:date><author>a@b.com (Ann)</author></item>",
        channel="<language>en_US</language><link>https://b.example/a&amp;amp;c</link>",
    ),
    "common date forms, read without feedparser's chain of date parsers": rss(
        "".join(
            f"<item><guid>d{number}</guid><pubDate>{date}</pubDate></item>"
            for number, date in enumerate(
                [
                    "Tue, 07 Sep 2021 18:30:00 +0200",
                    "7 Oct 2021 08:05:09 -0530",
                    "sat, 02 oct 2021 23:59:59 EDT",
                    "Fri, 01 Oct 2021 10:00:00 UTC",
                    "Fri, 01 Oct 2021 10:00:00 CEST",
                    "Fri, 01 Oct 2021 10:00:00 GMT+2",
                    "Thu, 30 Sep 2021 24:00:00 GMT",
                    "Mon, 01 Jan 0001 00:30:00 +0100",
                    "2021-09-06T16:45:00.999Z",
                    "2021-09-06t16:45:00+05:30",
                    "2021-09-06T16:45:00+0530",
                    "2021-09-06T16:45:00",
                    "2021-02-30T16:45:00-04:00",
                    "9999-12-31T23:59:59-01:00",
                ]
            )
        )
    ),
    "atom id before its link": (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en_GB"><id>tag:x,2020:1</id>'
        '<entry><id>http://a.example/e</id><link rel="self" href="http://a.example/s"/>'
        '<link type="HTML" href="http://a.example/alt"/><title type="html">&lt;b&gt;T&lt;/b&gt;'
        "</title><author><name>Ann</name><email>ann@x.org</email></author>"
        '<summary type="text">S</summary><content type="html">&lt;p&gt;C&lt;/p&gt;</content>'
        "<published>2021-09-06T16:45:00Z</published></entry></feed>"
    ),
}


ATOM_LINKS = (
    '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>tag:x,2020:f</id>'
    '<link rel="self" href="http://a.example/feed.atom"/><link href="http://a.example/"/>'
    '<entry><id>http://a.example/e1</id><link rel="alternate" href="http://a.example/1"/>'
    '<link rel="self" href="http://a.example/1.atom"/><title>One</title></entry>'
    '<entry><id>tag:x,2020:2</id><link rel="alternate" hreflang="fr" href="http://a.example/2fr"/>'
    '<link rel="enclosure" href="http://a.example/2.mp3" length="9"/>'
    '<link rel="alternate" type="text/html" href="http://a.example/2"/><title>Two</title></entry>'
    '<entry><id>http://a.example/e3</id><link rel="self" href="http://a.example/3.atom"/>'
    "<title>Three</title></entry></feed>"
)
FAST_PATH_CASES["atom self and alternate links, repeated alternates"] = ATOM_LINKS


def test_the_atom_fast_path_takes_self_and_alternate_links_and_the_last_alternate_wins() -> None:
    body = ATOM_LINKS.encode()
    assert fastxml.fast_result(body) is not None
    feed = parse(body)
    assert feed.link == "http://a.example/"
    assert [item.link for item in feed.items] == [
        "http://a.example/1",
        "http://a.example/2",
        "http://a.example/e3",  # a self link is no link: the id, a URL, stands for it
    ]


# Documents the fast path could read but must leave to feedparser, which reads them
# differently: a plain base="" (feedparser's xml:base, kept past the element's end, so
# the next link resolves against it), and names with XML 1.0 fifth-edition characters
# that lxml takes and feedparser's expat refuses (it then reads the document leniently).
FEEDPARSER_ONLY_CASES = {
    "plain base attribute": rss(
        '<item><category base="http://other.example/dir/">c</category><link>page.html</link>'
        "<title>T</title></item>"
    ),
    "fifth-edition character in an element name": rss(
        '<item><title>T</title><ex:note\u1200 xmlns:ex="http://e.example/">v</ex:note\u1200>'
        "<description>text</description></item>"
    ),
    "fifth-edition character in a prefix": rss(
        '<item><title>T</title><dc\u02b0:creator xmlns:dc\u02b0="http://purl.org/dc/elements/1.1/">'
        "Ann</dc\u02b0:creator></item>"
    ),
    "fifth-edition character in an attribute name": rss(
        '<item><title>T</title><enclosure url="http://x.example/a.mp3" t\u2070="1"/></item>'
    ),
}


@pytest.mark.parametrize("case", sorted(FEEDPARSER_ONLY_CASES))
def test_what_feedparser_reads_differently_is_left_to_it(case: str) -> None:
    body = FEEDPARSER_ONLY_CASES[case].encode("utf-8")
    assert fastxml.fast_result(body) is None
    assert outcome(body, fast=True) == outcome(body, fast=False)


@pytest.mark.parametrize("case", sorted(FAST_PATH_CASES))
def test_the_fast_path_follows_feedparser_on_its_quirks(case: str) -> None:
    body = FAST_PATH_CASES[case].encode("utf-8")
    assert fastxml.read_document(body) is not None, "this case should take the fast path"
    assert outcome(body, fast=True) == outcome(body, fast=False)
