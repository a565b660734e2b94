"""``tracker browse`` in a real browser: headless Chromium against a served database.

Starts the command ``browse.datasette_command`` builds (what ``tracker browse``
runs) on a free port of 127.0.0.1 over a populated database, and reads each page's
DOM after its scripts ran. Chromium may resolve no name but 127.0.0.1, so a page
that needed the internet (a CDN script) would fail here as it would offline.

Needs Debian's ``chromium`` (``apt-get install -y chromium``): .ci/run installs it
before the suite; without it these tests are skipped with a message saying how to
install it. Nothing is installed from inside the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cdp
import pytest
from dbfactory import STORY_TITLE, populated_db

from tracker import browse

# Every test here runs a Datasette server and a browser as subprocesses: the slow tier.
pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
METADATA = ROOT / "config" / "datasette.yml"
STARTUP_SECONDS = 20.0
PAGE_SECONDS = 60.0
# The protocol driver's flags (no network beyond loopback, no first-run work), plus
# what --dump-dom needs: time for the page's scripts, a laptop-sized window.
CHROMIUM_FLAGS = (*cdp.FLAGS, "--virtual-time-budget=10000", "--window-size=1400,1000")


NO_CHROMIUM = (
    "Chromium is not installed, so the browser tests cannot run. Install Debian's package "
    "with `sudo apt-get install -y chromium` (.ci/run does this before the suite), or "
    "deselect these tests with `-m 'not browser'`."
)


@pytest.fixture(scope="module")
def chromium() -> str:
    """The installed Chromium; the module's tests are skipped without one."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(NO_CHROMIUM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"datasette exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/-/versions.json", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"datasette did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser")
    db_path = folder / "tracker.db"
    populated_db(db_path)
    port = free_port()
    log = folder / "datasette.log"
    command = browse.datasette_command(db_path, METADATA, "127.0.0.1", port)
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, as headless Chromium serialises it."""
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        timeout=PAGE_SECONDS,
        env={**os.environ, "HOME": str(profile)},
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return result.stdout.decode()


def test_flagged_followups_page_shows_the_flagged_stories(
    chromium: str, site: str, tmp_path: Path
) -> None:
    dom = dump_dom(chromium, f"{site}/tracker/flagged_followups", tmp_path)
    assert "Flagged stories, one row each" in dom
    assert f"{STORY_TITLE} - Kabul Wire" in dom
    assert "Kabul Wire,Daily Herald,Radio Asia" in dom
    assert "<mark>envoy</mark>" in dom
    assert dom.count('<ul class="tracker-reasons"') == 5
    assert '<a href="https://news.example.org/2026/03/envoy-doha"' in dom
    assert not re.search(r"href=\"javascript:", dom, re.I)


def test_search_finds_an_item(chromium: str, site: str, tmp_path: Path) -> None:
    dom = dump_dom(chromium, f"{site}/tracker/items?_search=%22embassy+in+Kabul%22", tmp_path)
    assert "2 rows where search matches" in dom
    assert "Diplomats weigh reopening the embassy in Kabul" in dom
    assert "Kabul residents face long power cuts" not in dom


def test_dashboard_draws_the_charts_as_svg_bars(chromium: str, site: str, tmp_path: Path) -> None:
    dom = dump_dom(chromium, f"{site}/-/dashboards/flags", tmp_path)
    charts = re.findall(r'<div id="chart-([\w-]+)".*?</svg>', dom, re.S)
    assert sorted(charts) == ["per-day", "per-outlet"], dom[-3000:]
    bars = re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', dom, re.S)
    assert [chunk.count("<path") for chunk in bars] == [4, 3]  # 4 days, 3 outlets
    for label in ("2026-03-06", "2026-03-09", "Kabul Wire", "Daily Herald", "Radio Asia"):
        assert f">{label}</text>" in dom


# ---- the analyst's desk (#17): a polled database not named tracker.db -------------

DESK_ITEMS = (
    (
        "US and Taliban officials discuss use of frozen Afghan central bank reserves",
        "Talks in Doha focused on a mechanism to release billions of dollars held in the "
        "United States for the benefit of the Afghan people.",
        "https://desk.example.org/2026/frozen-reserves",
    ),
    (
        "Taliban confirm contacts with Washington over release of detained Americans",
        "A Taliban foreign ministry official said negotiations with US representatives "
        "were ongoing.",
        "https://desk.example.org/2026/detained-americans",
    ),
)
WRONG_URL = DESK_ITEMS[0][2]
SCREENSHOTS = ROOT / "tests" / "data" / "screenshots"


def desk_feed() -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><description>{summary}</description><link>{url}</link>"
        f"<guid>{url}</guid><pubDate>Mon, 0{n} Mar 2026 08:00:00 GMT</pubDate></item>"
        for n, (title, summary, url) in enumerate(DESK_ITEMS, start=2)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Desk Wire</title>'
        f"<link>https://desk.example.org/</link>{entries}</channel></rss>"
    ).encode()


@pytest.fixture(scope="module")
def desk_site(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Path]:
    """A project polled for real into db/news.db, served by ``tracker browse``."""
    from conftest import make_project
    from httpserver import LocalServer, Reply

    root = tmp_path_factory.mktemp("desk")
    with LocalServer() as feeds:
        feeds.route(
            "/desk.xml", Reply(body=desk_feed(), headers={"Content-Type": "application/xml"})
        )
        make_project(root, [feeds.url("/desk.xml")])
        shutil.copy(METADATA, root / "config" / "datasette.yml")
        tracker(root, "--db", "db/news.db", "poll", "--once")
    yield root


def tracker(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    return subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def desk_url(desk_site: Path) -> Iterator[str]:
    port = free_port()
    log = desk_site / "browse.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    command = [sys.executable, "-m", "tracker", "--db", "db/news.db", "browse", "--port", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=desk_site, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, server, log)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_desk_takes_a_wrong_flag_off_the_inbox_and_into_eval(
    chromium: str, desk_site: Path, desk_url: str, tmp_path: Path
) -> None:
    with cdp.Page(chromium, tmp_path) as page:
        page.goto(f"{desk_url}/")
        dom = page.html()
        assert "Flagged follow-ups" in dom
        title = re.search(rf'<a href="{WRONG_URL}"[^>]*>(.*?)</a>', dom)
        assert title, dom[-3000:]
        assert "<mark>Taliban</mark>" in title.group(1)
        assert "frozen <mark>Afghan central bank</mark> reserves" in title.group(1)
        page.click_and_wait(f'article:has(a[href="{WRONG_URL}"]) button[value="wrong"]')
        page.goto(f"{desk_url}/")
        dom = page.html()
        assert WRONG_URL not in dom
        assert DESK_ITEMS[1][2] in dom  # the other flag stays
        page.goto(f"{desk_url}/?status=wrong")
        assert WRONG_URL in page.html()
    report = tracker(desk_site, "--db", "db/news.db", "eval", "--reviews").stdout
    assert "1 reviewed items" in report
    assert "false flags (labeled 0, flagged): 1" in report
    assert f"- {WRONG_URL}" in report


def test_the_desk_fits_a_laptop_and_a_phone(chromium: str, desk_url: str, tmp_path: Path) -> None:
    """Screenshots the desk at laptop and phone widths and checks that the phone-width
    desk and development page need no sideways scrolling. With UPDATE_SCREENSHOTS=1
    the screenshots replace the README's (tests/data/screenshots/)."""
    shots = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    with cdp.Page(chromium, tmp_path / "profile") as page:
        page.goto(f"{desk_url}/?status=all")
        page.screenshot(shots / "desk-laptop.png", 1366, 800)
        page.screenshot(shots / "desk-phone.png", 390, 844, mobile=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the phone-width desk scrolls sideways by {overflow} px"
        development = re.search(r'href="(/-/desk/development\?id=\d+)"', page.html())
        assert development, "the desk links no development page"
        page.goto(f"{desk_url}{development.group(1)}")
        page.screenshot(shots / "desk-development.png", 1366, 800)
        page.screenshot(tmp_path / "development-phone.png", 390, 844, mobile=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the phone-width development page scrolls sideways by {overflow} px"
        assert "Coverage over time" in page.html()
        page.goto(f"{desk_url}/-/desk/search?q=Taliban")
        first = "document.querySelector('article.desk-entry').getBoundingClientRect().top"
        top = page.evaluate(first)
        assert top < 844, f"the first search result is {top} px down"
    for name in ("desk-laptop.png", "desk-phone.png", "desk-development.png"):
        assert (shots / name).read_bytes().startswith(b"\x89PNG")
