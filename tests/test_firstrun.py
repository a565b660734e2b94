"""From a first run to daily use, as a user would do it: ``tracker init``, a config in
a folder of its own, feeds checked when added, read-only databases, a set-up with
nothing to do said out loud. Every test runs the ``tracker`` command as a subprocess,
against servers on 127.0.0.1 (the slow tier)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import make_project
from dbfactory import populated_db
from hostile import news, rss
from httpserver import LocalServer, Reply, closed_port

from tracker import config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
FEED = rss(news(3), title="Kabul Wire")
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        local.route("/feed.xml", Reply(body=FEED, headers=XML))
        yield local


def page(*links: str) -> Reply:
    tags = "".join(f'<link rel="alternate" type="application/rss+xml" href="{h}">' for h in links)
    return Reply(body=f"<html><head>{tags}</head><body>News</body></html>".encode(), headers=HTML)


def reader_command(*args: str) -> list[str]:
    """``tracker ARGS`` as a user who may not write what is read-only (root is made to
    respect file modes by dropping its override capabilities)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: read-only files cannot be made")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    return [*prefix, sys.executable, "-m", "tracker", *args]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}


def tracker(*args: str, cwd: Path, reader: bool = False) -> subprocess.CompletedProcess[str]:
    """``tracker ARGS``; with ``reader``, as a user who may not write what is read-only."""
    command = reader_command(*args) if reader else [sys.executable, "-m", "tracker", *args]
    return subprocess.run(
        command,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def one_line_error(
    result: subprocess.CompletedProcess[str], words: str, *, usage: bool = False
) -> None:
    """Exit 2 with ``words`` in one line (a usage mistake: click's usage lines too)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    if not usage:
        assert result.stderr.count("\n") == 1, result.stderr


# ---- tracker init ----------------------------------------------------------------------


def test_init_writes_a_set_up_that_finds_the_shipped_topics(tmp_path: Path) -> None:
    made = tracker("init", "desk", "--empty", "--contact", "https://desk.example/", cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-3:] == [
        "  tracker --config desk/tracker.toml feeds add URL",
        "  tracker --config desk/tracker.toml run",
        "  tracker --config desk/tracker.toml browse",
    ]
    loaded = config.load_config(tmp_path / "desk" / "tracker.toml")
    assert loaded.feeds == ()
    assert loaded.db_path == tmp_path / "desk" / "tracker.db"
    assert loaded.settings.contact == "https://desk.example/"
    checked = tracker("--config", "desk/tracker.toml", "topics", "check", cwd=tmp_path)
    assert checked.returncode == 0 and "ok   us-taliban" in checked.stdout


def test_init_refuses_a_folder_with_files_and_force_never_overwrites(tmp_path: Path) -> None:
    desk = tmp_path / "desk"
    desk.mkdir()
    (desk / "notes.txt").write_text("mine", encoding="utf-8")

    one_line_error(tracker("init", "desk", cwd=tmp_path), "folder is not empty")
    assert sorted(p.name for p in desk.iterdir()) == ["notes.txt"]

    (desk / "tracker.toml").write_text("[settings]\n# my own\n", encoding="utf-8")
    forced = tracker("init", "desk", "--force", "--contact", "a@b.example", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "kept desk/tracker.toml" in forced.stdout
    assert (desk / "tracker.toml").read_text(encoding="utf-8") == "[settings]\n# my own\n"
    assert (desk / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_init_refuses_a_contact_that_is_no_address(tmp_path: Path) -> None:
    one_line_error(tracker("init", "desk", "--contact", "call me", cwd=tmp_path), "--contact")
    assert not (tmp_path / "desk").exists()


def test_a_config_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "cfg.toml").mkdir()
    one_line_error(tracker("--config", "cfg.toml", "status", cwd=tmp_path), "Is a directory")


# ---- a config in a folder of its own ----------------------------------------------------


def test_a_config_in_another_folder_finds_the_shipped_topics(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "empty.toml").write_text("[settings]\n", encoding="utf-8")

    checked = tracker("--config", "mine/empty.toml", "topics", "check", cwd=tmp_path)
    status = tracker("--config", "mine/empty.toml", "status", cwd=tmp_path)

    assert "ok   us-taliban" in checked.stdout
    assert "warning: no feeds configured" in status.stdout
    assert "no topics" not in status.stdout
    assert (tmp_path / "mine" / "db" / "tracker.db").is_file()  # relative to its folder


def test_run_without_topics_or_feeds_says_so_at_start_and_in_status(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "empty.toml").write_text(
        '[settings]\ntopics_dir = "topics"\n', encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    service = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", "mine/empty.toml", "run", "--tick", "1"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_until(service, "no topics", 30)
    finally:
        service.send_signal(signal.SIGTERM)
        _, rest = service.communicate(timeout=30)
    log = lines + rest
    assert "WARNING" in log and "nothing to do: no feeds configured" in log
    assert f"no topics: {tmp_path / 'mine' / 'topics'} does not exist" in log
    status = tracker("--config", "mine/empty.toml", "status", "--json", cwd=tmp_path)
    warnings = json.loads(status.stdout)["warnings"]
    assert any("no topics" in w for w in warnings), warnings


def read_until(process: subprocess.Popen[str], text: str, timeout: float) -> str:
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and text not in seen:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
    assert text in seen, seen
    return seen


# ---- feeds checked when added ------------------------------------------------------------


def test_feeds_add_prints_the_title_and_item_count(tmp_path: Path, server: LocalServer) -> None:
    make_project(tmp_path, [])
    upper_case_scheme = server.url("/feed.xml").replace("http://", "HTTP://")
    added = tracker("feeds", "add", upper_case_scheme, cwd=tmp_path)

    assert added.returncode == 0, added.stderr
    assert f"added {server.url('/feed.xml')}: 'Kabul Wire', 3 items" in added.stdout
    assert [f.url for f in config.load_config(tmp_path / "config" / "tracker.toml").feeds] == [
        server.url("/feed.xml")
    ]


def test_a_web_page_with_a_feed_link_is_followed(tmp_path: Path, server: LocalServer) -> None:
    make_project(tmp_path, [])
    server.route("/", page("/feed.xml"))

    added = tracker("feeds", "add", server.url("/"), cwd=tmp_path)

    assert added.returncode == 0, added.stderr
    assert f"(the feed of {server.url('/')})" in added.stdout
    feeds = config.load_config(tmp_path / "config" / "tracker.toml").feeds
    assert [f.url for f in feeds] == [server.url("/feed.xml")]


@pytest.mark.parametrize(
    ("path", "reply", "words"),
    [
        ("/missing.xml", None, "HTTP 404"),
        ("/gone.xml", Reply(status=410), "HTTP 410"),
        ("/plain.html", page(), "links to no feed"),
        ("/two.html", page("/feed.xml", "/other.xml"), "links to 2 feeds"),
        ("/text.txt", Reply(body=b"just words", headers={"Content-Type": "text/plain"}), "not"),
    ],
)
def test_what_is_not_one_feed_is_refused_and_nothing_is_written(
    tmp_path: Path, server: LocalServer, path: str, reply: Reply | None, words: str
) -> None:
    path_to_config = make_project(tmp_path, [])
    before = path_to_config.read_bytes()
    if reply is not None:
        server.route(path, reply)

    refused = tracker("feeds", "add", server.url(path), cwd=tmp_path)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert words in refused.stderr and "Traceback" not in refused.stderr
    assert path_to_config.read_bytes() == before
    if "2 feeds" in words:  # the choices are listed
        assert server.url("/feed.xml") in refused.stderr
        assert server.url("/other.xml") in refused.stderr


def test_an_unreachable_host_is_refused_unless_no_check(tmp_path: Path) -> None:
    path_to_config = make_project(tmp_path, [])
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"

    one_line_error(tracker("feeds", "add", url, cwd=tmp_path), "connection failed")
    assert config.load_config(path_to_config).feeds == ()
    offline = tracker("feeds", "add", url, "--no-check", cwd=tmp_path)
    assert offline.returncode == 0, offline.stderr
    assert [f.url for f in config.load_config(path_to_config).feeds] == [url]


@pytest.mark.parametrize("extra", [(), ("--no-check",)])
def test_link_local_and_forbidden_private_addresses_are_refused_at_add_time(
    tmp_path: Path, server: LocalServer, extra: tuple[str, ...]
) -> None:
    path_to_config = make_project(tmp_path, [], extra_settings="allow_private = false")

    metadata = tracker("feeds", "add", "http://169.254.169.254/latest/", *extra, cwd=tmp_path)
    private = tracker("feeds", "add", server.url("/feed.xml"), *extra, cwd=tmp_path)

    one_line_error(metadata, "link-local or metadata address")
    one_line_error(private, "allow_private is off")
    assert config.load_config(path_to_config).feeds == ()


def test_a_url_with_credentials_stays_out_of_the_output(
    tmp_path: Path, server: LocalServer
) -> None:
    make_project(tmp_path, [])
    secret = server.url("/feed.xml").replace("127.0.0.1", "reader:hunter2@127.0.0.1")
    missing = server.url("/nope.xml").replace("127.0.0.1", "reader:hunter2@127.0.0.1")

    added = tracker("feeds", "add", secret, cwd=tmp_path)
    refused = tracker("feeds", "add", missing, cwd=tmp_path)

    assert added.returncode == 0 and refused.returncode == 2
    everything = added.stdout + added.stderr + refused.stdout + refused.stderr
    assert "hunter2" not in everything and "reader:" not in everything
    assert "http://***@127.0.0.1" in everything
    assert server.received_on("/feed.xml")[0].headers["authorization"].startswith("Basic ")


def test_feeds_remove_several_by_match_or_all_and_status_forgets_them(
    tmp_path: Path, server: LocalServer
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/dead.xml"
    urls = [server.url("/feed.xml"), dead, "http://127.0.0.1:9/a.xml", "http://127.0.0.1:9/b.xml"]
    path_to_config = make_project(tmp_path, urls)
    assert tracker("poll", "--once", cwd=tmp_path).returncode == 0

    assert tracker("feeds", "remove", dead, urls[2], cwd=tmp_path).returncode == 0
    status = json.loads(tracker("status", "--json", cwd=tmp_path).stdout)
    assert status["failing"] == ["http://127.0.0.1:9/b.xml"]
    assert dead not in [f["url"] for f in status["feeds"]]

    matched = tracker("feeds", "remove", "--match", ":9/", cwd=tmp_path)
    assert "1 feed removed" in matched.stdout
    assert tracker("feeds", "remove", "--all", cwd=tmp_path).returncode == 0
    assert config.load_config(path_to_config).feeds == ()
    one_line_error(tracker("feeds", "remove", cwd=tmp_path), "give feed URLs", usage=True)


def test_opml_folders_and_titles_go_in_and_out(tmp_path: Path, server: LocalServer) -> None:
    make_project(tmp_path, [])
    (tmp_path / "in.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline text="Wires"><outline xmlUrl="{server.url("/feed.xml")}"/></outline>'
        "</body></opml>",
        encoding="utf-8",
    )
    assert tracker("feeds", "import-opml", "in.opml", cwd=tmp_path).returncode == 0
    assert tracker("poll", "--once", cwd=tmp_path).returncode == 0

    exported = tracker("feeds", "export-opml", cwd=tmp_path).stdout

    assert '<outline text="Wires" title="Wires">' in exported
    assert 'text="Kabul Wire"' in exported  # its own title, from the database


# ---- databases ---------------------------------------------------------------------------


@pytest.mark.parametrize("folder_read_only", [False, True])
def test_a_read_only_database_serves_status_and_flagged(
    tmp_path: Path, folder_read_only: bool
) -> None:
    make_project(tmp_path, [])
    db = tmp_path / "db" / "tracker.db"
    db.parent.mkdir()
    populated_db(db, datetime.now(UTC))
    db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    if folder_read_only:
        db.parent.chmod(0o555)
    try:
        status = tracker("status", "--json", cwd=tmp_path, reader=True)
        flagged = tracker("flagged", "--since", "7d", "--limit", "1", cwd=tmp_path, reader=True)
        run = tracker("run", cwd=tmp_path, reader=True)
    finally:
        db.parent.chmod(0o755)
        db.chmod(0o644)

    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["counts"]["items"] == 20
    assert flagged.returncode == 0, flagged.stderr
    assert flagged.stdout.endswith("1 flagged story\n")
    one_line_error(run, "tracker.db")


def test_browse_serves_a_database_in_a_read_only_folder(tmp_path: Path) -> None:
    make_project(tmp_path, [])
    shutil.copy(REPO / "config" / "datasette.yml", tmp_path / "config" / "datasette.yml")
    db = tmp_path / "db" / "tracker.db"
    db.parent.mkdir()
    populated_db(db, datetime.now(UTC))
    db.parent.chmod(0o555)
    port = closed_port()
    command = reader_command("browse", "--port", str(port))
    browser = subprocess.Popen(command, cwd=tmp_path, env=clean_env(), stderr=subprocess.PIPE)
    try:
        rows = wait_for_json(f"http://127.0.0.1:{port}/tracker/feeds.json?_shape=array", 60)
    finally:
        browser.terminate()
        browser.communicate(timeout=30)
        db.parent.chmod(0o755)
    assert len(rows) == 4


def wait_for_json(url: str, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_db_in_a_folder_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    make_project(tmp_path, [])

    for command in (("status",), ("flagged",), ("rescore",)):
        one_line_error(
            tracker("--db", "typo/tracker.db", *command, cwd=tmp_path), "no such folder: typo"
        )
    assert not (tmp_path / "typo").exists()
    assert tracker("--db", "new/tracker.db", "poll", "--once", cwd=tmp_path).returncode == 0
    assert (tmp_path / "new" / "tracker.db").is_file()


# ---- flagged --since and --topic ----------------------------------------------------------


def test_flagged_since_a_time_ago_or_a_date_and_an_unknown_topic(tmp_path: Path) -> None:
    make_project(tmp_path, [])
    db = tmp_path / "db" / "tracker.db"
    db.parent.mkdir()
    populated_db(db, datetime.now(UTC))

    recent = tracker("flagged", "--since", "7d", "--json", cwd=tmp_path)
    future = tracker("flagged", "--since", "2999-01-01", "--json", cwd=tmp_path)

    assert len(json.loads(recent.stdout)) >= 2
    assert json.loads(future.stdout) == []
    one_line_error(tracker("flagged", "--topic", "nope", cwd=tmp_path), "no topic named 'nope'")
