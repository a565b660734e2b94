"""Propose terms for a topic from its seed article, and show which are covered.

Given a seed article, :func:`suggest_terms` lists what an analyst would likely
put in keyword groups:

* names: runs of capitalised words (people, organisations, places), joined by
  "of", "for", "the" and the like ("United States Institute of Peace");
* acronyms: all-capital words ("ISKP", "CIA", "USIP");
* key phrases: two- and three-word lower-case phrases the seed repeats
  ("de facto authorities", "intelligence sharing").

Each suggestion says which ``topic/group`` already matches it (through the real
matcher, so masks apply), so the analyst sees at a glance what is missing.
Heuristic, English-oriented and deterministic. Pure: no I/O, no printing;
:func:`format_suggestions` returns the text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tracker.matching import STOPWORDS, TermIndex, compile_terms, find_matches
from tracker.models import ItemText
from tracker.topics import Topic

KINDS = ("name", "acronym", "phrase")
LIMITS = {"name": 40, "acronym": 20, "phrase": 25}  # suggestions kept per kind
MIN_PHRASE_COUNT = 2  # a key phrase must recur
CONNECTORS = frozenset({"of", "for", "the", "de", "al", "on", "in"})  # inside a name
# Capitalised only because they open a sentence.
OPENERS = frozenset(
    "moreover therefore meanwhile furthermore nevertheless nonetheless instead indeed "
    "finally overall still thus hence besides officially earlier later".split()
)
CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday "
    # abbreviations, as page headers and bylines write them ("Sun, 7 Sep")
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur fri sat sun".split()
)
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*")
_POSSESSIVE = re.compile(r"['’]s\Z")
_SENTENCE_END = re.compile(r"[.!?:;\n]")
_ACRONYM = re.compile(r"[A-Z][A-Z0-9&]{1,7}")


@dataclass(frozen=True)
class Suggestion:
    """A candidate term from the seed, and the topic groups that already match it."""

    text: str  # as the seed writes it
    kind: str  # "name", "acronym" or "phrase"
    count: int  # occurrences in the seed
    covered_by: tuple[str, ...] = ()  # "topic/group"

    @property
    def covered(self) -> bool:
        return bool(self.covered_by)


@dataclass(frozen=True)
class _Token:
    text: str  # possessive "'s" removed
    sentence_start: bool  # first word of a sentence
    joined: bool  # only spaces (or nothing) between this token and the previous one
    possessive: bool = False  # ended in "'s": a name ends here


def suggest_terms(seed_text: str, topics: Sequence[Topic]) -> list[Suggestion]:
    """Names, acronyms and key phrases of ``seed_text``, each with its coverage."""
    tokens = list(_tokens(seed_text))
    candidates = {
        "name": _names(tokens),
        "acronym": Counter(token.text for token in tokens if _ACRONYM.fullmatch(token.text)),
        "phrase": _phrases(tokens),
    }
    indexes = [(topic.name, compile_terms(topic)) for topic in topics]
    suggestions = []
    for kind in KINDS:
        ranked = sorted(candidates[kind].items(), key=lambda item: (-item[1], item[0].casefold()))
        for text, count in ranked[: LIMITS[kind]]:
            suggestions.append(Suggestion(text, kind, count, _coverage(text, indexes)))
    return suggestions


def format_suggestions(suggestions: Sequence[Suggestion]) -> str:
    """One section per kind; uncovered suggestions first, each with its count and coverage."""
    lines: list[str] = []
    for kind in KINDS:
        chosen = [s for s in suggestions if s.kind == kind]
        if not chosen:
            continue
        missing = sum(not s.covered for s in chosen)
        lines.append(f"{kind}s ({len(chosen)}, {missing} not covered):")
        width = max(len(s.text) for s in chosen)
        for suggestion in sorted(chosen, key=lambda s: s.covered):
            where = ", ".join(suggestion.covered_by) or "NOT COVERED"
            lines.append(f"  {suggestion.text:<{width}}  {suggestion.count:>3}x  {where}")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _tokens(text: str) -> Iterator[_Token]:
    previous_end = 0
    start_of_sentence = True
    for found in _TOKEN.finditer(text):
        gap = text[previous_end : found.start()]
        start_of_sentence = start_of_sentence or bool(_SENTENCE_END.search(gap))
        joined = previous_end > 0 and gap.strip() == "" and gap.count("\n") <= 1
        bare = _POSSESSIVE.sub("", found.group())
        yield _Token(bare, start_of_sentence, joined, possessive=bare != found.group())
        start_of_sentence = False
        previous_end = found.end()


def _names(tokens: Sequence[_Token]) -> Counter[str]:
    """Runs of capitalised words; a lone sentence opener only when capitalised elsewhere too."""
    inside = {token.text for token in tokens if not token.sentence_start}
    names: Counter[str] = Counter()
    for run in _capitalised_runs(tokens):
        words = _trim(run)
        if not words or (len(words) == 1 and _not_a_name(words[0].text)):
            continue
        if len(words) == 1 and words[0].sentence_start and words[0].text not in inside:
            continue
        names[" ".join(word.text for word in words)] += 1
    return names


def _capitalised_runs(tokens: Sequence[_Token]) -> Iterator[list[_Token]]:
    run: list[_Token] = []
    for token in tokens:
        capital = token.text[:1].isupper()
        connector = token.text in CONNECTORS and bool(run)
        if run and (not token.joined or not (capital or connector)):
            yield run
            run = []
        if capital or (connector and run):
            run.append(token)
        if run and token.possessive:
            yield run
            run = []
    if run:
        yield run


def _trim(run: list[_Token]) -> list[_Token]:
    """Drop connectors, stop words and dates at the edges ("The White House" -> "White
    House", "Doha on Sunday" -> "Doha")."""
    start, end = 0, len(run)
    while start < end and (run[start].text in CONNECTORS or _is_stopword(run[start].text)):
        start += 1
    while end > start and (run[end - 1].text in CONNECTORS or _is_stopword(run[end - 1].text)):
        end -= 1
    return run[start:end]


def _not_a_name(word: str) -> bool:
    return bool(_ACRONYM.fullmatch(word)) or word.casefold() in CALENDAR


def _is_stopword(word: str) -> bool:
    folded = word.casefold()
    edge_word = folded in STOPWORDS or folded in OPENERS or folded in CALENDAR
    return edge_word and not _ACRONYM.fullmatch(word)


def _phrases(tokens: Sequence[_Token]) -> Counter[str]:
    """Lower-case two- and three-word phrases that recur, without their sub-phrases."""
    counts: Counter[str] = Counter()
    for size in (2, 3):
        for index in range(len(tokens) - size + 1):
            window = tokens[index : index + size]
            if _phrase_window(window):
                counts[" ".join(token.text for token in window)] += 1
    recurring = {text: n for text, n in counts.items() if n >= MIN_PHRASE_COUNT}
    return Counter(
        {
            text: n
            for text, n in recurring.items()
            if not any(
                text in longer and recurring[longer] == n for longer in recurring if longer != text
            )
        }
    )


def _phrase_window(window: Sequence[_Token]) -> bool:
    if not all(token.text.islower() and token.text.isalpha() for token in window):
        return False
    if not all(token.joined for token in window[1:]):
        return False
    edges = (window[0].text, window[-1].text)
    return all(word not in STOPWORDS and len(word) > 1 for word in edges)


def _coverage(text: str, indexes: Sequence[tuple[str, TermIndex]]) -> tuple[str, ...]:
    covered = set()
    for topic_name, index in indexes:
        for match in find_matches(index, ItemText(title=text, summary="")):
            covered.add(f"{topic_name}/{match.group}")
    return tuple(sorted(covered))
