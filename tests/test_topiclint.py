"""Warnings about terms that pass validation but never match, or match everything;
and bad topic files (10 MB, a 10,000-character term) refused with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, Run, make_project

from tracker.errors import TopicError
from tracker.topiclint import STALE_MIN_OLDER, lint_topic, stale_terms, term_advice
from tracker.topics import MAX_TERM_LENGTH, check_topics, load_topic, parse_term

TOPIC = """name = "watch"
[groups.taliban]
terms = [
  "Taliban|Taleban",
  "\\\\bTaliban\\\\b",
  "Talib[a-z]+",
  "a",
  "un",
  "the",
  "Taliban",
  "талиб*",
]
exact_case = ["UN", "US"]
[rule]
all_of = ["taliban"]
"""


def advice(text: str) -> str:
    return term_advice(parse_term(text))


@pytest.mark.parametrize(
    ("term", "says"),
    [
        ("Taliban|Taleban", 'list "Taliban", "Taleban" as separate terms'),
        ("\\bTaliban\\b", 'terms always match whole words: write "Taliban"'),
        ("Talib[a-z]+", 'for any ending write "Talib*"'),
        ("Talib.*", 'for any ending write "Talib*"'),
        ("^Taliban$", "not regular expressions"),
        ("a", "1-letter term"),
        ("un", 'list "UN" under exact_case'),
        ("the", '"the" is a common word'),
        ("said", '"said" is a common word'),
    ],
)
def test_terms_that_are_probably_mistakes_say_what_to_write(term: str, says: str) -> None:
    assert says in advice(term)


@pytest.mark.parametrize(
    "term", ["Taliban", "талиб*", "State Department", "information", "طالبان", "de facto"]
)
def test_ordinary_terms_get_no_warning(term: str) -> None:
    assert advice(term) == ""


def test_warnings_name_the_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "watch.toml"
    path.write_text(TOPIC, encoding="utf-8")
    topic = load_topic(path)  # every one of these terms is valid...
    warnings = lint_topic(topic, TOPIC.splitlines())
    shown = {w.term: str(w) for w in warnings}
    # ...and six of them are warned about, with their own line
    assert set(shown) == {"Taliban|Taleban", "\\bTaliban\\b", "Talib[a-z]+", "a", "un", "the"}
    assert shown["Taliban|Taleban"].startswith(f"{path}:4: groups.taliban.terms: term ")
    assert shown["\\bTaliban\\b"].startswith(f"{path}:5: ")
    assert shown["a"].startswith(f"{path}:7: ")


def test_terms_that_stopped_matching_are_named(tmp_path: Path) -> None:
    path = tmp_path / "watch.toml"
    path.write_text(TOPIC, encoding="utf-8")
    topic = load_topic(path)
    older = {("taliban", "Taliban"): 40, ("taliban", "талиб*"): STALE_MIN_OLDER - 1}
    recent = {("taliban", "a"): 3}
    warnings = stale_terms(topic, recent, older, TOPIC.splitlines(), days=7)
    assert [(w.term, w.line) for w in warnings] == [("Taliban", 10)]
    assert "matched 40 older items and none in the last 7 days" in warnings[0].advice
    assert stale_terms(topic, {("taliban", "Taliban"): 1}, older, [], 7) == []


def test_the_shipped_topic_has_no_warnings() -> None:
    path = REPO / "config" / "topics" / "us-taliban.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [str(w) for w in lint_topic(load_topic(path), lines)] == []


def test_a_10_mb_topic_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(TOPIC + "# padding\n" * 1_000_000, encoding="utf-8")
    errors = check_topics(tmp_path)
    assert [str(e) for e in errors] == [f"{path}: topic file is too large (10.0 MB; at most 1 MiB)"]


def test_a_10000_character_term_is_refused_with_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(TOPIC.replace('"Taliban",\n', f'"{"x" * 10_000}",\n'), encoding="utf-8")
    with pytest.raises(TopicError) as caught:
        load_topic(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:10: groups.taliban.terms: bad term 'xxxx")
    assert f"10000 characters; a term has at most {MAX_TERM_LENGTH}" in message
    assert len(message) < 300


@pytest.mark.slow
def test_topics_check_warns_and_still_passes(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, [], with_topics=False)
    (tmp_path / "config" / "topics").mkdir()
    (tmp_path / "config" / "topics" / "watch.toml").write_text(TOPIC, encoding="utf-8")
    result = run_tracker("topics", "check")
    assert "ok   watch: 1 groups" in result.stdout
    assert result.stdout.count("warning: ") == 6
    assert 'write "Taliban"' in result.stdout
    preview = run_tracker("topics", "check", "--preview")
    assert "no database at" in preview.stdout
    assert not (tmp_path / "db" / "tracker.db").exists(), "a check created the database"


@pytest.mark.slow
def test_topics_check_names_a_huge_topic_file_in_one_line(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, [], with_topics=False)
    (tmp_path / "config" / "topics").mkdir()
    huge = tmp_path / "config" / "topics" / "huge.toml"
    huge.write_bytes(b"x" * 10_000_000)
    result = run_tracker("topics", "check", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"tracker: error: {huge}: topic file is too large (10.0 MB; at most 1 MiB)"
    )
