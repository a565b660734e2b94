"""is_http_url, canonical_url, absolute_url and the redactor: tables of input -> expected."""

from __future__ import annotations

import random
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest

from tracker.urls import absolute_url, canonical_url, is_http_url, redact_text, redact_url

CANONICAL = [
    # (url, base, expected)
    ("https://example.com/a", None, "https://example.com/a"),
    ("HTTPS://Example.COM/Path/Case", None, "https://example.com/Path/Case"),
    ("http://example.com:80/a", None, "http://example.com/a"),
    ("https://example.com:443/a", None, "https://example.com/a"),
    ("https://example.com:8443/a", None, "https://example.com:8443/a"),
    ("http://example.com:443/a", None, "http://example.com:443/a"),
    ("https://example.com", None, "https://example.com/"),
    ("https://example.com?x=1", None, "https://example.com/?x=1"),
    ("https://example.com/a#section-2", None, "https://example.com/a"),
    ("https://user:secret@example.com/a", None, "https://example.com/a"),
    ("https://user@example.com/a", None, "https://example.com/a"),
    ("  https://example.com/a  ", None, "https://example.com/a"),
    ("https://example.com/a b", None, "https://example.com/a%20b"),
    ("http://[2001:DB8::1]:8080/a", None, "http://[2001:db8::1]:8080/a"),
    # relative links resolve against the base
    ("/news/1", "https://example.com/feed.xml", "https://example.com/news/1"),
    ("story.html", "https://example.com/world/rss.xml", "https://example.com/world/story.html"),
    ("../up", "https://example.com/a/b/feed", "https://example.com/a/up"),
    ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
    ("https://other.example/x", "https://example.com/", "https://other.example/x"),
    # tracking parameters go, others stay in order
    ("https://example.com/a?utm_source=rss&utm_medium=feed", None, "https://example.com/a"),
    ("https://example.com/a?id=7&utm_campaign=x&page=2", None, "https://example.com/a?id=7&page=2"),
    ("https://example.com/a?UTM_Source=x&b=1", None, "https://example.com/a?b=1"),
    (
        "https://www.bbc.co.uk/news/world-58579833?at_medium=RSS&at_campaign=KARANGA",
        None,
        "https://www.bbc.co.uk/news/world-58579833",
    ),
    ("https://example.com/a?fbclid=abc&gclid=def&mc_cid=1&mc_eid=2", None, "https://example.com/a"),
    (
        "https://example.com/a?ocid=x&cmpid=y&xtor=RSS-1&ito=1490&rss=1",
        None,
        "https://example.com/a",
    ),
    (
        "https://example.com/a?ns_mchannel=rss&ns_source=x&ns_campaign=y&ns_linkname=z&ns_fee=0",
        None,
        "https://example.com/a",
    ),
    (
        "https://www.nytimes.com/2021/09/16/world/asia/a.html?partner=rss&emc=rss",
        None,
        "https://www.nytimes.com/2021/09/16/world/asia/a.html",
    ),
    ("https://example.com/a?ref=rss", None, "https://example.com/a"),
    ("https://example.com/a?ref=homepage", None, "https://example.com/a?ref=homepage"),
    ("https://example.com/a?partner=acme", None, "https://example.com/a?partner=acme"),
    ("https://example.com/a?b=2&a=1", None, "https://example.com/a?b=2&a=1"),
    ("https://example.com/a?q=a+b&x=%20", None, "https://example.com/a?q=a+b&x=%20"),
    ("https://example.com/a?x=1&&y=2&", None, "https://example.com/a?x=1&y=2"),
    ("https://example.com/a?flag", None, "https://example.com/a?flag"),
    # not http(s), or not a URL at all
    (None, None, None),
    ("", None, None),
    ("   ", "https://example.com/", None),
    ("javascript:alert(1)", None, None),
    ("javascript:alert(1)", "https://example.com/", None),
    ("JavaScript:alert(1)", "https://example.com/", None),
    ("data:text/html,hi", None, None),
    ("mailto:editor@example.com", "https://example.com/", None),
    ("ftp://example.com/file", None, None),
    ("file:///etc/passwd", None, None),
    ("/relative/without/base", None, None),
    ("www.example.com/a", None, None),
    ("https:///no-host", None, None),
    ("http://[::1", None, None),
    ("/a", "http://[::1", None),
    ("http://example.com:notaport/", None, None),
]


@pytest.mark.parametrize(("url", "base", "expected"), CANONICAL)
def test_canonical_url(url: str | None, base: str | None, expected: str | None) -> None:
    assert canonical_url(url, base) == expected


def test_canonical_url_is_idempotent() -> None:
    for url, base, expected in CANONICAL:
        if expected is not None:
            assert canonical_url(expected) == expected, (url, base)


REDACT = [
    ("https://user:pass@example.com/feed", "https://***@example.com/feed"),
    ("https://token@example.com/feed", "https://***@example.com/feed"),
    ("https://a:b@c@example.com/feed", "https://***@example.com/feed"),
    ("https://example.com/feed?key=s3cret&page=2", "https://example.com/feed?key=***&page=2"),
    ("https://example.com/feed?api_key=s3cret#x", "https://example.com/feed?api_key=***#x"),
    ("https://example.com/feed?token=", "https://example.com/feed?token="),
    ("https://example.com/feed", "https://example.com/feed"),
    ("https://example.com/a@b", "https://example.com/a@b"),
    ("not a url", "not a url"),
    ("", ""),
]


@pytest.mark.parametrize(("url", "expected"), REDACT)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_redacts_every_url_in_a_message() -> None:
    message = (
        "cannot reach 'https://a:b@c@example.com/feed?token=t0k&x=1' "
        "(from http://u:pw@h.example/x), via ftp://me:pw2@f.example"
    )
    assert redact_text(message) == (
        "cannot reach 'https://***@example.com/feed?token=***&x=1' "
        "(from http://***@h.example/x), via ftp://***@f.example"
    )
    assert redact_text("no URL here: user@example.com") == "no URL here: user@example.com"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/feed.xml", True),
        ("HTTP://Example.org", True),
        ("  http://example.org/a  ", True),
        ("http://[2001:db8::1]:8080/", True),
        ("http://example.org:65535/", True),
        ("http://example.org:99999/", False),
        ("http://example.org:port/", False),
        ("http://[::1", False),
        ("https://", False),
        ("http:///no-host", False),
        ("//example.org/feed", False),
        ("example.org/feed", False),
        ("ftp://example.org/feed", False),
        ("javascript:alert(1)", False),
        ("", False),
        (None, False),
    ],
)
def test_is_http_url(url: str | None, expected: bool) -> None:
    assert is_http_url(url) is expected


ABSOLUTE = [
    ("/a?utm_source=x#frag", "https://example.com/feed", "https://example.com/a?utm_source=x#frag"),
    ("HTTPS://Example.com/A", None, "HTTPS://Example.com/A"),
    ("javascript:alert(1)", "https://example.com/", None),
    ("/a", None, None),
    (None, "https://example.com/", None),
    ("http://[::1", None, None),
    ("http://[::1", "https://example.com/", None),
    ("/a", "http://[::1", None),
    # what resolving changes, even in an absolute link (its base has the same scheme)
    ("http://example.com/a?", "http://example.com/", "http://example.com/a"),
    ("http://example.com/a#", "http://example.com/", "http://example.com/a"),
    ("http://example.com/a;", "http://example.com/", "http://example.com/a"),
    ("http://example.com/a?#f", "http://example.com/", "http://example.com/a#f"),
    ("HTTP://example.com/a?", "http://example.com/", "http://example.com/a"),
    ("http://example.com/a\tb", "http://example.com/", "http://example.com/ab"),
    ("http://example.com/a?", "https://example.com/", "http://example.com/a?"),
    ("http://example.com/a", "http://[::1", None),
    ("https://example.com/a?x=1#y", "https://example.com/", "https://example.com/a?x=1#y"),
    ("http://example.com:8080/a", None, "http://example.com:8080/a"),
    ("http://example.com:65535/a", None, "http://example.com:65535/a"),
    ("http://example.com:65536/a", None, None),  # a link no browser could follow
]


@pytest.mark.parametrize(("url", "base", "expected"), ABSOLUTE)
def test_absolute_url_resolves_but_keeps_the_link_as_given(
    url: str | None, base: str | None, expected: str | None
) -> None:
    assert absolute_url(url, base) == expected


# Pieces of links, ordinary and odd: random links made of them are resolved and made
# canonical exactly as urllib does it (the common ones take a shortcut that must agree).
_PIECES = [
    *("http https HTTP ftp : // / ? # ; a B . .. - [ ] ::1 @ %20 = & 80 :8080 :443 \\".split()),
    *(" ", "\t", "\n", "\x00", "\x7f", "\u00a0", "é", "", "example.com", "Ex.COM"),
    *("utm_source=x", "fbclid=1", "a=b", "?utm_medium=z", "/p", "q=1"),
]
_STARTS = ["", "http://", "https://", " https://", "http://example.com/", "https://a.b:8080"]
_BASES = [None, "", "http://example.com/a/b", "HTTP://X.com/d/", "ftp://x/", "http://[::1"]


def _reference_absolute(url: str, base: str | None) -> str | None:
    if not url.strip():
        return None
    url = url.strip().replace(" ", "%20")
    try:
        resolved = urljoin(base.strip(), url) if base else url
        parts = urlsplit(resolved.strip())
        _ = parts.port
    except ValueError:
        return None
    return resolved if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _reference_canonical(url: str, base: str | None) -> str | None:
    resolved = url.strip().replace(" ", "%20")
    try:
        resolved = urljoin(base.strip(), resolved) if base else resolved
        parts = urlsplit(resolved)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host or not url.strip():
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    tracking = ("utm_source", "utm_medium", "fbclid")
    query = "&".join(p for p in parts.query.split("&") if p and p.split("=")[0] not in tracking)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


@pytest.mark.slow
def test_random_links_resolve_and_canonicalise_as_urllib_does() -> None:
    rng = random.Random(20261128)
    for _ in range(20_000):
        pieces = rng.choices(_PIECES, k=rng.randint(1, 8))
        url = rng.choice(_STARTS) + "".join(pieces)
        base = rng.choice(_BASES)
        assert absolute_url(url, base) == _reference_absolute(url, base), (url, base)
        assert canonical_url(url, base) == _reference_canonical(url, base), (url, base)
