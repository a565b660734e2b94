"""User mistakes on the command line get a short message and exit code 2, never a
traceback; the feeds commands edit the config as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Run, make_project

# Every test here runs the tracker command as a subprocess: the slow tier.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("feeds", "add", "notaurl"), "only http and https URLs can be polled"),
        (("feeds", "add", "http://127.0.0.1:9/x.xml", "--interval", "5s"), "at least 10s"),
        (("feeds", "add", "http://127.0.0.1:9/x.xml", "--interval", "soon"), "duration"),
        (("feeds", "remove", "http://nowhere.test/feed"), "no such feed"),
        (("--config", "missing.toml", "status"), "config file not found"),
        (("flagged", "--since", "yesterday-ish"), "expected a date"),
        (("poll",), "tracker poll --once"),
        (("poll", "--once", "ftp://127.0.0.1/feed"), "only http and https"),
        (("rescore", "--topic", "nosuch"), "no topic named 'nosuch'"),
        (("feeds", "import-opml", "missing.opml"), "cannot read"),
        (("eval", "missing.yaml"), "missing.yaml"),
        (("eval",), "give a labeled FILE or --reviews"),
        (("eval", "--reviews"), "no reviews yet"),
        (("eval", "x.yaml", "--export", "out.yaml"), "--export goes with --reviews"),
        (("review", "https://nowhere.test/x", "--wrong"), "no stored item has the URL"),
        (("review", "https://nowhere.test/x"), "say --right, --wrong or --important"),
    ],
)
def test_user_mistakes_get_one_clear_line(
    tmp_path: Path, run_tracker: Run, args: tuple[str, ...], message: str
) -> None:
    make_project(tmp_path, [])
    result = run_tracker(*args, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_config_names_file_line_and_key(tmp_path: Path, run_tracker: Run) -> None:
    config = make_project(tmp_path, ["http://127.0.0.1:9/feed.xml"])
    config.write_text(config.read_text().replace("[[feeds]]", "[[feed]]"), encoding="utf-8")
    result = run_tracker("poll", "--once", check=False)
    assert result.returncode == 2
    assert "config/tracker.toml:8: feed: unknown key" in result.stderr
    assert "did you mean 'feeds'" in result.stderr


def test_feeds_add_list_export_import_remove(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, ["http://127.0.0.1:9/a.xml"])
    run_tracker(
        "feeds",
        "add",
        "http://127.0.0.1:9/b.xml",
        "--name",
        "B",
        "--interval",
        "30m",
        "--language",
        "ru",
        "--no-check",  # nothing listens on port 9: the offline set-up
    )
    listed = json.loads(run_tracker("feeds", "list", "--json").stdout)
    assert listed[1] == {
        "url": "http://127.0.0.1:9/b.xml",
        "name": "B",
        "language": "ru",
        "interval": "30m",
        "moved_to": None,
        "stopped": False,
    }
    run_tracker("feeds", "export-opml", "feeds.opml")
    run_tracker("feeds", "remove", "http://127.0.0.1:9/a.xml")
    run_tracker("feeds", "remove", "http://127.0.0.1:9/b.xml")
    assert json.loads(run_tracker("feeds", "list", "--json").stdout) == []
    imported = run_tracker("feeds", "import-opml", "feeds.opml")
    assert "imported 2 feeds" in imported.stdout
    urls = [f["url"] for f in json.loads(run_tracker("feeds", "list", "--json").stdout)]
    assert urls == ["http://127.0.0.1:9/a.xml", "http://127.0.0.1:9/b.xml"]


def test_status_json_on_a_new_database(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, ["http://127.0.0.1:9/a.xml"])
    report = json.loads(run_tracker("status", "--json").stdout)
    assert report["service"] == {"state": "never run", "stale": False}
    assert report["counts"]["items"] == 0


def test_python_dash_m_and_version(run_tracker: Run) -> None:
    assert "tracker, version" in run_tracker("--version").stdout
