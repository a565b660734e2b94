"""Scoring the follow-up flag against labeled items."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.errors import ConfigError
from tracker.evaluate import EvalReport, LabeledItem, evaluate, format_report, load_labeled
from tracker.matching import TopicMatcher
from tracker.models import FlagDecision, ItemText
from tracker.topics import load_topic

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "data" / "eval"


def shipped_matcher() -> TopicMatcher:
    topic = load_topic(ROOT / "config" / "topics" / "us-taliban.toml")
    return TopicMatcher(topic, (ROOT / "seeds" / topic.seed).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["dev-labeled.yaml", "heldout-written.yaml"])
def test_shipped_topic_reaches_f1_on_labeled_sets(name: str) -> None:
    report = evaluate(shipped_matcher(), load_labeled(EVAL / name))
    assert report.f1 >= 0.9, format_report(report)
    assert report.true_positives + report.false_negatives >= 18


@pytest.mark.parametrize("name", ["languages-dev.yaml", "heldout-languages.yaml"])
def test_shipped_topic_flags_follow_ups_in_six_more_languages(name: str) -> None:
    """German, French, Spanish, Turkish, Arabic and Urdu (and an Italian held-out item):
    no near miss flagged (Russia or China with the Taliban, an ISKP attack, cricket)."""
    report = evaluate(shipped_matcher(), load_labeled(EVAL / name))
    assert report.false_positives == 0 and report.f1 >= 0.9, format_report(report)
    assert report.true_positives + report.false_negatives >= 8


def test_dev_set_is_read_as_labeled() -> None:
    items = load_labeled(EVAL / "dev-labeled.yaml")
    assert len(items) == 40
    first = items[0]
    assert first.id == "d01"
    assert first.flag is True and first.relevant is True
    assert first.language == "en"
    assert first.published == datetime(2023, 2, 16, 10, tzinfo=UTC)
    by_id = {item.id: item for item in items}
    assert by_id["d27"].flag is None  # ~ : ambiguous
    assert by_id["d13"].flag is False
    assert by_id["d09"].language == "ru"
    assert by_id["d09"].text() == ItemText(by_id["d09"].title, by_id["d09"].summary, "", "ru")


class Canned:
    """A decider that flags titles containing 'yes'."""

    def decide(self, text: ItemText) -> FlagDecision:
        flagged = "yes" in text.title
        return FlagDecision("t", flagged, flagged, 1.0, f"said {flagged}", "v1")


def item(item_id: str, flag: bool | None, title: str) -> LabeledItem:
    return LabeledItem(item_id, flag, True, "en", title, "")


def test_evaluate_counts_and_keeps_the_errors() -> None:
    items = [
        item("a", True, "yes"),
        item("b", True, "no"),
        item("c", False, "yes too"),
        item("d", False, "no"),
        item("e", False, "no again"),
        item("f", None, "yes, but ambiguous"),
    ]
    report = evaluate(Canned(), items)
    counts = (report.true_positives, report.false_positives, report.false_negatives)
    assert counts == (1, 1, 1)
    assert (report.true_negatives, report.ambiguous) == (2, 1)
    assert report.precision == 0.5 and report.recall == 0.5 and report.f1 == 0.5
    assert [case.id for case in report.misses] == ["b"]
    assert [case.title for case in report.false_flags] == ["yes too"]
    assert report.false_flags[0].reasons == "said True"
    assert (report.relevance_correct, report.relevance_labeled) == (3, 6)


def test_empty_report_scores_zero() -> None:
    report = EvalReport(0, 0, 0, 0, 0, (), ())
    assert (report.precision, report.recall, report.f1) == (0.0, 0.0, 0.0)


def test_format_report_shows_scores_misses_and_false_flags() -> None:
    report = evaluate(Canned(), [item("a", True, "no match"), item("b", False, "yes wrong")])
    text = format_report(report)
    assert text.splitlines()[0] == "precision 0.000  recall 0.000  F1 0.000"
    assert "missed follow-ups (labeled 1, not flagged): 1" in text
    assert "- a (score 1): no match" in text
    assert "false flags (labeled 0, flagged): 1" in text
    assert "    said True" in text


BAD_FILES = [
    ("items: [{id: x, flag: 2, title: t}]\n", "x.flag", "1, 0 or ~"),
    ("items: [{id: x, flag: 1}]\n", "x.title", "needs a title"),
    ("items: [{id: x, flag: 1, title: t, colour: red}]\n", "x.colour", "unknown key"),
    ("items: [{id: x, flag: 1, title: t, date: yesterday}]\n", "x.date", "ISO-8601"),
    ("things: []\n", "items", "'items' list"),
    ("items: [just a string]\n", "items[1]", "not a mapping"),
]


@pytest.mark.parametrize(("text", "key", "words"), BAD_FILES, ids=[b[1] for b in BAD_FILES])
def test_invalid_labeled_files_raise_config_errors(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_labeled(path)
    assert raised.value.key == key
    assert words in str(raised.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text("items:\n- {id: x, title: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_labeled(path)
    assert raised.value.line is not None
    assert "invalid YAML" in str(raised.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_labeled(tmp_path / "absent.yaml")
