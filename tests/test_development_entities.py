"""Entity alias sets: read from topic files (strictly), found in texts of any script,
and used by grouping as keys stronger than a word's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from devstream import load_stream

from tracker import developments as dv
from tracker.entities import NO_ENTITIES, EntityIndex, entity_index
from tracker.errors import TopicError
from tracker.matching import TopicMatcher
from tracker.models import ItemText
from tracker.topiclint import lint_topic
from tracker.topics import check_topics, load_topic

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config" / "topics" / "us-taliban.toml"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

TOPIC = """\
name = "demo"

[groups.taliban]
terms = ["Taliban", "талиб*"]

[entities.boehler]
title = "Adam Boehler"
terms = ["Boehler", "Бёлер*", "بولر"]

[entities.glezmann]
terms = ["Glezmann", "Глецман*", "ګلزمن"]

[rule]
all_of = ["taliban"]
"""


def write(directory: Path, text: str) -> Path:
    path = directory / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def entities(tmp_path: Path) -> EntityIndex:
    return entity_index(load_topic(write(tmp_path, TOPIC)))


def test_alias_sets_are_read_with_their_titles(tmp_path: Path) -> None:
    topic = load_topic(write(tmp_path, TOPIC))
    assert [(e.name, e.title, len(e.terms)) for e in topic.entities] == [
        ("boehler", "Adam Boehler", 3),
        ("glezmann", "glezmann", 3),  # the title defaults to the name
    ]
    assert [group.name for group in topic.groups] == ["taliban"]  # entities flag nothing


# (replace this, with that) -> the key the error names, words in its message
ERRORS = [
    (('title = "Adam Boehler"', 'titel = "Adam Boehler"'), "entities.boehler.titel", "'title'"),
    (('"Бёлер*"', '"Б*"'), "entities.boehler.terms", "2 letters before '*'"),
    (('"Бёлер*"', '"BOEHLER"'), "entities.boehler.terms", "duplicate term"),
    (
        ('terms = ["Glezmann", "Глецман*", "ګلزمن"]', "terms = []"),
        "entities.glezmann.terms",
        "term",
    ),
    (("[entities.glezmann]", "[entities.Glezmann]"), "entities.Glezmann", "lower-case"),
]


@pytest.mark.parametrize(("change", "key", "words"), ERRORS, ids=[e[1] for e in ERRORS])
def test_a_bad_alias_set_names_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, words: str
) -> None:
    assert change[0] in TOPIC
    text = TOPIC.replace(change[0], change[1], 1)
    path = write(tmp_path, text)
    with pytest.raises(TopicError) as raised:
        load_topic(path)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if change[1] in row)
    assert (raised.value.key, raised.value.line) == (key, line)
    assert words in str(raised.value)


def test_entities_must_be_tables(tmp_path: Path) -> None:
    text = TOPIC.replace("[entities.glezmann]\n", "").replace(
        'terms = ["Glezmann", "Глецман*", "ګلزمن"]\n', ""
    )
    errors = check_topics(write(tmp_path, text.replace("[rule]", 'entities = "x"\n[rule]')).parent)
    assert any("entities" in str(error) for error in errors)


def test_an_alias_is_found_in_any_script_and_inflected(entities: EntityIndex) -> None:
    assert entities.named("Спецпосланник Бёлера встретили в Кабуле", "")[0] == {"@boehler"}
    assert entities.named("Taliban free Glezmann", "د بولر له سفر وروسته")[0] == {
        "@boehler",
        "@glezmann",
    }
    assert entities.named("Nothing here", "") == (frozenset(), "")
    assert NO_ENTITIES.named("Boehler", "") == (frozenset(), "")
    assert entities.title("@boehler") == "Adam Boehler"


def test_the_shipped_topic_names_its_entities_in_four_languages() -> None:
    shipped = entity_index(load_topic(SHIPPED))
    for text in ("Khalilzad", "Халилзада", "خلیلزاد"):
        assert "@khalilzad" in shipped.named(text, "")[0], text
    for text in ("Corbett", "Корбетта", "کوربت", "کوربټ"):
        assert "@corbett" in shipped.named(text, "")[0], text
    for text in ("ISIS-K", "ИГИЛ-Хорасан", "داعش خراسان"):
        assert "@iskp" in shipped.named(text, "")[0], text


def report(n: int, title: str, entities: EntityIndex, hours: float = 0) -> dv.DevelopmentItem:
    keys, terms = dv.item_keys(title, "", [], entities.named(title, ""))
    return dv.DevelopmentItem(n, n, NOW + timedelta(hours=hours), "o", "", keys, terms)


# Transliterated, the names differ (Glezmann: glzm, Глецман: glts; Boehler: bhlr,
# Бёлер: blr): only the alias sets tell they are the same people.
ENGLISH = "Glezmann freed after Boehler visit"
RUSSIAN = "Глецмана освободили после визита Бёлера"


def test_reports_naming_the_same_entities_join_across_scripts(entities: EntityIndex) -> None:
    assert not dv.word_keys(ENGLISH) & dv.word_keys(RUSSIAN)
    placed = dv.place(
        [report(1, ENGLISH, entities), report(2, RUSSIAN, entities, hours=3)], dv.Pool()
    )
    assert [p.development_id for p in placed] == [-1, -1]
    assert set(placed[1].shared) >= {"@boehler", "@glezmann"}


def test_without_alias_sets_the_same_reports_stay_apart() -> None:
    placed = dv.place(
        [report(1, ENGLISH, NO_ENTITIES), report(2, RUSSIAN, NO_ENTITIES, hours=3)], dv.Pool()
    )
    assert [p.development_id for p in placed] == [-1, -2]


def test_one_shared_name_alone_does_not_join(entities: EntityIndex) -> None:
    placed = dv.place(
        [
            report(1, ENGLISH, entities),
            report(2, "Boehler to testify on hostage policy", entities, hours=3),
        ],
        dv.Pool(),
    )
    assert [p.development_id for p in placed] == [-1, -2]


def test_an_alias_in_two_sets_or_that_looks_like_a_regex_is_warned_about(tmp_path: Path) -> None:
    text = TOPIC.replace('"ګلزمن"]', '"ګلزمن", "Boehler", "Glez|Glets"]')
    path = write(tmp_path, text)
    warnings = lint_topic(load_topic(path), text.splitlines())
    shown = {(w.key, w.term): (w.line, w.advice) for w in warnings}
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "Glez|Glets" in row)
    assert set(shown) == {
        ("entities.glezmann.terms", "Boehler"),
        ("entities.glezmann.terms", "Glez|Glets"),
    }
    assert shown["entities.glezmann.terms", "Boehler"] == (
        line,
        "also an alias of [entities.boehler]: a report naming it names both",
    )
    assert "not regular expressions" in shown["entities.glezmann.terms", "Glez|Glets"][1]


# The alias sets' words in title, summary or only in content; inflected, in other
# scripts, mixed with the topic's own terms, and none at all.
NAMING = [
    ("Boehler meets Taliban envoys in Kabul", "", ("boehler",)),
    ("Встреча с Бёлером прошла в Кабуле", "Талибы сообщили о переговорах", ("boehler",)),
    ("", "ګلزمن خوشې شو او بولر ورسره و", ("boehler", "glezmann")),
    ("Weather in Kabul", "Glezmann and Boehler flew home", ("boehler", "glezmann")),
    ("Glezmann", "Boehler", ("boehler", "glezmann")),
    ("Boehlerian economics", "glezmannesque", ()),  # no word boundary: no alias
    ("Taliban say talks went well", "", ()),
    ("", "", ()),
]


@pytest.mark.parametrize(("title", "summary", "named"), NAMING)
def test_the_matcher_names_the_entities_as_developments_do(
    tmp_path: Path, entities: EntityIndex, title: str, summary: str, named: tuple[str, ...]
) -> None:
    """Each verdict carries the alias sets its item's title or summary names (never
    its content), the same as the index grouping uses finds: adaptive tracking reads
    them from ``item_entities`` instead of matching every new report again."""
    matcher = TopicMatcher(load_topic(write(tmp_path, TOPIC)))
    keys, _ = entities.named(title, summary)
    assert tuple(sorted(key.removeprefix("@") for key in keys)) == named
    text = ItemText(title, summary, "Glezmann in the article text is not read")
    assert matcher.assess(text).entities == named
    assert matcher.decide(text).entities == named


def test_the_shipped_topic_names_entities_as_developments_do() -> None:
    """The same on the labeled items and the development stream, in four languages,
    with the shipped topic's 18 alias sets (exact-case and inflected aliases)."""
    topic = load_topic(SHIPPED)
    matcher, index = TopicMatcher(topic), entity_index(topic)
    texts = [(r.title, r.summary) for r in load_stream().reports]
    for name in ("dev-labeled.yaml", "heldout-written.yaml"):
        data = yaml.safe_load((ROOT / "tests" / "data" / "eval" / name).read_text("utf-8"))
        texts += [(str(i.get("title", "")), str(i.get("summary", ""))) for i in data["items"]]
    named = 0
    for title, summary in texts:
        keys, _ = index.named(title, summary)
        expected = tuple(sorted(key.removeprefix("@") for key in keys))
        assert matcher.assess(ItemText(title, summary)).entities == expected, title
        named += bool(expected)
    assert named >= 40  # the check is not vacuous
