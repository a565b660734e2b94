"""Warnings about topic terms that are valid but almost certainly not what was meant.

A term is a literal word or phrase, with an optional ``*`` ending a word
(:mod:`tracker.topics`). Terms written as regular expressions (``"Taliban|Taleban"``,
``"\\bTaliban\\b"``, ``"Talib[a-z]+"``) pass validation and never match; one- and
two-letter words and stop words match a large part of any news feed. ``lint_topic``
says which terms look like that and what to write instead; ``stale_terms`` says which
terms matched many older stored items and none of the recent ones (a spelling the
feeds stopped using, or an outlet gone), from counts the caller read. The aliases of
entity sets get the same advice, and a warning when one alias is in two sets (a
report naming it would name both entities).

Pure: no I/O (the caller reads the file's lines and the counts), no clock.

Must not: reject a topic (``topics`` validates) or match text (``matching`` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tracker.models import TermWarning
from tracker.seedterms import STOPWORDS
from tracker.topics import Term, Topic

SHORT_TERM = 2  # letters: a word this short matches inside a large share of any feed
# Stop words up to this long are function words and news filler ("the", "said", "new",
# "и", "در"); the longer ones in the list ("official", "information") are generic news
# vocabulary that a group may well use inside a stricter clause.
COMMON_WORD_MAX = 6
# A term that matched at least this many older items and none of the recent ones is
# called stale (a handful of old matches says nothing).
STALE_MIN_OLDER = 10
_ALTERNATION = re.compile(r"\|")
_BOUNDARY = re.compile(r"\\[bBwWsSdD]")
_CLASS_OR_REPEAT = re.compile(r"\[[^\]]*\][*+?]?|\.[*+?]|[+?]\Z|\(|\)|\{\d")
_ANCHOR = re.compile(r"\A\^|\$\Z")
_LETTERS = re.compile(r"[^\W\d_]+")


def lint_topic(topic: Topic, lines: Sequence[str]) -> list[TermWarning]:
    """Every warning about the terms of ``topic``; ``lines`` are its file's lines."""
    warnings: list[TermWarning] = []
    for group in topic.groups:
        for term in group.terms:
            advice = term_advice(term)
            if advice:
                key = f"groups.{group.name}.{'exact_case' if term.exact_case else 'terms'}"
                line = _term_line(lines, term.text)
                warnings.append(TermWarning(topic.path, line, key, term.text, advice))
    return warnings + _alias_warnings(topic, lines)


def _alias_warnings(topic: Topic, lines: Sequence[str]) -> list[TermWarning]:
    warnings = []
    owners: dict[tuple[tuple[str, ...], tuple[bool, ...]], str] = {}
    for entity in topic.entities:
        for term in entity.terms:
            first = owners.setdefault((term.words, term.prefix), entity.name)
            advice = term_advice(term) or (
                f"also an alias of [entities.{first}]: a report naming it names both"
                if first != entity.name
                else ""
            )
            if advice:
                key = f"entities.{entity.name}.{'exact_case' if term.exact_case else 'terms'}"
                line = _term_line(lines, term.text, after=f"[entities.{entity.name}]")
                warnings.append(TermWarning(topic.path, line, key, term.text, advice))
    return warnings


def term_advice(term: Term) -> str:
    """Why ``term`` is probably a mistake and what to write instead; "" when it is fine."""
    text = term.text
    if _ALTERNATION.search(text):
        parts = ", ".join(f'"{part.strip()}"' for part in text.split("|") if part.strip())
        return f"terms are literal, not regular expressions: list {parts} as separate terms"
    if _BOUNDARY.search(text):
        plain = _BOUNDARY.sub("", text).replace("\\", "")
        return f'terms always match whole words: write "{plain}"'
    if _CLASS_OR_REPEAT.search(text) or _ANCHOR.search(text):
        stem = _LETTERS.match(text)
        hint = f'"{stem.group()}*"' if stem and len(stem.group()) >= 2 else '"word*"'
        return f"terms are literal, not regular expressions: for any ending write {hint}"
    return _broad_advice(term)


def _broad_advice(term: Term) -> str:
    if len(term.words) != 1 or term.prefix[0]:
        return ""
    word = term.words[0]
    if term.exact_case and term.text.isupper() and len(word) >= 2:
        return ""  # "US", "UN" under exact_case: only the acronym matches
    if len(word) <= SHORT_TERM:
        if len(word) == 2 and not term.exact_case:
            return (
                f'a {len(word)}-letter term matches the word "{word}" in any text: '
                f'list "{term.text.upper()}" under exact_case if an acronym is meant'
            )
        return f'a {len(word)}-letter term matches "{word}" in a large share of all items'
    if word in STOPWORDS and len(word) <= COMMON_WORD_MAX:
        return f'"{word}" is a common word: it matches a large share of all items'
    return ""


def stale_terms(
    topic: Topic,
    recent: Mapping[tuple[str, str], int],
    older: Mapping[tuple[str, str], int],
    lines: Sequence[str],
    days: int,
) -> list[TermWarning]:
    """Terms that matched ``STALE_MIN_OLDER`` or more older items and no recent one.

    ``recent`` and ``older`` count stored items per ``(group, term)`` of this topic
    whose first sighting is within the last ``days`` days, or before them.
    """
    warnings = []
    for group in topic.groups:
        for term in group.terms:
            key = (group.name, term.text)
            before = older.get(key, 0)
            if recent.get(key, 0) == 0 and before >= STALE_MIN_OLDER:
                message = (
                    f"matched {before} older items and none in the last {days} days: "
                    "do the feeds still write it this way?"
                )
                line = _term_line(lines, term.text)
                where = f"groups.{group.name}.terms"
                warnings.append(TermWarning(topic.path, line, where, term.text, message))
    return warnings


def _term_line(lines: Sequence[str], text: str, after: str = "") -> int | None:
    """The line of ``text`` quoted, the first one after the line ``after`` (a table's
    header) when given."""
    # As written in TOML: a basic string doubles its backslashes, a literal one does not.
    spellings = {text, text.replace("\\", "\\\\")}
    quoted = [re.compile(rf"""["']{re.escape(spelled)}["']""") for spelled in spellings]
    started = not after
    for number, line in enumerate(lines, start=1):
        started = started or line.strip() == after
        if started and any(pattern.search(line) for pattern in quoted):
            return number
    return None
