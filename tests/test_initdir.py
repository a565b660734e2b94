"""``tracker init``'s set-up, in the process: what the new config holds, what it
refuses, and the shipped files that an installed tracker carries as package data."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tracker import config, shipped
from tracker.errors import ConfigError
from tracker.initdir import config_text, init_dir
from tracker.models import FeedConfig
from tracker.readiness import setup_gaps

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = (REPO / "config" / "tracker.toml").read_text(encoding="utf-8")


def test_the_new_config_keeps_the_shipped_feeds_and_puts_the_database_beside_it(
    tmp_path: Path,
) -> None:
    result = init_dir(tmp_path / "desk", "desk@example.org")

    assert result.written == (tmp_path / "desk" / "tracker.toml",)
    made = config.load_config(result.config_path)
    assert made.feeds == config.load_config(REPO / "config" / "tracker.toml").feeds
    assert made.db_path == (tmp_path / "desk" / "tracker.db").resolve()
    assert made.topics_dir == shipped.topics_dir()
    assert made.seeds_dir == shipped.seeds_dir()
    assert made.settings.contact == "desk@example.org"
    assert made.warnings == ()


def test_empty_starts_without_feeds_and_a_feed_can_be_added(tmp_path: Path) -> None:
    path = init_dir(tmp_path / "desk", "", empty=True).config_path
    assert config.load_config(path).feeds == ()

    config.add_feed(path, FeedConfig(url="https://example.org/rss"))
    assert [f.url for f in config.load_config(path).feeds] == ["https://example.org/rss"]


@pytest.mark.parametrize("contact", ['quote " and \\ backslash @x.example', "a\nb@c.example"])
def test_a_contact_that_would_break_the_file_is_refused_before_writing(
    tmp_path: Path, contact: str
) -> None:
    with pytest.raises(ConfigError, match="--contact"):
        init_dir(tmp_path / "desk", contact)
    assert not (tmp_path / "desk").exists()


def test_config_text_escapes_whatever_it_is_given() -> None:
    text = config_text(SHIPPED_CONFIG, 'odd"name@example.org', empty=True)
    assert tomllib.loads(text)["settings"]["contact"] == 'odd"name@example.org'


def test_a_folder_with_files_is_refused_and_force_keeps_every_file(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text("[settings]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="folder is not empty"):
        init_dir(tmp_path, "")

    result = init_dir(tmp_path, "", force=True)

    assert result.kept == (tmp_path / "tracker.toml",) and result.written == ()
    assert (tmp_path / "tracker.toml").read_text(encoding="utf-8") == "[settings]\n"


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "desk").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a folder"):
        init_dir(tmp_path / "desk", "", force=True)


def test_the_shipped_files_are_the_repositorys_and_package_data_carries_them() -> None:
    assert shipped.topics_dir() == (REPO / "config" / "topics").resolve()
    assert shipped.seeds_dir() == (REPO / "seeds").resolve()
    assert shipped.default_config() == (REPO / "config" / "tracker.toml").resolve()
    assert shipped.datasette_metadata() == (REPO / "config" / "datasette.yml").resolve()
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-data"]["tracker"]
    package = REPO / "tracker"
    carried = {path for pattern in patterns for path in package.glob(pattern)}
    needed = [
        package / "shipped" / "tracker.toml",
        package / "shipped" / "datasette.yml",
        *(package / "shipped" / "topics").glob("*.toml"),
        *(package / "shipped" / "seeds").glob("*.txt"),
    ]
    assert len(needed) >= 4 and all(path in carried for path in needed)


def test_a_set_up_without_feeds_or_topics_names_what_it_lacks(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    assert setup_gaps(3, 1, tmp_path) == ()
    no_feeds, no_topics = setup_gaps(0, 0, tmp_path / "missing")
    assert no_feeds.startswith("no feeds configured")
    assert f"no topics: {tmp_path / 'missing'} does not exist" in no_topics
    assert "has no topic files" in setup_gaps(1, 0, tmp_path / "empty")[0]
