"""The config file users start with: it loads, documents every setting, and its
feed list covers the story in the languages it is reported in."""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tracker import config
from tracker.models import FeedConfig, Settings

DEFAULT = Path(__file__).parent.parent / "config" / "tracker.toml"
SEARCH_HOSTS = ("news.google.com", "www.bing.com")


@pytest.fixture(scope="module")
def loaded() -> config.Config:
    return config.load_config(DEFAULT)


def test_loads_without_warnings(loaded: config.Config) -> None:
    assert loaded.warnings == ()


def test_settings_table_shows_every_setting_at_its_default(loaded: config.Config) -> None:
    table = tomllib.loads(DEFAULT.read_text(encoding="utf-8"))["settings"]

    assert set(table) == {field.name for field in fields(Settings)}
    assert loaded.settings == Settings()


def test_every_setting_has_a_comment() -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    section = text.split("[settings]\n", 1)[1].split("\n\n", 1)[0]

    lines = section.splitlines()
    assert len(lines) == len(fields(Settings))
    assert [line for line in lines if "#" not in line] == []


def test_has_a_real_feed_list(loaded: config.Config) -> None:
    assert len(loaded.feeds) >= 30
    for feed in loaded.feeds:
        assert urlsplit(feed.url).scheme in ("http", "https"), feed.url
        assert feed.name, feed.url
        assert feed.language, feed.url


def test_no_feed_is_listed_twice(loaded: config.Config) -> None:
    def key(feed: FeedConfig) -> str:
        parts = urlsplit(feed.url)
        return f"{parts.netloc.lower().removeprefix('www.')}{parts.path.rstrip('/')}?{parts.query}"

    keys = [key(feed) for feed in loaded.feeds]
    names = [feed.name for feed in loaded.feeds]
    assert len(set(keys)) == len(keys)
    assert len(set(names)) == len(names)


def test_covers_the_story_languages(loaded: config.Config) -> None:
    languages = {feed.language for feed in loaded.feeds}

    assert {"en", "ru", "ps"} <= languages
    assert languages & {"fa", "prs"}


def test_news_searches_are_polled_politely(loaded: config.Config) -> None:
    searches = [feed for feed in loaded.feeds if urlsplit(feed.url).hostname in SEARCH_HOSTS]

    assert len(searches) >= 5
    assert {feed.language for feed in searches} >= {"en", "ru", "fa"}
    for feed in searches:
        assert feed.interval is not None and feed.interval >= 30 * 60, feed.url


def test_commented_alert_examples_are_valid(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    head, rest = text.split("# ---- Alerts", 1)
    alerts, feeds = rest.split("# ---- Feeds", 1)
    uncommented = re.sub(r"(?m)^# (\[\[alerts\]\]|[a-z_]+ = .*)$", r"\1", alerts)
    path = tmp_path / "tracker.toml"
    path.write_text(head + "# ---- Alerts" + uncommented + "# ---- Feeds" + feeds, encoding="utf-8")

    sinks = config.load_config(path).alerts

    assert [sink.type for sink in sinks] == ["webhook", "email", "apprise"]


def test_feeds_add_keeps_the_comments(tmp_path: Path) -> None:
    path = tmp_path / "tracker.toml"
    shutil.copy(DEFAULT, path)
    before = config.load_config(path).feeds

    config.add_feed(path, FeedConfig(url="https://example.org/feed", name="Example"))

    text = path.read_text(encoding="utf-8")
    assert "# ---- Alerts" in text
    assert "# -- Pashto --" in text
    assert config.load_config(path).feeds[:-1] == before
