"""Google News and Bing News feeds (#19): the publisher behind each item, the article's own
URL where it can be had offline, titles without the outlet's name, and bad input kept
harmless. The feeds in tests/data/aggregators/ are written in the services' published
shapes (see the README there)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.matching import TopicMatcher
from tracker.models import ItemText, ParsedFeed, ParsedItem
from tracker.parse import aggregators, fastpath, parse_feed
from tracker.topics import load_topic

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "aggregators"
NOW = datetime(2021, 9, 20, 12, 0, tzinfo=UTC)
GOOGLE_URL = "https://news.google.com/rss/search?q=Taliban&hl=en-US&gl=US&ceid=US:en"
BING_URL = "https://www.bing.com/news/search?q=ISKP&format=rss"
TOPIC = load_topic(ROOT / "config" / "topics" / "us-taliban.toml")
MATCHER = TopicMatcher(TOPIC, (ROOT / "seeds" / TOPIC.seed).read_text(encoding="utf-8"))


def parse(name: str, url: str, *, fast: bool = True) -> ParsedFeed:
    return parse_feed((DATA / name).read_bytes(), {}, url, NOW, fast=fast)


def by_publisher(feed: ParsedFeed) -> dict[str, ParsedItem]:
    return {item.publisher: item for item in feed.items}


def test_google_news_items_name_their_publishers_and_decode_older_ids() -> None:
    items = by_publisher(parse("google-news-search.xml", GOOGLE_URL))
    reuters = items["Reuters"]
    assert reuters.title == "US envoy meets Taliban in Doha"
    assert reuters.summary == "US envoy meets Taliban in Doha"  # the <font> label is gone
    assert reuters.publisher_url == "https://www.reuters.com/"
    assert reuters.url == (
        "https://www.reuters.com/world/asia-pacific/us-envoy-meets-taliban-doha-2021-09-19/"
    )
    assert reuters.link is not None and reuters.link.startswith("https://news.google.com/rss/")
    bbc = items["BBC News"]  # an id published by a decoder's README: a real older id
    assert bbc.url == "https://www.bbc.com/news/articles/cjjjnxdv188o"
    # Newer ids carry no URL: the aggregator's link stays, the publisher's site is recorded.
    voa = items["Voice of America"]
    assert voa.url is not None and voa.url.startswith("https://news.google.com/rss/articles/")
    assert (voa.title, voa.publisher_url) == (
        "Taliban hold talks on aid in Kabul",
        "https://www.voanews.com/",
    )


def test_google_news_keys_stay_the_guid_so_stored_items_keep_their_keys() -> None:
    for item in parse("google-news-search.xml", GOOGLE_URL).items:
        assert item.key_kind == "guid"
        assert item.link is not None and item.link.endswith(f"/articles/{item.key}?oc=5")


def test_google_news_bad_input_is_kept_harmless() -> None:
    items = by_publisher(parse("google-news-search.xml", GOOGLE_URL))
    # <source> with markup in it and a javascript: url; the id carries a loopback URL
    pajhwok = items["Pajhwok Afghan News"]
    assert pajhwok.publisher_url == ""
    assert pajhwok.url is not None and pajhwok.url.startswith("https://news.google.com/")
    assert pajhwok.title == "Taliban spokesman briefs reporters"
    tolo = items["TOLOnews"]  # an id that is not base64
    assert tolo.url == "https://news.google.com/rss/articles/not*base64!?oc=5"
    assert tolo.publisher_url == "https://tolonews.com/"


@pytest.mark.parametrize(
    "publisher",
    [
        "The Washington Times",
        "Radio Free Europe/Radio Liberty",
        "Voice of America",
        "U.S. News & World Report",
    ],
)
def test_a_publisher_named_like_a_topic_term_never_makes_a_follow_up(publisher: str) -> None:
    item = by_publisher(parse("google-news-search.xml", GOOGLE_URL))[publisher]
    assert publisher not in f"{item.title} {item.summary}"
    assert not MATCHER.decide(ItemText(item.title, item.summary, item.content)).flagged


def test_the_publisher_suffix_would_have_flagged_without_its_removal() -> None:
    item = by_publisher(parse("google-news-search.xml", GOOGLE_URL))["U.S. News & World Report"]
    as_fed = f"{item.title} - {item.publisher}"
    assert MATCHER.decide(ItemText(as_fed, item.summary)).flagged  # so the test above can fail


def test_bing_click_through_links_are_unwrapped_to_the_publisher() -> None:
    items = by_publisher(parse("bing-news-search.xml", BING_URL))
    reuters = items["Reuters"]
    assert reuters.url == (
        "https://www.reuters.com/world/asia-pacific/iskp-claims-attack-near-kabul-airport-2021-09-19/"
    )
    assert (reuters.key, reuters.key_kind) == (reuters.url, "link")
    assert reuters.publisher_url == "https://www.reuters.com/"
    persian = items["ایران اینترنشنال"]
    assert (persian.url, persian.publisher_url) == (
        "https://www.afintl.com/202109190456",
        "https://www.afintl.com/",
    )


def test_bing_keys_survive_the_click_through_ids_changing_between_fetches() -> None:
    body = (DATA / "bing-news-search.xml").read_bytes()
    again = body.replace(b"tid=614F3E2B9A1C4D7E8F0A1B2C3D4E5F60", b"tid=0123456789ABCDEF")
    first = parse_feed(body, {}, BING_URL, NOW)
    second = parse_feed(again, {}, BING_URL, NOW)
    unwrapped = [i for i in first.items if "bing.com" not in (i.url or "")]
    assert len(unwrapped) == 2
    assert {i.key for i in unwrapped} <= {i.key for i in second.items}
    assert [i.content_hash for i in unwrapped] == [i.content_hash for i in second.items[:2]]


@pytest.mark.parametrize("publisher", ["Example", "Intranet"])
def test_bing_links_to_other_schemes_or_private_addresses_are_kept_as_they_are(
    publisher: str,
) -> None:
    item = by_publisher(parse("bing-news-search.xml", BING_URL))[publisher]
    assert item.url is not None and item.url.startswith("http://www.bing.com/news/apiclick.aspx")
    assert item.publisher_url == ""


def test_the_same_article_from_the_publishers_own_feed_has_the_same_url() -> None:
    own = parse_feed(
        b'<rss version="2.0"><channel><title>Reuters</title><item><link>'
        b"https://www.reuters.com/world/asia-pacific/iskp-claims-attack-near-kabul-airport-"
        b"2021-09-19/?utm_source=rss</link><title>ISKP claims attack</title></item>"
        b"</channel></rss>",
        {},
        "https://www.reuters.com/world/rss",
        NOW,
    ).items[0]
    bing = by_publisher(parse("bing-news-search.xml", BING_URL))["Reuters"]
    assert own.url == bing.url and own.publisher == ""


@pytest.mark.parametrize(
    ("name", "url"),
    [("google-news-search.xml", GOOGLE_URL), ("bing-news-search.xml", BING_URL)],
)
def test_aggregator_feeds_take_the_fast_path_and_give_feedparsers_items(
    name: str, url: str
) -> None:
    body = (DATA / name).read_bytes()
    assert fastpath.fast_result(body) is not None
    assert parse(name, url) == parse(name, url, fast=False)


def test_a_copy_of_an_aggregator_feed_served_elsewhere_is_recognised_by_its_links() -> None:
    feed = parse("bing-news-search.xml", "https://feeds.example.org/iskp.xml")
    assert by_publisher(feed)["Reuters"].url.startswith("https://www.reuters.com/")  # type: ignore[union-attr]


def test_an_ordinary_feeds_source_element_is_no_publisher() -> None:
    body = (
        b'<rss version="2.0"><channel><title>Blog</title><item><guid>g1</guid><title>Post - Reuters'
        b'</title><link>https://blog.example.com/1</link><source url="https://other.example/feed">'
        b"Reuters</source></item></channel></rss>"
    )
    item = parse_feed(body, {}, "https://blog.example.com/feed", NOW).items[0]
    assert (item.publisher, item.publisher_url, item.title) == ("", "", "Post - Reuters")


def test_a_source_element_with_child_markup_is_left_to_feedparser_and_read_as_text() -> None:
    body = (
        (DATA / "google-news-search.xml")
        .read_bytes()
        .replace(
            b'<source url="https://tolonews.com">TOLOnews</source>',
            b'<source url="https://tolonews.com"><b>TOLO</b>news</source>',
        )
    )
    assert fastpath.fast_result(body) is None
    feed = parse_feed(body, {}, GOOGLE_URL, NOW)
    assert feed == parse_feed(body, {}, GOOGLE_URL, NOW, fast=False)
    publishers = {item.publisher for item in feed.items}
    assert "<b>" not in "".join(publishers)


GOOGLE_IDS = [
    # (link, article URL decoded from it, "" when none)
    (
        "https://news.google.com/rss/articles/CBMiE2phdmFzY3JpcHQ6YWxlcnQoMSk?oc=5",
        "",
    ),  # javascript:
    ("https://news.google.com/rss/articles/CBMiFmh0dHA6Ly8xMjcuMC4wLjEvYWRtaW4", ""),  # loopback
    ("https://news.google.com/rss/articles/CBMi?oc=5", ""),  # nothing after the prefix
    ("https://news.google.com/rss/articles/CBMiUmh0dHBz", ""),  # cut short
    ("https://news.google.com/rss/articles/%%%", ""),
    (
        "https://example.com/rss/articles/CBMiLmh0dHBzOi8vd3d3LmJiYy5jb20vbmV3cy9hcnRpY2xlcy9jampq",
        "",
    ),
    (
        "https://news.google.com/rss/articles/CBMiLmh0dHBzOi8vd3d3LmJiYy5jb20vbmV3cy9hcnRpY2xlcy9jampq"
        "bnhkdjE4OG_SATJodHRwczovL3d3dy5iYmMuY29tL25ld3MvYXJ0aWNsZXMvY2pqam54ZHYxODhvLmFtcA?oc=5",
        "https://www.bbc.com/news/articles/cjjjnxdv188o",
    ),
]


@pytest.mark.parametrize(("link", "article"), GOOGLE_IDS)
def test_google_news_ids_are_decoded_offline_or_left_alone(link: str, article: str) -> None:
    assert aggregators.google_article_url(link) == article


PUBLIC_URLS = [
    ("https://www.reuters.com/x", True),
    ("http://93.184.216.34/x", True),
    ("http://127.0.0.1/", False),
    ("http://10.1.2.3/", False),
    ("http://169.254.169.254/latest/meta-data/", False),
    ("http://[::1]/", False),
    ("http://[::ffff:192.168.0.1]/", False),
    ("http://localhost:8080/", False),
    ("http://printer.local/", False),
    ("http://intranet/", False),
    ("http://2130706433/", False),
    ("http://0x7f.1/", False),
    ("http://user:secret@www.example.com/", False),
    ("ftp://www.example.com/", False),
    ("javascript:alert(1)", False),
    ("//www.example.com/x", False),
]


@pytest.mark.parametrize(("url", "public"), PUBLIC_URLS)
def test_only_public_http_urls_are_taken_from_an_aggregators_link(url: str, public: bool) -> None:
    assert aggregators.is_public_http_url(url) is public


TITLES = [
    ("Talks resume - Reuters", "Reuters", "Talks resume"),
    ("Talks resume – TOLOnews", "TOLOnews", "Talks resume"),
    ("Talks resume - reuters", "Reuters", "Talks resume"),
    ("Reuters", "Reuters", "Reuters"),
    ("Talks resume - Reuters report", "Reuters", "Talks resume - Reuters report"),
    ("Talks resume", "", "Talks resume"),
]


@pytest.mark.parametrize(("title", "publisher", "expected"), TITLES)
def test_only_a_trailing_publisher_name_leaves_the_title(
    title: str, publisher: str, expected: str
) -> None:
    assert aggregators.without_publisher(title, publisher) == expected


CAPTURED = Path(__file__).parent / "data" / "corpus" / "fixtures" / "prof18__RSS-Parser"


def test_a_captured_google_news_feed_gives_the_publisher_and_decodes_the_article() -> None:
    body = (CAPTURED / "rssparser__src__commonTest__resources__feed-test-source.xml").read_bytes()
    feed = parse_feed(body, {}, "https://feeds.example.com/f", NOW)  # known by its channel link
    assert feed == parse_feed(body, {}, "https://feeds.example.com/f", NOW, fast=False)
    (item,) = feed.items
    assert item.title == (
        "Coronavirus en Belgique: 200 cas détectés au total, un nombre limité de tests "
        "effectués par manque de réactifs"
    )
    assert (item.publisher, item.publisher_url, item.language) == (
        "RTBF",
        "https://www.rtbf.be/",
        "fr",
    )
    assert item.url == (
        "https://www.rtbf.be/info/societe/detail_coronavirus-en-belgique-200-cas-detectes-au-"
        "total-la-circulation-du-virus-reste-limitee?id=10450793"
    )
    assert (item.key, item.key_kind) == ("52782335008021", "guid")
    assert (
        "Sudinfo.be" not in item.summary and "Coronavirus: 31 nouvelles infections" in item.summary
    )


def test_a_captured_bing_news_feed_gives_the_publisher_and_its_url() -> None:
    body = (CAPTURED / "rssparser__src__commonTest__resources__feed-bing-image.xml").read_bytes()
    feed = parse_feed(body, {}, "https://feeds.example.com/f", NOW)
    assert feed == parse_feed(body, {}, "https://feeds.example.com/f", NOW, fast=False)
    (item,) = feed.items
    assert (item.publisher, item.publisher_url) == ("Daily Mail", "https://www.dailymail.co.uk/")
    assert (
        item.url
        == item.key
        == (
            "https://www.dailymail.co.uk/sport/football/article-9554407/Real-Madrid-Barcelona-"
            "Juventus-threaten-clubs-withdrawing-Super-League-legal-action.html"
        )
    )
    assert item.language == "en"  # the feed says nothing; the text says English
