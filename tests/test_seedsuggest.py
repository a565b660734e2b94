"""Proposing keyword groups from a seed article."""

from __future__ import annotations

from pathlib import Path

from tracker.seedsuggest import Suggestion, format_suggestions, suggest_terms
from tracker.topics import load_topic

ROOT = Path(__file__).resolve().parent.parent
TOPIC = load_topic(ROOT / "config" / "topics" / "us-taliban.toml")

SEED = """\
The White House is weighing closer contacts with Kabul. Officials at the White House
said the de facto authorities could help against ISKP. A report by the United States
Institute of Peace (USIP) urged talks with the de facto authorities in Kabul.
Moreover, the CIA's drones still fly. Analysts at the Washington Institute for Near East
Policy agree. However, Omar Nessar doubts it, and Nessar knows Kabul well.
"""


def by_text(suggestions: list[Suggestion]) -> dict[str, Suggestion]:
    return {suggestion.text: suggestion for suggestion in suggestions}


def test_names_acronyms_and_phrases_are_found() -> None:
    found = by_text(suggest_terms(SEED, [TOPIC]))
    assert found["White House"].kind == "name"
    assert found["White House"].count == 2
    assert found["United States Institute of Peace"].kind == "name"
    assert found["Omar Nessar"].kind == "name"
    assert found["Kabul"].count == 3
    assert found["ISKP"].kind == "acronym"
    assert found["USIP"].kind == "acronym"
    assert found["CIA"].kind == "acronym"  # "CIA's": the possessive is dropped
    assert found["de facto authorities"].kind == "phrase"
    assert found["de facto authorities"].count == 2


def test_sentence_openers_and_stop_words_are_not_names() -> None:
    found = by_text(suggest_terms(SEED, [TOPIC]))
    for word in ("The", "Moreover", "However", "Officials", "A", "Analysts"):
        assert word not in found


def test_coverage_comes_from_the_topics_groups() -> None:
    found = by_text(suggest_terms(SEED, [TOPIC]))
    assert found["White House"].covered_by == ("us-taliban/us",)
    assert found["ISKP"].covered_by == ("us-taliban/iskp",)
    assert found["de facto authorities"].covered_by == ("us-taliban/taliban",)
    assert found["Washington Institute for Near East Policy"].covered_by == (
        "us-taliban/not_actors",
    )
    assert not found["Kabul"].covered
    assert not found["USIP"].covered


def test_without_topics_nothing_is_covered() -> None:
    assert not any(suggestion.covered for suggestion in suggest_terms(SEED, []))


def test_format_lists_uncovered_first_per_kind() -> None:
    text = format_suggestions(suggest_terms(SEED, [TOPIC]))
    lines = text.splitlines()
    assert lines[0].startswith("names (")
    names = lines[1 : lines.index("")]
    uncovered = [line for line in names if line.endswith("NOT COVERED")]
    assert names[: len(uncovered)] == uncovered
    assert any("White House" in line and "us-taliban/us" in line for line in names)
    assert "acronyms (" in text and "phrases (" in text


def test_the_real_seed_yields_its_key_actors() -> None:
    seed = (ROOT / "seeds" / TOPIC.seed).read_text(encoding="utf-8")
    found = by_text(suggest_terms(seed, [TOPIC]))
    assert found["Taliban"].covered_by == ("us-taliban/taliban",)
    assert found["ISKP"].covered_by == ("us-taliban/iskp",)
    assert "Vilayat Khorasan" in found
    assert {"USIP", "WINEP", "ICCT"} <= set(found)


def test_empty_seed_gives_nothing() -> None:
    assert suggest_terms("", [TOPIC]) == []
    assert format_suggestions([]) == ""
