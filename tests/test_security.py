"""Security: where tracker may connect, what it shows, and what it keeps secret.

- Only http(s) feed URLs, in the config, on the command line and in redirects.
- Redirects into private, loopback, link-local or metadata addresses are refused
  (checked on the resolved address of every hop); ``allow_private = false`` refuses
  configured private addresses too.
- A corpus of XSS vectors goes through parse, store, ``tracker flagged``, alerts and
  every Datasette page that shows items: no executable markup comes out.
- Credentials in feed URLs reach the server but never the logs, the CLI's output, the
  database or alerts.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import sqlite3
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import REPO, Run, make_project
from hostile import (
    FAST,
    Behaviour,
    Entry,
    Harness,
    RawServer,
    assert_failed_cleanly,
    http_response,
    make_all_due,
    news,
    respond,
    rss,
    service_for,
    watch_project,
)
from httpserver import closed_port

from tracker import browse, fetch
from tracker.alerts import alerts_from_flags, render_json, render_text
from tracker.models import Settings
from tracker.poll import ParsePool

# ---- where tracker connects -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/",
        "http://[::ffff:169.254.169.254]/",
        "http://100.100.100.200/",
        "http://169.254.1.1:8080/",
    ],
)
def test_redirects_to_link_local_or_metadata_addresses_are_always_refused(
    server: RawServer, harness: Harness, target: str
) -> None:
    server.route("/feed", respond(b"", 302, {"Location": target}))
    url = server.url("/feed")
    harness.add(url)
    measured = harness.poll()
    assert_failed_cleanly(harness, url, "blocked", items_before=0)
    assert "link-local or metadata" in harness.feed(url)["last_error"]
    assert measured.elapsed < 1.0  # refused before any connection attempt


@pytest.mark.slow
def test_redirect_from_a_public_address_into_a_private_one_is_refused(
    server: RawServer, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.1 is made to look public to the guard (as a public host would resolve),
    and the redirect target ``localhost`` resolves to loopback."""

    async def resolve(host: str, port: int) -> list[fetch.IPAddress]:
        if host == "127.0.0.1":
            return [ipaddress.ip_address("93.184.216.34")]
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(fetch, "resolve_host", resolve)
    server.route("/feed", respond(b"", 302, {"Location": f"http://localhost:{server.port}/in"}))
    server.route("/in", respond(rss(news(2))))
    url = server.url("/feed")
    harness.add(url)
    harness.poll()
    assert_failed_cleanly(harness, url, "blocked", items_before=0)
    assert "redirect from a public address" in harness.feed(url)["last_error"]
    assert server.hits("/in") == 0, "the private address was contacted"


@pytest.mark.slow
def test_allow_private_off_refuses_configured_private_feeds_without_traffic(
    server: RawServer, harness: Harness
) -> None:
    server.route("/feed", respond(rss(news(2))))
    url = server.url("/feed")
    harness.add(url)
    harness.settings = Settings(**{**FAST.__dict__, "allow_private": False})
    harness.poll()
    assert_failed_cleanly(harness, url, "blocked", items_before=0)
    assert server.hits("/feed") == 0

    harness.settings = FAST  # the default: feeds the user configured on loopback are allowed
    harness.poll()
    assert harness.items(url) == 2


@pytest.mark.slow
def test_non_http_urls_are_refused_by_config_and_cli(tmp_path: Path, run_tracker: Run) -> None:
    config = make_project(tmp_path, [], with_topics=False)
    good = config.read_text()
    config.write_text(good + '\n[[feeds]]\nurl = "file:///etc/passwd"\n')
    listed = run_tracker("feeds", "list", check=False)
    assert listed.returncode == 2
    assert "tracker.toml:" in listed.stderr and "only http and https" in listed.stderr

    config.write_text(good)
    polled = run_tracker("poll", "--once", "javascript:alert(1)", check=False)
    added = run_tracker("feeds", "add", "ftp://example.org/feed", check=False)
    for result in (listed, polled, added):
        assert result.returncode == 2, result.stdout + result.stderr
        assert "only http and https" in result.stderr and "Traceback" not in result.stderr
    assert config.read_text() == good


# ---- no executable markup ----------------------------------------------------------------------

XSS_VECTORS = [
    "<script>alert('{m}')</script>",
    "<img src=x onerror=alert('{m}')>",
    "<svg onload=alert('{m}')>",
    "<a href=\"javascript:alert('{m}')\">click</a>",
    "<iframe src=\"javascript:alert('{m}')\"></iframe>",
    "\"><script>alert('{m}')</script>",
    "'><img src=x onerror=alert('{m}')>",
    "<body onload=alert('{m}')>",
    "<div style=\"background:url(javascript:alert('{m}'))\">x</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('{m}')>",
    "<object data=\"javascript:alert('{m}')\"></object>",
    "<embed src=\"data:text/html,<script>alert('{m}')</script>\">",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'{m}\')">',
    "<base href=\"javascript:alert('{m}')//\">",
    "<form action=\"javascript:alert('{m}')\"><button>x</button></form>",
    "<input autofocus onfocus=alert('{m}')>",
    "<details open ontoggle=alert('{m}')>",
    "<video><source onerror=alert('{m}')></video>",
    "<scr<script>ipt>alert('{m}')</scr</script>ipt>",
    "&lt;script&gt;alert('{m}')&lt;/script&gt;",
    "&amp;lt;img src=x onerror=alert('{m}')&amp;gt;",
    "<a href=\"jav&#x09;ascript:alert('{m}')\">tab</a>",
    "<IMG SRC=JaVaScRiPt:alert('{m}')>",
    "<svg><script>alert('{m}')</script></svg>",
    "<style>@import 'javascript:alert(\"{m}\")';</style>",
    "</textarea></title><script>alert('{m}')</script>",
    "<x onmouseover=alert('{m}')>hover</x>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert('{m}')>\">",
    "<a href=\"&#106;avascript:alert('{m}')\">entity</a>",
    "\u202e<script>alert('{m}')</script>\x1b[31m",
]
BAD_LINKS = [
    "javascript:alert('{m}')",
    " JAVASCRIPT:alert('{m}')",
    "data:text/html,<script>alert('{m}')</script>",
    "vbscript:msgbox('{m}')",
    "java\tscript:alert('{m}')",
]
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcdoc", "content", "poster"}
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


class LiveMarkup(HTMLParser):
    """Finds markup a browser would act on that carries a vector's marker."""

    def __init__(self, marker: str) -> None:
        super().__init__(convert_charrefs=True)
        self.marker = marker
        self.found: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.append(tag)
        for name, value in attrs:
            if value is None or self.marker not in value:
                continue
            plain = "".join(value.split()).lower()
            if name.startswith("on") or (name == "style" and "javascript:" in plain):
                self.found.append(f"<{tag} {name}=...>")
            elif name in URL_ATTRIBUTES and plain.startswith(BAD_SCHEMES):
                self.found.append(f"<{tag} {name}={value[:40]}>")
            elif tag in ("script", "iframe", "object", "embed", "base", "meta", "svg", "math"):
                self.found.append(f"<{tag}> from the feed")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag)]

    def handle_data(self, data: str) -> None:
        if self.marker in data and self._open and self._open[-1] in ("script", "style"):
            self.found.append(f"{self._open[-1]} code: {data[:60]}")


def is_web_link(text: str) -> bool:
    return text.startswith(("http://", "https://")) and " " not in text


def live_markup(html: str, marker: str = "XSS") -> list[str]:
    parser = LiveMarkup(marker)
    parser.feed(html)
    parser.close()
    return parser.found


def xss_entries() -> list[Entry]:
    entries = []
    for n, vector in enumerate(XSS_VECTORS):
        text = vector.format(m=f"XSS{n}")
        link = BAD_LINKS[n % len(BAD_LINKS)].format(m=f"XSS{n}") if n % 2 else None
        entries.append(
            Entry(
                guid=f"xss-{n}-{text}",
                title=f"Taliban {text}",  # the topic flags every item naming the Taliban
                link=link or f"http://outlet.example/xss/{n}?q=XSS{n}",
                summary=f"Taliban story {n}: {text}",
            )
        )
    raw = [
        Entry(f"raw-{n}", f"Taliban raw {n} {v.format(m=f'XSS{n}r')}", None, v, raw=True)
        for n, v in enumerate(XSS_VECTORS[:3])
    ]
    return entries + [
        Entry(f"cdata-{n}", f"Taliban cdata {n}", f"http://outlet.example/c{n}",
              f"<![CDATA[{v.format(m=f'XSS{n}c')}]]>", raw=True)
        for n, v in enumerate(XSS_VECTORS)
    ] + raw  # fmt: skip


@pytest.mark.slow
def test_xss_corpus_never_becomes_live_markup_in_cli_alerts_or_datasette(
    tmp_path: Path, pool: ParsePool, server: RawServer, run_tracker: Run
) -> None:
    assert len(XSS_VECTORS) >= 30
    hooks: list[bytes] = []

    def hook(sock: Any, request: bytes) -> None:
        hooks.append(request)
        sock.sendall(http_response(b"", 204))

    server.route("/hook", hook)
    evil_title = "Outlet <script>alert('XSSfeed')</script>"
    server.route("/feed", respond(rss(news(1), title=evil_title)))
    config = watch_project(tmp_path, [server.url("/feed")])
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[[alerts]]\ntype = "webhook"\nurl = "{server.url("/hook")}"\n')
    service = service_for(config, pool)
    try:
        asyncio.run(service.cycle())  # the first poll is backlog
        server.route("/feed", respond(rss([*news(1), *xss_entries()], title=evil_title)))
        make_all_due(service.store)
        asyncio.run(service.cycle())
        flags = service.store.conn.execute("SELECT COUNT(*) FROM flags").fetchone()[0]
    finally:
        service.store.close()
    db = Path(service.store.path)
    assert flags >= 60, "the vectors did not reach the flags"

    # tracker flagged: plain text for a terminal (feed text shows as the text it is),
    # links only when http(s), no escape codes or bidirectional overrides
    shown = run_tracker("flagged", "--limit", "500").stdout
    listed = json.loads(run_tracker("flagged", "--json", "--limit", "500").stdout)
    assert "XSS" in shown and len(listed) >= 30
    assert "\x1b" not in shown and "\u202e" not in shown
    lines = shown.splitlines()
    link_lines = [lines[n + 1].strip() for n, line in enumerate(lines[:-1]) if line[:2] == "20"]
    assert len(link_lines) >= 30
    assert all(is_web_link(line) for line in link_lines if line), link_lines[:5]
    assert all(row["url"] is None or is_web_link(row["url"]) for row in listed)

    # alerts: the webhook payloads and the e-mail text
    payloads = [json.loads(request.split(b"\r\n\r\n", 1)[1]) for request in hooks]
    assert payloads, "no alert was sent"
    for payload in payloads:
        text = json.dumps(payload)
        assert payload["url"] is None or payload["url"].startswith("http://outlet.example/")
        assert "\\u001b" not in text and "\\u202e" not in text
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        from tracker.models import NewFlag

        rows = conn.execute(
            "SELECT flags.item_id, items.story_id, flags.topic, items.title, items.url, "
            "feeds.title AS feed, flags.score, flags.reasons FROM flags "
            "JOIN items ON items.id = flags.item_id JOIN feeds ON feeds.id = items.feed_id"
        ).fetchall()
    alerts = alerts_from_flags([NewFlag(*row, backlog=False) for row in rows])
    for alert in alerts:
        subject, body = render_text(alert)
        link = body.splitlines()[1]
        assert is_web_link(link) or link == "(no link)", link
        assert render_json(alert)["url"] is None or is_web_link(render_json(alert)["url"])
        assert "\x1b" not in subject + body and "\u202e" not in subject + body

    # Datasette: every page that shows items, flags, feeds or polls
    app = browse.make_app(db, REPO / "config" / "datasette.yml")
    story_ids = sorted({alert.story_id for alert in alerts})[:10]
    pages = [
        "/tracker/items?_size=max",
        "/tracker/flags?_size=max",
        "/tracker/feeds",
        "/tracker/polls",
        "/tracker/item_feeds?_size=max",
        "/tracker/flagged?_size=max",
        "/tracker/flagged_stories?_size=max",
        "/tracker/relevant?_size=max",
        "/tracker/feed_health",
        "/tracker/flagged_followups?topic=&since=",
        "/tracker/latest_matches?topic=",
        "/tracker/search_flagged?q=",
        "/tracker/search_flagged?q=Taliban",
        "/tracker/search_items?q=",
        "/tracker/search_items?q=Taliban",
        "/tracker/items?_search=script",
        *(f"/tracker/story?story_id={story}" for story in story_ids),
        *(f"/tracker/items/{n}" for n in range(1, 70)),
    ]
    scanned = shown_vectors = 0
    for page in pages:
        response = asyncio.run(app.client.get(page))
        assert response.status_code in (200, 404), (page, response.status_code)
        if response.status_code == 200:
            scanned += 1
            shown_vectors += "XSS" in response.text
            assert not live_markup(response.text), (page, live_markup(response.text)[:3])
    assert scanned >= 60 and shown_vectors >= 50, (scanned, shown_vectors)
    atom = asyncio.run(app.client.get("/tracker/flagged_atom.atom?topic="))
    assert atom.status_code == 200
    parsed = feedparser.parse(atom.content)
    assert len(parsed.entries) >= 30
    for entry in parsed.entries:
        assert all(c.type == "text/plain" for c in entry.get("content", []))
        assert entry.title_detail.type == "text/plain"
        assert not entry.get("link", "").lower().startswith(BAD_SCHEMES)


def test_the_markup_finder_finds_live_markup() -> None:
    """The scanner above must be able to fail."""
    live = [v for v in XSS_VECTORS if live_markup(v.format(m="XSS1") + "</style>")]
    assert len(live) >= 24, set(XSS_VECTORS) - set(live)
    assert not live_markup("&lt;script&gt;alert('XSS1')&lt;/script&gt;")
    assert not live_markup('<a href="http://o.example/?q=XSS1">x</a>')


# ---- credentials --------------------------------------------------------------------------------

USER, PASSWORD, TOKEN = "reader", "s3cr3t-pw-91", "tok3n-77a"


def basic_auth_only(body: bytes) -> Behaviour:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def behave(sock: Any, request: bytes) -> None:
        authorised = f"authorization: {expected}".lower().encode() in request.lower()
        sock.sendall(http_response(body if authorised else b"no", 200 if authorised else 401))

    return behave


@pytest.mark.slow
def test_credentials_in_feed_urls_reach_the_server_and_nothing_else(
    tmp_path: Path, run_tracker: Run, server: RawServer, caplog: pytest.LogCaptureFixture
) -> None:
    private = [Entry(f"p{n}", f"Private {n}", f"/article/{n}") for n in range(3)]
    server.route("/private.xml", basic_auth_only(rss(private, title="")))
    server.route("/moved.xml", respond(b"", 301, {"Location": "/private.xml"}))
    server.route("/token.xml", respond(rss(news(2, "tok"))))
    secret_host = f"{USER}:{PASSWORD}@127.0.0.1"
    urls = [
        f"http://{secret_host}:{server.port}/private.xml",
        f"http://{secret_host}:{server.port}/moved.xml",
        f"http://127.0.0.1:{server.port}/token.xml?token={TOKEN}",
        f"http://{secret_host}:{closed_port()}/down.xml",
    ]
    make_project(tmp_path, urls, with_topics=False)
    outputs = [run_tracker("-vv", "poll", "--once") for _ in range(2)]  # a 301 confirmed
    outputs += [
        run_tracker("status", check=False),
        run_tracker("status", "--json", check=False),
        run_tracker("feeds", "list"),
    ]
    db = tmp_path / "db" / "tracker.db"
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
        links = [
            row[0] for row in conn.execute("SELECT link FROM items WHERE link LIKE '%article%'")
        ]
        stored = {row[0] for row in conn.execute("SELECT url FROM feeds")}  # fmt: skip

    assert server.hits("/private.xml") >= 2
    assert len(links) == 3 and all(link.startswith("http://127.0.0.1:") for link in links)
    assert f"http://***@127.0.0.1:{server.port}/private.xml" in stored
    assert f"http://***@127.0.0.1:{server.port}/moved.xml" in stored, "moved with credentials"
    assert len(stored) == len(urls)
    everything = dump + "".join(r.stdout + r.stderr for r in outputs)
    assert "FAIL" in outputs[0].stdout and "connect" in outputs[0].stdout
    for secret in (PASSWORD, TOKEN, f"{USER}:"):
        assert secret not in everything, f"{secret} leaked"
    export = run_tracker("feeds", "export-opml").stdout
    assert PASSWORD in export, "the export must keep the URLs the user configured"


@pytest.mark.slow
def test_credentials_never_reach_alerts_or_the_service_log(
    tmp_path: Path, pool: ParsePool, server: RawServer, caplog: pytest.LogCaptureFixture
) -> None:
    hooks: list[bytes] = []

    def hook(sock: Any, request: bytes) -> None:
        hooks.append(request)
        sock.sendall(http_response(b"", 204))

    server.route("/hook", hook)
    first = [Entry("old", "Old Taliban news", "/old")]
    server.route("/private.xml", basic_auth_only(rss(first, title="")))
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{server.port}/private.xml"
    config = watch_project(tmp_path, [url, f"http://{USER}:{PASSWORD}@127.0.0.1:1/none.xml"])
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[[alerts]]\ntype = "webhook"\nurl = "{server.url("/hook")}"\n')
    service = service_for(config, pool)
    with caplog.at_level(logging.DEBUG):
        try:
            asyncio.run(service.cycle())
            fresh = Entry("new", "Taliban envoy named", "/new")
            server.route("/private.xml", basic_auth_only(rss([*first, fresh], title="")))
            make_all_due(service.store)
            asyncio.run(service.cycle())
        finally:
            service.store.close()
    assert len(hooks) == 1
    alert = json.loads(hooks[0].split(b"\r\n\r\n", 1)[1])
    assert alert["feed"] == f"http://***@127.0.0.1:{server.port}/private.xml"
    assert alert["url"] == f"http://127.0.0.1:{server.port}/new"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("tracker"))
    assert PASSWORD not in ours + hooks[0].decode()  # (the CLI keeps httpx's own logs quiet)
    assert "poll failed" in ours


def test_a_feed_stored_with_credentials_before_is_redacted_in_place(tmp_path: Path) -> None:
    from tracker.models import FeedConfig
    from tracker.poll import utcnow
    from tracker.store import Store

    url = f"http://{USER}:{PASSWORD}@feeds.example/private.xml"
    with Store(tmp_path / "tracker.db") as store:
        store.conn.execute(
            "INSERT INTO feeds (url, configured, created_at) VALUES (?, 1, '2026-01-01')", (url,)
        )  # as tracker stored it before credentials were kept out of the database
        store.sync_feeds([FeedConfig(url)], utcnow())
        rows = store.conn.execute("SELECT id, url FROM feeds").fetchall()
        state = store.feed(url)
    assert [tuple(row) for row in rows] == [(1, "http://***@feeds.example/private.xml")]
    assert state is not None and state.id == 1
