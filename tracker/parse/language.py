"""The language of an item's text, detected, with the feed's declared language as a hint.

Owns ``item_language``: the ISO 639-1 code (``en``, ``ru``, ``fa``, ``ps``; a 639-2/3
code where a language has no two-letter one) of an item's title and the start of its
summary. A script that belongs to one language decides it (Greek, Hangul, kana, Thai,
the scripts of south India...); ASCII text with several of English's commonest words is
English; anything else goes to CLD2 (``pycld2``, whose model is compiled into its
extension: nothing is downloaded, and it is loaded once per process, on first use). The
declared language (the entry's ``xml:lang``, else the feed's, else Content-Language)
is the hint: it is passed to CLD2, it is the answer when the text is too short or CLD2
is unsure, and it breaks ties between close languages (fa/ps/ar/ur, ru/uk/bg, ...) when
CLD2 names it among its candidates. Without a hint and without a sure answer: "".

Must not: read more than ``SAMPLE_CHARS`` of an item (the parse runs per item in the
workers: the cost must stay a few microseconds), do I/O, or import pycld2 anywhere else
(the only module that does).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

SAMPLE_CHARS = 160  # title and the start of the summary
MIN_LETTERS = 12  # fewer letters than this: the hint, whatever the text says
SHORT_CHARS = 4 * MIN_LETTERS  # samples shorter than this have their letters counted
SCRIPT_LETTERS = 16  # non-ASCII letters looked at to decide by script
MIN_ENGLISH_WORDS = 2  # distinct common words, "the" among them, to call ASCII text English
# Scripts (the first word of a letter's Unicode name) used by one language only, among
# the languages CLD2 knows.
SCRIPT_LANGUAGES = {
    "GREEK": "el",
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "THAI": "th",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
    "KANNADA": "kn",
    "TAMIL": "ta",
    "TELUGU": "te",
    "MALAYALAM": "ml",
    "GUJARATI": "gu",
    "GURMUKHI": "pa",
    "SINHALA": "si",
    "KHMER": "km",
    "LAO": "lo",
}
# Languages close enough that the declared one wins when CLD2 names it among its guesses.
CLOSE_LANGUAGES = (
    frozenset({"fa", "prs", "ps", "ar", "ur", "ku", "sd", "ug"}),
    frozenset({"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn"}),
    frozenset({"hr", "sr", "bs", "sl"}),
    frozenset({"id", "ms"}),
    frozenset({"da", "no", "nb", "nn", "sv"}),
    frozenset({"cs", "sk"}),
    frozenset({"es", "gl", "pt", "ca"}),
    frozenset({"hi", "mr", "ne"}),
)
# CLD2's codes that are not today's ISO 639 codes.
_ISO_CODES = {"iw": "he", "jw": "jv", "in": "id", "ji": "yi", "zh-hant": "zh", "sr-me": "sr"}
_ENGLISH_WORDS = frozenset(
    "the and of to is was for with that from are has have will said after over".split()
)
_TAG = re.compile(r"[a-z]{2,3}")

Detect = Callable[[str, str], tuple[bool, tuple[str, ...]]]


def item_language(title: str, summary: str, declared: str) -> str:
    """The language of an item whose feed (or entry) declares ``declared`` (or "")."""
    hint = language_code(declared)
    title = title[:SAMPLE_CHARS]  # fields may hold 200,000 characters: cut before joining
    sample = f"{title}\n{summary[:SAMPLE_CHARS]}"[:SAMPLE_CHARS] if summary else title
    if not sample.isascii():
        by_script = _script_language(sample)
        if by_script:
            return by_script
    elif _looks_english(sample):
        return "en"
    if len(sample) < SHORT_CHARS and sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return hint
    return _detected(sample, hint)


def language_code(tag: str) -> str:
    """The ISO 639 code of a language tag (``en-GB`` -> ``en``), or "" for junk."""
    primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    if not _TAG.fullmatch(primary):
        return ""
    return _ISO_CODES.get(primary, primary)


def _looks_english(sample: str) -> bool:
    lower = f" {sample.lower()} "
    if " the " not in lower:  # most non-English text stops here, at the cost of a find
        return False
    return len(_ENGLISH_WORDS.intersection(lower.split())) >= MIN_ENGLISH_WORDS


def _script_language(sample: str) -> str:
    """The language that the script of the sample's letters belongs to alone, or ""."""
    if 2 * len(sample.encode("ascii", "ignore")) > len(sample):
        return ""  # mostly ASCII: a Latin text with a few foreign letters, say
    scripts = set()
    letters = 0
    for character in sample:
        if character.isascii() or not character.isalpha():
            continue
        scripts.add(unicodedata.name(character, "?").split(" ", 1)[0])
        letters += 1
        if letters >= SCRIPT_LETTERS:
            break
    if scripts & {"HIRAGANA", "KATAKANA"}:
        return "ja"  # kana: Japanese, whatever Chinese characters come with it
    return SCRIPT_LANGUAGES.get(scripts.pop(), "") if len(scripts) == 1 else ""


def _detected(sample: str, hint: str) -> str:
    """CLD2's answer, the hint when it is unsure or names a close language of the hint."""
    sure, candidates = _cld2()(sample, hint)
    if not sure or candidates[0] in ("un", ""):
        return hint
    best = _iso_code(candidates[0])
    if hint and hint != best and _close(hint, best) and hint in map(_iso_code, candidates):
        return hint
    return best


def _close(one: str, other: str) -> bool:
    return any(one in group and other in group for group in CLOSE_LANGUAGES)


@functools.cache
def _cld2() -> Detect:
    """pycld2's detector, loaded on first use (once per worker process): whether it is
    sure, and its (up to three) guesses as CLD2's codes, best first."""
    import pycld2

    hints = {code.lower() for _, code in pycld2.LANGUAGES}

    def detect(sample: str, hint: str) -> tuple[bool, tuple[str, ...]]:
        try:
            if hint in hints:
                result: Any = pycld2.detect(sample, isPlainText=True, hintLanguage=hint)
            else:
                result = pycld2.detect(sample, isPlainText=True)
        except (pycld2.error, UnicodeError, ValueError):  # controls, lone surrogates
            return False, ()
        details = result[2]
        return bool(result[0]), (details[0][1], details[1][1], details[2][1])

    return detect


@functools.lru_cache(maxsize=512)
def _iso_code(cld2_code: str) -> str:
    code = cld2_code.lower()
    if code == "un" or code.startswith("xx-"):
        return ""  # unknown, or only a script
    return _ISO_CODES.get(code, code)
