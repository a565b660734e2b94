"""Text normalisation for term matching, with a way back to the original text.

This module owns one folding, applied alike to topic terms and to item text so
that both meet in the same form:

1. a 1:1 character table: non-breaking and typographic spaces to a space,
   typographic quotes to ``"``/``'``, dashes to ``-``, the ellipsis to ``.``, the
   Turkish ``İ`` to ``I`` (case folding would make it ``i`` and a dot above, so that
   ``İslam`` would not meet ``islam``);
2. Unicode NFKC, per base character with its combining marks;
3. ``str.casefold``;
4. a 1:1 letter table: ``ё``→``е``; Arabic-script variants to the Persian forms
   (``ي ى ې ۍ ئ``→``ی``, ``ك``→``ک``, ``ة ۀ ہ ھ``→``ه``, ``أ إ آ ٱ``→``ا``,
   ``ؤ``→``و``, Pashto ``ګ``→``گ``); Persian and Arabic-Indic digits to ASCII;
5. deletion of zero-width characters (U+200B/C/D, U+2060, U+FEFF, soft hyphen),
   tatweel and Arabic diacritics (harakat, superscript alef, Quranic marks).

:func:`normalize` returns a :class:`NormalizedText` that maps any span of the
normalised text back to the original, so a match can report the text and offset
the reader sees. :func:`split_words` cuts normalised text into words and the
separators between them; :func:`find_words` finds the words of any text. A word is a
run of ``\\w`` and combining marks, which ``\\w`` leaves out: Devanagari's and Thai's
vowel signs, a dot above (without them ``तालिबान`` is cut into ``त ल ब न``). Deleted
characters join words: ``طالبان‌ها`` (with a zero-width non-joiner) becomes one word,
``طالبانها``.

Pure and stdlib-only: no I/O, no logging, no third-party imports. Long texts stay
fast: ASCII text is only lower-cased; a text that needs no NFKC change and whose
case folding keeps its length is folded with whole-string operations; otherwise
only its unstable clusters (a character NFKC or case folding changes, a base
character with combining marks NFKC would change) go one by one, and the runs
between them are folded whole.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


def _table(pairs: dict[str, str]) -> dict[int, int]:
    """A ``str.translate`` table from a map of source characters to one target each."""
    table: dict[int, int] = {}
    for sources, target in pairs.items():
        for char in sources:
            table[ord(char)] = ord(target)
    return table


_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_PRE_FOLD = _table(
    {
        _SPACES + "\u202f\u205f\u3000": " ",
        "«»“”„‟″〝〞＂": '"',
        "‘’‚‛′´`＇": "'",
        "‐‑‒–—―−﹘﹣－": "-",
        "…": ".",
        "İ": "I",  # Turkish dotted capital I: its lower case is i (casefold adds a dot above)
    }
)
_LETTER_FOLD = _table(
    {
        "ё": "е",
        "يىېۍئ": "ی",
        "ك": "ک",
        "ةۀہھ": "ه",
        "أإآٱ": "ا",
        "ؤ": "و",
        "ګ": "گ",
        **{chr(0x0660 + d) + chr(0x06F0 + d): str(d) for d in range(10)},
    }
)
_IGNORABLE = (
    "\u00ad\u200b\u200c\u200d\u2060\ufeff\u0640"
    + "".join(chr(c) for c in range(0x064B, 0x0660))
    + "\u0670"
    + "".join(chr(c) for c in range(0x06D6, 0x06EE))
)
_FOLD_AND_DELETE: dict[int, int | None] = {**_LETTER_FOLD, **dict.fromkeys(map(ord, _IGNORABLE))}
# str.translate looks up every character of a non-ASCII text in the table, which is
# slow on long texts; the 1:1 pre-fold characters are rare, so substitute only them.
_PRE_FOLD_CHARS = re.compile("[" + re.escape("".join(map(chr, _PRE_FOLD))) + "]")
_PRE_FOLD_MAP = {chr(source): chr(target) for source, target in _PRE_FOLD.items()}
_LETTER_FOLD_CHARS = re.compile("[" + re.escape("".join(map(chr, _LETTER_FOLD))) + "]")
_LETTER_FOLD_MAP = {chr(source): chr(target) for source, target in _LETTER_FOLD.items()}
_IGNORABLE_RUN = re.compile(f"[{re.escape(_IGNORABLE)}]+")
# The same cut of ASCII text (Unicode's word characters there are ASCII's), twice as fast.
_ASCII_WORD_SPLIT = re.compile(r"(\w+)", re.ASCII)


@dataclass(frozen=True)
class Segment:
    """A stretch of normalised text and the original stretch it came from.

    A linear segment maps character for character; an atomic one (a ligature,
    ``ß``→``ss``, a composed accent) maps as a whole.
    """

    norm_start: int
    orig_start: int
    norm_len: int
    orig_len: int
    atomic: bool = False


@dataclass(frozen=True)
class NormalizedText:
    """Normalised text plus the segments that lead back to the original."""

    original: str
    text: str
    segments: tuple[Segment, ...]
    _starts: tuple[int, ...]  # norm_start of each segment, for bisect
    _identity: bool = False  # the texts are aligned character for character

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` behind the normalised span ``[start, end)``."""
        if self._identity:
            return start, end
        if not self.segments:
            return 0, 0
        if end <= start:
            at = self._original_start(min(start, len(self.text) - 1))
            return at, at
        return self._original_start(start), self._original_end(end - 1)

    def original_text(self, start: int, end: int) -> str:
        """The original text behind the normalised span ``[start, end)``."""
        orig_start, orig_end = self.original_span(start, end)
        return self.original[orig_start:orig_end]

    def _segment(self, position: int) -> Segment:
        index = bisect_right(self._starts, position) - 1
        return self.segments[index if index > 0 else 0]

    def _original_start(self, position: int) -> int:
        segment = self._segment(position)
        if segment.atomic:
            return segment.orig_start
        return segment.orig_start + min(position - segment.norm_start, segment.orig_len)

    def _original_end(self, last: int) -> int:
        segment = self._segment(last)
        if segment.atomic:
            return segment.orig_start + segment.orig_len
        return segment.orig_start + min(last - segment.norm_start + 1, segment.orig_len)


def fold(text: str) -> str:
    """The normalised form of ``text``, without the map back (for terms and keys)."""
    return normalize(text).text


def fold_keeping_case(text: str) -> str:
    """``text`` folded like :func:`fold` but with its letter case kept (for acronyms)."""
    composed = unicodedata.normalize("NFKC", _pre_fold(text))
    return composed.translate(_FOLD_AND_DELETE)


def normalize(text: str) -> NormalizedText:
    """Fold ``text`` for matching and keep the map from the result to ``text``."""
    if text.isascii():  # most text: lower case is the whole folding, 1:1
        whole = (Segment(0, 0, len(text), len(text)),) if text else ()
        return NormalizedText(text, text.lower(), whole, (0,) if text else (), bool(text))
    folded, segments = _fold_span(_pre_fold(text), 0, 0)
    merged = tuple(_merge(segments))
    identity = merged == (Segment(0, 0, len(text), len(text)),)
    return NormalizedText(text, folded, merged, tuple(s.norm_start for s in merged), identity)


def _pre_fold(text: str) -> str:
    """Step 1: spaces, quotes, dashes and the ellipsis, one character for one."""
    return text if text.isascii() else _PRE_FOLD_CHARS.sub(_pre_fold_char, text)


def _pre_fold_char(found: re.Match[str]) -> str:
    return _PRE_FOLD_MAP[found.group()]


def _letter_fold_char(found: re.Match[str]) -> str:
    return _LETTER_FOLD_MAP[found.group()]


def _fold_span(text: str, norm_at: int, orig_at: int) -> tuple[str, list[Segment]]:
    """Fold ``text`` (already pre-folded), whole when possible, else piece by piece.

    A text needing no NFKC change and keeping its length when case-folded is
    folded with whole-string operations. Otherwise only its unstable clusters (a
    character that NFKC or case folding changes or lengthens, a base character with
    its combining marks) are folded one by one, and the runs between them whole.
    """
    if unicodedata.is_normalized("NFKC", text):
        lowered = text.casefold()
        if len(lowered) == len(text):
            return _fold_aligned(lowered, norm_at, orig_at)
    pieces: list[str] = []
    segments: list[Segment] = []
    position = 0
    for found in _unstable_clusters().finditer(text):
        cluster = found.group()
        if len(cluster) > 1 and _is_stable(cluster):
            continue  # combining marks that NFKC keeps: folded with the run around them
        if found.start() > position:
            run = text[position : found.start()].casefold()
            folded, more = _fold_aligned(run, norm_at, orig_at + position)
            pieces.append(folded)
            segments += more
            norm_at += len(folded)
        folded = _fold_cluster(cluster)
        if folded:
            one_to_one = len(folded) == 1 and len(cluster) == 1
            segments.append(
                Segment(norm_at, orig_at + found.start(), len(folded), len(cluster), not one_to_one)
            )
            pieces.append(folded)
            norm_at += len(folded)
        position = found.end()
    if tail := text[position:]:
        folded, more = _fold_aligned(tail.casefold(), norm_at, orig_at + position)
        pieces.append(folded)
        segments += more
    return "".join(pieces), segments


def _is_stable(text: str) -> bool:
    return unicodedata.is_normalized("NFKC", text) and len(text.casefold()) == len(text)


@functools.cache
def _unstable_clusters() -> re.Pattern[str]:
    """What :func:`_fold_span` folds one by one: a character followed by combining
    marks, a lone combining mark, a character that NFKC or case folding changes or
    lengthens (every character beyond the Basic Multilingual Plane counts as one)."""
    marks: list[int] = []
    changed: list[int] = []
    for code in range(0x10000):
        char = chr(code)
        if unicodedata.combining(char):
            marks.append(code)
        elif unicodedata.normalize("NFKC", char) != char or len(char.casefold()) != 1:
            changed.append(code)
    mark_class = _char_class(marks)
    return re.compile(
        f"(?s:.){mark_class}+|{mark_class}|[{_char_ranges(changed)}\U00010000-\U0010ffff]"
    )


def _char_class(codes: Sequence[int]) -> str:
    return f"[{_char_ranges(codes)}]"


def _char_ranges(codes: Sequence[int]) -> str:
    """A regex character class body for ``codes`` (sorted), as ranges."""
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        first, last = re.escape(chr(start)), re.escape(chr(previous))
        parts.append(first if start == previous else f"{first}-{last}")
        start = previous = code
    return "".join(parts)


def _fold_aligned(lowered: str, norm_at: int, orig_at: int) -> tuple[str, list[Segment]]:
    """Fold text aligned 1:1 with its original; only deletions shift offsets."""
    if lowered.isascii():
        return lowered, [Segment(norm_at, orig_at, len(lowered), len(lowered))]
    lowered = _LETTER_FOLD_CHARS.sub(_letter_fold_char, lowered)
    folded = _IGNORABLE_RUN.sub("", lowered)
    if len(folded) == len(lowered):
        return folded, [Segment(norm_at, orig_at, len(folded), len(folded))]
    segments: list[Segment] = []
    kept = 0  # characters of ``lowered`` before the current run that survive
    previous_end = 0
    for run in _IGNORABLE_RUN.finditer(lowered):
        length = run.start() - previous_end
        segments.append(Segment(norm_at + kept, orig_at + previous_end, length, length))
        kept += length
        previous_end = run.end()
    length = len(lowered) - previous_end
    segments.append(Segment(norm_at + kept, orig_at + previous_end, length, length))
    return folded, segments


def _fold_cluster(cluster: str) -> str:
    return unicodedata.normalize("NFKC", cluster).casefold().translate(_FOLD_AND_DELETE)


def _merge(segments: Sequence[Segment]) -> Iterator[Segment]:
    """Join adjacent linear segments that continue each other; drop empty ones."""
    current: Segment | None = None
    for segment in segments:
        if segment.norm_len == 0 and not segment.atomic:
            continue
        if current is not None and _continues(current, segment):
            current = Segment(
                current.norm_start,
                current.orig_start,
                current.norm_len + segment.norm_len,
                current.orig_len + segment.orig_len,
            )
            continue
        if current is not None:
            yield current
        current = segment
    if current is not None:
        yield current


def _continues(current: Segment, segment: Segment) -> bool:
    return (
        not current.atomic
        and not segment.atomic
        and current.norm_start + current.norm_len == segment.norm_start
        and current.orig_start + current.orig_len == segment.orig_start
    )


@dataclass(frozen=True)
class WordSplit:
    """Normalised text cut into words and separators.

    ``parts`` alternates separator, word, separator, ... and always has an odd
    length: word ``i`` is ``parts[2 * i + 1]`` and the separator after it is
    ``parts[2 * i + 2]``. Offsets are computed only for the words that need them.
    """

    parts: Sequence[str]
    words: Sequence[str]  # parts[1::2]

    def separator_after(self, index: int) -> str:
        return self.parts[2 * index + 2]

    def word_starts(self, indices: Sequence[int]) -> dict[int, int]:
        """Start offsets (in the normalised text) of the given word indices."""
        starts: dict[int, int] = {}
        position = 0
        part = 0
        for index in sorted(set(indices)):
            target = 2 * index + 1
            position += sum(map(len, self.parts[part:target]))
            part = target
            starts[index] = position
        return starts


def split_words(text: str) -> WordSplit:
    """Cut normalised ``text`` into words and what lies between."""
    parts = (_ASCII_WORD_SPLIT if text.isascii() else _word_split()).split(text)
    return WordSplit(parts, parts[1::2])


def find_words(text: str) -> list[str]:
    """The words of ``text`` (runs of word characters and combining marks), in order."""
    return (_ASCII_WORD_SPLIT if text.isascii() else _word_split()).findall(text)


@functools.cache
def _word_split() -> re.Pattern[str]:
    """Words of any script: ``\\w`` and the combining marks (Unicode categories Mn, Mc
    and Me of the Basic Multilingual Plane). Built on first use (some 40 ms), when a
    process meets its first non-ASCII text."""
    marks = [code for code in range(0x10000) if unicodedata.category(chr(code))[0] == "M"]
    return re.compile(f"([\\w{_char_ranges(marks)}]+)")
