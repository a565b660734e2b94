"""``seed suggest --toml``: a seed article (text, saved page or URL) becomes a topic
file with aliases grouped and stems for inflected languages, that ``topics check``
accepts as it is; input that is not an article is one line and exit 2."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import REPO, Run, make_project
from hostile import RawServer, respond

from tracker.errors import SeedError
from tracker.seedsuggest import suggest_terms
from tracker.seedtext import MAX_SEED_BYTES, seed_text
from tracker.seedtopic import alias_groups, topic_name, topic_toml
from tracker.topics import load_topic

SEED = REPO / "seeds" / "000_2fae77ef1c8f8cc0.txt"

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>News</title></head><body>
<nav><a href="/">Home</a> | Sep | Sun | Gov | World</nav>
<article><h1>Taliban and US officials meet in Doha</h1>
<p>The Taliban met US officials in Doha on Sunday. A Taleban spokesman said the talks with
Washington were useful. The Islamic State Khorasan Province (ISKP) was discussed.</p>
<p>Zalmay Khalilzad said the ISKP threat was real and that Khalilzad would return to Doha.</p>
<p>Талибы заявили, что переговоры с талибами продолжатся. Представители талибов и Талибан
встретились в Дохе.</p>
<p>طالبان با آمریکا گفتگو کردند. مقامات آمریکایی گفتند آمریکا با طالبان همکاری می کند.</p>
</article><footer>Copyright Sep 2025 | Gov | Sun</footer></body></html>
"""


def groups_of(text: str) -> dict[str, list[str]]:
    groups = alias_groups(text, suggest_terms(text, []))
    return {group.title: [alias.text for alias in group.aliases] for group in groups}


def test_a_saved_page_gives_its_article_not_its_menus() -> None:
    text = seed_text(PAGE.encode(), "page.html")
    assert "Taliban met US officials" in text
    assert "Sep" not in text and "Gov" not in text and "Home" not in text


def test_aliases_of_one_thing_are_one_group() -> None:
    groups = groups_of(seed_text(PAGE.encode(), "page.html"))
    taliban = next(terms for title, terms in groups.items() if "Taliban" in terms)
    assert {"Taliban", "Taleban", "талиб*"} <= set(taliban)  # respelled, transliterated
    iskp = next(terms for terms in groups.values() if "ISKP" in terms)
    assert "Islamic State Khorasan Province" in iskp  # an acronym and its name
    khalilzad = next(terms for terms in groups.values() if "Khalilzad" in terms)
    assert "Zalmay Khalilzad" in khalilzad  # a surname and the full name
    america = next(terms for terms in groups.values() if any("امریکا" in t for t in terms))
    assert america == ["امریکا*"]  # seen with a suffix: a stem
    assert ["طالبان"] in groups.values()  # seen whole only: kept whole
    assert "Sep" not in groups and "Sun" not in groups


def test_the_toml_is_a_valid_topic_that_matches_like_the_seed(tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    groups = alias_groups(text, suggest_terms(text, []))
    toml = topic_toml(groups, name="seed-topic", title="Seed", seed=SEED.name, source=str(SEED))
    path = tmp_path / "seed-topic.toml"
    path.write_text(toml, encoding="utf-8")
    topic = load_topic(path)
    assert topic.name == "seed-topic"
    assert len(topic.groups) >= 10
    data = tomllib.loads(toml)
    assert data["groups"]["iskp"]["exact_case"] == ["ISKP"]
    assert data["rule"]["all_of"] == [group.name for group in topic.groups[:2]]
    assert "already in" not in toml  # no topics given: nothing covered


def test_topic_names_are_valid_whatever_the_source() -> None:
    assert topic_name("000_2fae77ef1c8f8cc0") == "000-2fae77ef1c8f8cc0"
    assert topic_name("Талибы в Дохе") == "taliby-v-dokhe"
    assert topic_name("طالبان") == "seed-topic"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the seed is empty"),
        (b"  \n\t ", "the seed is empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10, "binary file"),
        (b"text\x00with a NUL", "binary file"),
        ("caf\u00e9".encode("latin-1"), "not UTF-8"),
        (b"x" * (MAX_SEED_BYTES + 1), r"too large \(5.2 MB; at most 5 MiB\)"),
        (b"<html><body><script>var a = 1;</script></body></html>", "no article text"),
    ],
)
def test_what_is_not_an_article_is_a_clear_error(body: bytes, message: str) -> None:
    with pytest.raises(SeedError, match=message) as caught:
        seed_text(body, "seed.txt")
    assert str(caught.value).startswith("seed.txt: ")


@pytest.mark.slow
def test_seed_suggest_toml_from_a_url_passes_topics_check(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, [])
    with RawServer() as server:
        headers = {"Content-Type": "text/html; charset=utf-8"}
        server.route("/story", respond(PAGE.encode(), headers=headers))
        result = run_tracker("seed", "suggest", server.url("/story"), "--toml", "--name", "doha")
    topic = tmp_path / "config" / "topics" / "doha.toml"
    topic.write_text(result.stdout, encoding="utf-8")
    assert '"талиб*"' in result.stdout and "Taleban" in result.stdout
    assert "already in us-taliban/taliban" in result.stdout  # the shipped topic covers it
    check = run_tracker("topics", "check")
    assert "ok   doha:" in check.stdout
    assert "tracker: error" not in check.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the seed is empty"),
        (bytes(range(256)) * 100, "binary file"),
        (b"word " * 2_000_000, "too large"),
    ],
    ids=["empty", "binary", "10MB"],
)
def test_seed_suggest_refuses_what_is_not_an_article_in_one_line(
    tmp_path: Path, run_tracker: Run, content: bytes, message: str
) -> None:
    make_project(tmp_path, [])
    (tmp_path / "seed.bin").write_bytes(content)
    result = run_tracker("seed", "suggest", "seed.bin", "--toml", check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("tracker: error: seed.bin: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_seed_suggest_of_an_unreachable_url_is_one_line(tmp_path: Path, run_tracker: Run) -> None:
    make_project(tmp_path, [])
    result = run_tracker("seed", "suggest", "http://user:secret@127.0.0.1:9/story", check=False)
    assert result.returncode == 2
    assert "cannot fetch the seed" in result.stderr and "secret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_names_become_alias_sets_with_the_translations_topics_carry(tmp_path: Path) -> None:
    text = seed_text(PAGE.encode(), "page.html")
    known = ["Халилзад*", "خلیلزاد", "визит* в Кабул", "переговоры"]
    groups = alias_groups(text, suggest_terms(text, []))
    toml = topic_toml(groups, name="t", title="T", seed="", source="page.html", known=known)
    path = tmp_path / "t.toml"
    path.write_text(toml, encoding="utf-8")
    topic = load_topic(path)  # a proposal topics check accepts as it is
    sets = {entity.title: [term.text for term in entity.terms] for entity in topic.entities}
    khalilzad = next(terms for terms in sets.values() if "Khalilzad" in terms)
    assert {"Zalmay Khalilzad", "Халилзад*", "خلیلزاد"} <= set(khalilzad)
    assert "ISKP" in next(terms for terms in sets.values() if "ISKP" in terms)
    assert not any("переговоры" in terms for terms in sets.values())  # not a name
    assert all(entity.name != "talib" for entity in topic.entities)  # stems are no names
    assert "Entity alias sets (a proposal" in toml
