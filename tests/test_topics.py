"""Loading and strictly validating topic files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tracker.errors import ConfigError, TopicError
from tracker.topics import check_topics, load_topic, load_topics, parse_term

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config" / "topics" / "us-taliban.toml"

VALID = """\
name = "demo"
title = "Demo topic"
seed = "demo.txt"

[groups.us]
title = "US actors"
terms = ["Washington", "State Department"]
exact_case = ["US"]

[groups.taliban]
terms = ["Taliban", "талиб*"]
weight = 2

[rule]
all_of = ["us", "taliban"]
within = 30
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_topic_loads_with_its_groups_and_rule() -> None:
    topic = load_topic(SHIPPED)
    assert topic.name == "us-taliban"
    assert topic.seed == "000_2fae77ef1c8f8cc0.txt"
    assert topic.version == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()[:12]
    names = {group.name for group in topic.groups}
    assert {"us", "taliban", "engagement", "contact", "iskp", "sport", "not_actors"} <= names
    main = topic.rule.clauses[0]
    assert main.all_of == ("us", "taliban")
    assert main.any_of == ("engagement",)
    assert main.unless == ("other_states",)
    assert topic.group("other_states").fields == ("title",)
    tight = [clause for clause in topic.rule.clauses if clause.same_sentence]
    assert tight and all(clause.within is not None for clause in tight)
    assert "sport" in topic.rule.none_of


def test_shipped_topics_directory_has_no_errors() -> None:
    assert check_topics(ROOT / "config" / "topics") == []


def test_valid_topic_records(tmp_path: Path) -> None:
    topic = load_topic(write(tmp_path, "demo.toml", VALID))
    assert topic.title == "Demo topic"
    assert topic.path == str(tmp_path / "demo.toml")
    us = topic.group("us")
    assert us.title == "US actors"
    assert [term.text for term in us.terms] == ["Washington", "State Department", "US"]
    assert us.terms[1].words == ("state", "department")
    assert us.terms[2].exact_case
    taliban = topic.group("taliban")
    assert taliban.title == "taliban"  # defaults to the group's name
    assert taliban.weight == 2.0
    assert taliban.terms[1].prefix == (True,)
    assert topic.rule.clauses[0].within == 30
    assert us.fields == ("title", "summary", "content")  # the default: everywhere
    assert (topic.rule.clauses[0].same_sentence, topic.rule.clauses[0].unless) == (False, ())


def test_fields_same_sentence_and_unless_are_read(tmp_path: Path) -> None:
    text = VALID.replace("weight = 2", 'weight = 2\nfields = ["summary", "title"]').replace(
        "within = 30",
        "within = 30\nsame_sentence = true\n\n[[rule.alternatives]]\n"
        'all_of = ["us"]\nunless = ["taliban"]',
    )
    topic = load_topic(write(tmp_path, "demo.toml", text))
    assert topic.group("taliban").fields == ("title", "summary")  # in reading order
    main, alternative = topic.rule.clauses
    assert main.same_sentence and main.unless == ()
    assert not alternative.same_sentence and alternative.unless == ("taliban",)


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    text = VALID.replace('name = "demo"\n', "")
    assert load_topic(write(tmp_path, "from-stem.toml", text)).name == "from-stem"


def test_load_topics_reads_every_file_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", VALID.replace('"demo"', '"b"'))
    write(tmp_path, "a.toml", VALID.replace('"demo"', '"a"'))
    write(tmp_path, "notes.txt", "not a topic")
    assert [topic.name for topic in load_topics(tmp_path)] == ["a", "b"]


# (replace this, with that, in VALID) -> (key, line, words in the message); each pins one check.
# line None: the line of the change.
ERRORS = [
    (('title = "Demo topic"', 'titel = "Demo topic"'), "titel", None, "did you mean 'title'"),
    (("weight = 2", "wieght = 2"), "groups.taliban.wieght", None, "did you mean 'weight'"),
    (("weight = 2", 'weight = "high"'), "groups.taliban.weight", None, "must be a number"),
    (("weight = 2", "weight = true"), "groups.taliban.weight", None, "must be a number"),
    (("weight = 2", "min_terms = 0"), "groups.taliban.min_terms", None, "at least 1"),
    (("weight = 2", 'fields = ["titel"]'), "groups.taliban.fields", None, "did you mean 'title'"),
    (("weight = 2", "fields = []"), "groups.taliban.fields", None, "needs at least one of title"),
    (("weight = 2", 'fields = "title"'), "groups.taliban.fields", None, "list of strings"),
    (("weight = 2", 'fields = ["title", "title"]'), "groups.taliban.fields", None, "twice"),
    (('terms = ["Taliban", "талиб*"]', 'terms = "Taliban"'), "groups.taliban.terms", None, "list"),
    (('"талиб*"', '"т*"'), "groups.taliban.terms", None, "2 letters before '*'"),
    (('"талиб*"', '"tali*ban"'), "groups.taliban.terms", None, "only at the end"),
    (('"талиб*"', '"--"'), "groups.taliban.terms", None, "at least one letter"),
    (('"талиб*"', '"TALIBAN"'), "groups.taliban.terms", None, "duplicate term"),
    (('["us", "taliban"]', '["us", "tailban"]'), "rule.all_of", None, "did you mean 'taliban'"),
    (("all_of", "any_off"), "rule.any_off", None, "did you mean 'any_of'"),
    (('all_of = ["us", "taliban"]', "none_of = []"), "rule", 14, "needs all_of or any_of"),
    (("within = 30", "within = 2.5"), "rule.within", None, "must be an integer"),
    (("within = 30", 'same_sentence = "yes"'), "rule.same_sentence", None, "true or false"),
    (("within = 30", 'unless = ["tailban"]'), "rule.unless", None, "did you mean 'taliban'"),
    (("within = 30", 'unless = ["us"]'), "rule.unless", None, "both required and excluded"),
    (('exact_case = ["US"]', 'masks = ["talibn"]'), "groups.us.masks", None, "'taliban'"),
    (('seed = "demo.txt"', 'seed = "../secret.txt"'), "seed", None, "inside the seeds directory"),
    (('seed = "demo.txt"', 'seed = "/etc/passwd"'), "seed", None, "inside the seeds directory"),
    (('name = "demo"', 'name = "Demo Topic"'), "name", None, "lower-case"),
    (("[groups.taliban]", "[groups.Taliban]"), "groups.Taliban", None, "lower-case"),
]


@pytest.mark.parametrize(("change", "key", "line", "words"), ERRORS, ids=[e[1] for e in ERRORS])
def test_invalid_topic_names_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, line: int | None, words: str
) -> None:
    assert change[0] in VALID
    text = VALID.replace(change[0], change[1], 1)
    path = write(tmp_path, "demo.toml", text)
    if line is None:
        line = next(n for n, row in enumerate(text.splitlines(), 1) if change[1] in row)
    with pytest.raises(TopicError) as raised:
        load_topic(path)
    error = raised.value
    assert (error.path, error.key, error.line) == (str(path), key, line)
    assert words in str(error)
    assert str(error).startswith(f"{path}:{line}: {key}: ")


def test_error_in_a_second_alternative_points_at_its_own_table(tmp_path: Path) -> None:
    text = VALID + (
        '\n[[rule.alternatives]]\nall_of = ["us"]\n'
        '\n[[rule.alternatives]]\nall_of = ["taliban"]\nwithn = 3\n'
    )
    path = write(tmp_path, "demo.toml", text)
    with pytest.raises(TopicError) as raised:
        load_topic(path)
    assert raised.value.key == "rule.alternatives[2].withn"
    assert raised.value.line == text.splitlines().index("withn = 3") + 1
    assert "did you mean 'within'" in str(raised.value)


def test_alternatives_become_extra_clauses(tmp_path: Path) -> None:
    text = VALID + '\n[[rule.alternatives]]\nall_of = ["us"]\nmin_matches = 2\n'
    topic = load_topic(write(tmp_path, "demo.toml", text))
    assert len(topic.rule.clauses) == 2
    assert topic.rule.clauses[1].all_of == ("us",)
    assert topic.rule.clauses[1].min_matches == 2


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.toml", 'name = "x"\ntitle = \n')
    with pytest.raises(TopicError) as raised:
        load_topic(path)
    assert raised.value.line == 2
    assert "invalid TOML" in str(raised.value)


def test_missing_groups_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.toml", 'name = "empty"\n[rule]\nall_of = []\n')
    errors = check_topics(tmp_path)
    assert {error.key for error in errors} >= {"groups", "rule"}
    assert all(error.path == str(path) for error in errors)


def test_check_topics_collects_every_error_of_every_file(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", VALID.replace("weight = 2", "wieght = 2").replace("within", "witin"))
    write(tmp_path, "b.toml", VALID.replace('"demo"', '"b"'))
    write(tmp_path, "c.toml", VALID.replace('"demo"', '"b"'))  # same name as b
    errors = check_topics(tmp_path)
    keys = sorted((Path(error.path).name, error.key) for error in errors)
    assert keys == [
        ("a.toml", "groups.taliban.wieght"),
        ("a.toml", "rule.witin"),
        ("c.toml", "name"),
    ]
    assert all(isinstance(error, ConfigError) for error in errors)


def test_load_topics_raises_the_first_error(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", VALID.replace("weight = 2", "wieght = 2"))
    write(tmp_path, "b.toml", VALID.replace("within = 30", "within = 0"))
    with pytest.raises(TopicError) as raised:
        load_topics(tmp_path)
    assert raised.value.key == "groups.taliban.wieght"


def test_missing_directory_is_a_topic_error(tmp_path: Path) -> None:
    with pytest.raises(TopicError):
        load_topics(tmp_path / "nowhere")
    assert len(check_topics(tmp_path / "nowhere")) == 1


def test_unreadable_and_non_utf8_files_are_topic_errors(tmp_path: Path) -> None:
    (tmp_path / "latin.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    errors = check_topics(tmp_path)
    assert len(errors) == 1
    assert "UTF-8" in str(errors[0])


TERMS = [
    ("State Department", ("state", "department"), (False, False)),
    ("талиб*", ("талиб",), (True,)),
    ("negotiat* with", ("negotiat", "with"), (True, False)),
    ("ISIS-K", ("isis", "k"), (False, False)),
    ("chargé d'affaires", ("chargé", "d", "affaires"), (False, False, False)),
    ("گفت‌وگو*", ("گفتوگو",), (True,)),
]


@pytest.mark.parametrize(("text", "words", "prefix"), TERMS)
def test_parse_term(text: str, words: tuple[str, ...], prefix: tuple[bool, ...]) -> None:
    term = parse_term(text)
    assert (term.text, term.words, term.prefix) == (text, words, prefix)
    assert not term.exact_case
