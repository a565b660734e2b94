"""``tracker browse`` in a real browser: headless Chromium against a served database.

Starts the command ``browse.datasette_command`` builds (what ``tracker browse``
runs) on a free port of 127.0.0.1 over a populated database, and reads each page's
DOM after its scripts ran. Chromium may resolve no name but 127.0.0.1, so a page
that needed the internet (a CDN script) would fail here as it would offline.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); CI installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbfactory import STORY_TITLE, populated_db

from tracker import browse

# The first test may install Chromium with apt-get, which can take minutes.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[1]
METADATA = ROOT / "config" / "datasette.yml"
STARTUP_SECONDS = 20.0
PAGE_SECONDS = 60.0
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=10000",
    "--window-size=1400,1000",
)


def chromium() -> str:
    """Debian's Chromium; the test set-up installs it with apt-get when it can (root)."""
    found = _find_chromium() or _install_chromium()
    if found:
        return found
    pytest.fail(
        "Chromium is not installed and could not be installed: the browser tests need it. "
        "Install it with `apt-get install -y chromium` (Debian), or deselect them with "
        "`-m 'not browser'`."
    )


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _install_chromium() -> str | None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "install", "-y", "-q", "chromium"],
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "chromium"],
    ):
        subprocess.run(command, env=env, capture_output=True, check=False, timeout=900)
        if _find_chromium():
            break
    return _find_chromium()


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
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
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


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, as headless Chromium serialises it."""
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        timeout=PAGE_SECONDS,
        env={**os.environ, "HOME": str(profile)},
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return result.stdout.decode()


def test_flagged_followups_page_shows_the_flagged_stories(site: str, tmp_path: Path) -> None:
    dom = dump_dom(f"{site}/tracker/flagged_followups", tmp_path)
    assert "Flagged follow-ups" in dom
    assert f"{STORY_TITLE} - Kabul Wire" in dom
    assert "Kabul Wire,Daily Herald,Radio Asia" in dom
    assert "<mark>envoy</mark>" in dom
    assert dom.count('<ul class="tracker-reasons"') == 5
    assert '<a href="https://news.example.org/2026/03/envoy-doha"' in dom
    assert not re.search(r"href=\"javascript:", dom, re.I)


def test_search_finds_an_item(site: str, tmp_path: Path) -> None:
    dom = dump_dom(f"{site}/tracker/items?_search=%22embassy+in+Kabul%22", tmp_path)
    assert "2 rows where search matches" in dom
    assert "Diplomats weigh reopening the embassy in Kabul" in dom
    assert "Kabul residents face long power cuts" not in dom


def test_dashboard_draws_the_charts_as_svg_bars(site: str, tmp_path: Path) -> None:
    dom = dump_dom(f"{site}/-/dashboards/flags", tmp_path)
    charts = re.findall(r'<div id="chart-([\w-]+)".*?</svg>', dom, re.S)
    assert sorted(charts) == ["per-day", "per-outlet"], dom[-3000:]
    bars = re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', dom, re.S)
    assert [chunk.count("<path") for chunk in bars] == [4, 3]  # 4 days, 3 outlets
    for label in ("2026-03-06", "2026-03-09", "Kabul Wire", "Daily Herald", "Radio Asia"):
        assert f">{label}</text>" in dom
