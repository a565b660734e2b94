"""Config loading and editing: strict validation names file, line and key;
``feeds add/remove`` keep the user's comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker import config, shipped
from tracker.errors import ConfigError
from tracker.models import FeedConfig
from tracker.sinks.webhook import WebhookSettings

GOOD = """\
# my tracker
[settings]
db_path = "db/test.db"   # where the data goes
interval = "15m"
max_bytes = "2MiB"

# wires
[[feeds]]
url = "https://example.org/rss"   # keep this comment
name = "Example"
interval = "30m"

[[feeds]]
url = "http://127.0.0.1:8000/feed.xml"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "tracker.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_units_and_paths_from_the_project_root(tmp_path: Path) -> None:
    loaded = config.load_config(write(tmp_path, GOOD))
    assert loaded.settings.interval == 900
    assert loaded.settings.max_bytes == 2 * 1024 * 1024
    assert loaded.feeds[0] == FeedConfig("https://example.org/rss", "Example", 1800.0, "")
    assert loaded.db_path == (tmp_path / "db" / "test.db").resolve()
    assert loaded.topics_dir == shipped.topics_dir()  # topics_dir unset: the shipped topics
    assert (loaded.topics_dir / "us-taliban.toml").is_file()
    assert (loaded.seeds_dir / "000_2fae77ef1c8f8cc0.txt").is_file()


@pytest.mark.parametrize(
    ("config_at", "root"),
    [("config/tracker.toml", "."), ("mine/empty.toml", "mine"), ("tracker.toml", ".")],
)
def test_paths_resolve_against_the_config_folder_or_the_one_above_config(
    tmp_path: Path, config_at: str, root: str
) -> None:
    path = tmp_path / config_at
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[settings]\ntopics_dir = "topics"\nseeds_dir = "s"\n', encoding="utf-8")
    loaded = config.load_config(path)
    assert loaded.topics_dir == (tmp_path / root / "topics").resolve()
    assert loaded.seeds_dir == (tmp_path / root / "s").resolve()
    assert loaded.db_path == (tmp_path / root / "db" / "tracker.db").resolve()


@pytest.mark.parametrize("contact", ["desk@example.org", "https://example.org/about", ""])
def test_a_contact_is_a_web_or_email_address(tmp_path: Path, contact: str) -> None:
    loaded = config.load_config(write(tmp_path, f'[settings]\ncontact = "{contact}"\n'))
    assert loaded.settings.contact == contact


@pytest.mark.parametrize("contact", ["call me", "ftp://example.org", "a@b", "x@y.z (me)"])
def test_a_contact_that_is_neither_is_an_error_naming_the_line(
    tmp_path: Path, contact: str
) -> None:
    with pytest.raises(ConfigError, match=r"tracker.toml:3: settings.contact: expected a web"):
        config.load_config(write(tmp_path, f'[settings]\n\ncontact = "{contact}"\n'))


def test_a_config_that_is_a_directory_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cfg.toml").mkdir()
    with pytest.raises(ConfigError, match=r"cfg.toml: cannot read config: Is a directory"):
        config.load_config(tmp_path / "cfg.toml")


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            GOOD.replace('interval = "15m"', 'intervall = "15m"'),
            4,
            "settings.intervall",
            "did you mean 'interval'",
        ),
        (GOOD.replace('name = "Example"', "name = 5"), 10, "feeds[0].name", "expected a string"),
        (
            GOOD.replace('interval = "30m"', 'interval = "5s"'),
            11,
            "feeds[0].interval",
            "at least 10s",
        ),
        (
            GOOD.replace('interval = "30m"', 'interval = "soon"'),
            11,
            "feeds[0].interval",
            "duration",
        ),
        (
            GOOD.replace("http://127.0.0.1:8000/feed.xml", "file:///etc/passwd"),
            14,
            "feeds[1].url",
            "only http and https",
        ),
        (GOOD + '\n[[feeds]]\nurl = "https://example.org/rss"\n', 17, "feeds[2].url", "duplicate"),
        (GOOD.replace("[settings]", "[setings]"), 2, "setings", "did you mean 'settings'"),
        (GOOD.replace('max_bytes = "2MiB"', "max_bytes = true"), 5, "settings.max_bytes", "size"),
    ],
)
def test_invalid_config_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config.load_config(path)
    assert caught.value.line == line
    assert caught.value.key == key
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}: {key}:")


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("[settings\n", "invalid TOML"), ("x = = 1", "invalid TOML")],
)
def test_empty_or_half_written_file_is_an_error(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        config.load_config(write(tmp_path, text))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        config.load_config(tmp_path / "nope.toml")


def test_short_interval_is_accepted_with_a_warning(tmp_path: Path) -> None:
    loaded = config.load_config(write(tmp_path, GOOD.replace('"30m"', '"10s"')))
    assert loaded.feeds[0].interval == 10
    assert any("aggressive" in w for w in loaded.warnings)


def test_add_and_remove_feed_keep_comments(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config.add_feed(path, FeedConfig("https://new.example/atom", "New", 600.0, "ru"))
    text = path.read_text(encoding="utf-8")
    assert "# keep this comment" in text and "# wires" in text and "# where the data goes" in text
    loaded = config.load_config(path)
    assert loaded.feeds[-1] == FeedConfig("https://new.example/atom", "New", 600.0, "ru")
    config.remove_feed(path, "https://example.org/rss")
    text = path.read_text(encoding="utf-8")
    assert "https://example.org/rss" not in text
    assert "# where the data goes" in text
    assert [f.url for f in config.load_config(path).feeds] == [
        "http://127.0.0.1:8000/feed.xml",
        "https://new.example/atom",
    ]


def test_add_existing_and_remove_unknown_are_errors_that_change_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError, match="already configured"):
        config.add_feed(path, FeedConfig("https://example.org/rss"))
    with pytest.raises(ConfigError, match="no such feed"):
        config.remove_feed(path, "https://nowhere.example/")
    assert path.read_text(encoding="utf-8") == GOOD


def test_alerts_are_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD + '\n[[alerts]]\ntype = "webhook"\nurl = "http://127.0.0.1:9/h"\ndigest = "1h"\n',
    )
    sink = config.load_config(path).alerts[0]
    assert (sink.type, sink.settings, sink.digest) == (
        "webhook",
        WebhookSettings("http://127.0.0.1:9/h"),
        3600.0,
    )
    path = write(tmp_path, GOOD + '\n[[alerts]]\ntype = "pager"\n')
    with pytest.raises(ConfigError, match="type must be one of"):
        config.load_config(path)


def test_removing_every_feed_then_adding_one_keeps_a_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config.remove_feed(path, "https://example.org/rss")
    config.remove_feed(path, "http://127.0.0.1:8000/feed.xml")
    assert config.load_config(path).feeds == ()
    config.add_feed(path, FeedConfig("https://again.example/rss"))
    assert [f.url for f in config.load_config(path).feeds] == ["https://again.example/rss"]
    assert "# where the data goes" in path.read_text(encoding="utf-8")
