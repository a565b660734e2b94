"""Text folding for matching, and the way back to the original text."""

from __future__ import annotations

import re

import pytest

from tracker.textnorm import find_words, fold, fold_keeping_case, normalize, split_words

FOLDS = [
    # (original, folded, the behaviour it pins)
    ("TALIBAN Talks", "taliban talks", "case is folded"),
    ("Straße", "strasse", "casefold, not lower: ß becomes ss"),
    ("Ёлка ЁЖ", "елка еж", "ё and Ё fold to е"),
    ("ﬁnal ＵＳ", "final us", "NFKC: ligatures and full-width letters"),
    ("e\u0301te", "éte", "NFKC composes a base letter and its accent"),
    ("a\u00a0b\u2009c", "a b c", "non-breaking and thin spaces become spaces"),
    ("«talks» “deal” ‘it’s’", '"talks" "deal" \'it\'s\'', "typographic quotes become plain"),
    ("US–Taliban — talks −", "us-taliban - talks -", "dashes and minus become hyphens"),
    ("wait…", "wait.", "the ellipsis becomes one dot, keeping offsets 1:1"),
    ("İslam Emirliği İRAN", "islam emirliği iran", "Turkish dotted capital I becomes i, one word"),
    ("امريكا", "امریکا", "Arabic yeh and kaf become the Persian letters"),
    ("آمریکا أمريكا إيران", "امریکا امریکا ایران", "alef with madda or hamza becomes bare alef"),
    ("طالبان‌ها", "طالبانها", "the zero-width non-joiner joins the word"),
    ("ذبیح\u200dالله\u200b\ufeff", "ذبیحالله", "ZWJ, ZWSP and BOM are removed"),
    ("اَمْرِيكَا", "امریکا", "Arabic diacritics are removed"),
    ("طـــالبان", "طالبان", "tatweel is removed"),
    ("ۀ ة", "ه ه", "heh variants fold to heh"),
    ("ګډون اسلامي", "گډون اسلامی", "Pashto gaf and yeh variants fold"),
    ("۱۴۰۳ ١٤٠٣", "1403 1403", "Persian and Arabic-Indic digits become ASCII"),
]


@pytest.mark.parametrize(("original", "folded", "pins"), FOLDS, ids=[case[2] for case in FOLDS])
def test_fold(original: str, folded: str, pins: str) -> None:
    assert fold(original) == folded


TRICKY = [
    "Straße «talks» in Kabul — ﬁne",
    "طالبان‌ها با اَمْرِيكَا گفت‌وگو كردند ۱۴۰۳",
    "Ёжик\u00a0и ТАЛИБЫ…",
    "e\u0301te ß ﬀ ＡＢＣ",
    "line one\nﬁrst ß\n\nآمریکا\r\nend",
    "",
    "\u200c\u200c",
    "İslam Emirliği, ABD'ye İran",
]


@pytest.mark.parametrize("original", TRICKY)
def test_every_word_maps_back_to_its_original(original: str) -> None:
    """Folding the original span of a word gives the word back: offsets are right."""
    normalized = normalize(original)
    split = split_words(normalized.text)
    words = list(split.words)
    starts = split.word_starts(range(len(words)))
    for index, word in enumerate(words):
        start, end = normalized.original_span(starts[index], starts[index] + len(word))
        assert fold(original[start:end]) == word


def test_original_text_of_expanded_and_deleted_characters() -> None:
    original = "Die Straße. طالبان‌ها اَمْرِيكَا"
    normalized = normalize(original)
    at = normalized.text.index("strasse")
    assert normalized.original_text(at, at + len("strasse")) == "Straße"
    at = normalized.text.index("طالبانها")
    assert normalized.original_text(at, at + len("طالبانها")) == "طالبان‌ها"
    at = normalized.text.index("امریکا")
    assert normalized.original_text(at, at + len("امریکا")) == "اَمْرِيكَا"


def test_one_odd_line_in_a_long_text_keeps_offsets_right() -> None:
    """A line needing character-by-character folding does not shift later offsets."""
    original = "plain line\n" * 500 + "ﬁx Straße\n" + "tail word\n" * 500
    normalized = normalize(original)
    assert normalized.text == fold(original)
    at = normalized.text.rindex("tail")
    start, end = normalized.original_span(at, at + 4)
    assert original[start:end] == "tail"
    assert start == original.rindex("tail")
    at = normalized.text.index("fix")
    assert normalized.original_text(at, at + 3) == "ﬁx"


def test_empty_span_and_empty_text() -> None:
    assert normalize("").original_span(0, 0) == (0, 0)
    normalized = normalize("abc")
    assert normalized.original_span(1, 1) == (1, 1)


def test_split_words_gives_words_separators_and_starts() -> None:
    split = split_words(fold("U.S. officials, ISIS-K."))
    assert list(split.words) == ["u", "s", "officials", "isis", "k"]
    assert split.separator_after(1) == ". "
    assert split.separator_after(2) == ", "
    assert split.separator_after(3) == "-"
    assert split.word_starts([2, 0]) == {0: 0, 2: 5}


def test_words_keep_their_combining_marks() -> None:
    """Devanagari's and Thai's vowel signs are no word characters for ``\\w``: without
    them in words, तालिबान would be the four words त ल ब न."""
    text = "तालिबान और अमेरिका, ตาลีบัน; Taliban talks"
    words = ["तालिबान", "और", "अमेरिका", "ตาลีบัน", "taliban", "talks"]
    assert list(split_words(normalize(text).text).words) == words
    assert find_words(text) == [*words[:4], "Taliban", "talks"]
    assert find_words("U.S. officials") == ["U", "S", "officials"]


@pytest.mark.parametrize("extra", ["", "é", "талибы"])
def test_split_words_cuts_ascii_text_as_any_text(extra: str) -> None:
    # ASCII text is cut by a faster pattern: every ASCII character must fall the same way.
    text = "".join(f"{chr(code)}a{chr(code)}{chr(code)}1_" for code in range(128)) + extra
    assert list(split_words(text).parts) == re.split(r"(\w+)", text)


def test_split_words_of_text_without_words() -> None:
    assert list(split_words(" -- ").words) == []


def test_fold_keeping_case_keeps_case_and_folds_the_rest() -> None:
    assert fold_keeping_case("US ﬁne\u200c «IS»") == 'US fine "IS"'
