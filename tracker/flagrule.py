"""Whether a topic's rule holds for the terms found in an item, how strong the match
is, and the reasons' lines that say so.

A clause holds when its groups matched, none of its ``unless`` groups did, and,
when asked, one match of each lies within ``within`` words and in one sentence
(``same_sentence``: a title is a sentence; a sentence ends at ``. ! ? ;``, ``|``
or a line break, but not at the dot of an abbreviation such as "U.S."). The
rule's strength, the first part of the score, is each matched group's weight plus a
bonus for each extra distinct term. ``judge`` gives the first reasons line (flagged,
or why not); ``group_lines`` one line per group that matched.

Owns ``Hit`` (a term found in a field, as :mod:`tracker.matching` finds it) and
``Evidence`` (what the rule is judged on). Must not: find terms in text, read the
seed article, do I/O, or read the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from tracker.matchtuning import TUNING
from tracker.topics import Clause, Term, Topic

_UNBOUNDED = 1 << 62  # a ``within`` wider than any text
NO_MATCH = "not flagged: no topic terms matched"


class Hit(NamedTuple):  # a NamedTuple: built for every match, and cheap to build
    """A term found in a field, with the word positions the rule needs."""

    group: str
    term: Term
    field: str
    first: int  # word index in the field
    last: int  # word index in the field, inclusive
    position: int  # word index in the running text (title, summary, content)
    offset: int  # character offset in the original field
    matched: str  # the original text


def terms_by_group(hits: Iterable[Hit]) -> dict[str, set[str]]:
    terms: dict[str, set[str]] = {}
    for hit in hits:
        terms.setdefault(hit.group, set()).add(hit.term.text)
    return terms


def matched_groups(min_terms: Mapping[str, int], terms: Mapping[str, set[str]]) -> set[str]:
    return {name for name, found in terms.items() if len(found) >= min_terms[name]}


def strength(topic: Topic, terms: Mapping[str, set[str]], matched: set[str]) -> float:
    """Sum over matched groups of weight x (1 + bonus per extra distinct term)."""
    total = 0.0
    for group in topic.groups:
        if group.name in matched:
            extra = min(len(terms[group.name]) - 1, TUNING.extra_term_cap)
            total += group.weight * (1 + TUNING.extra_term_bonus * extra)
    return total


@dataclass(frozen=True)
class Evidence:
    """What the rule is judged on: the hits that count, by group, and their sentences."""

    hits: Sequence[Hit]
    matched: set[str]  # groups with enough distinct terms
    terms: Mapping[str, set[str]]  # group -> distinct terms matched
    sentence_of: Callable[[Hit], tuple[str, int]]  # (field, sentence index) of a hit


def judge(
    topic: Topic, titles: Mapping[str, str], evidence: Evidence, score: float
) -> tuple[bool, str]:
    """Whether the rule holds, and the first reasons line saying so or why not."""
    rule = topic.rule
    if not evidence.hits:
        return False, NO_MATCH
    if excluded := [titles[name] for name in rule.none_of if name in evidence.matched]:
        return False, "not flagged: excluded as " + ", ".join(excluded)
    main, *alternatives = rule.clauses
    first_failure = _clause_failure(main, titles, evidence)
    holding = (
        next((c for c in alternatives if not _clause_failure(c, titles, evidence)), None)
        if first_failure
        else main
    )
    if holding is None:  # say why the main clause fails
        return False, "not flagged: " + first_failure
    if rule.min_score is not None and score < rule.min_score:
        return False, f"not flagged: score {score:g} below {rule.min_score:g}"
    return True, "flagged: " + _describe(holding, titles)


def _clause_failure(clause: Clause, titles: Mapping[str, str], evidence: Evidence) -> str:
    """Why ``clause`` does not hold; "" when it holds."""
    matched = evidence.matched
    if missing := [titles[name] for name in clause.all_of if name not in matched]:
        return "no " + ", ".join(missing)
    if clause.any_of and not matched & set(clause.any_of):
        return "no " + " or ".join(titles[name] for name in clause.any_of)
    if excluded := [titles[name] for name in clause.unless if name in matched]:
        return "excluded as " + ", ".join(excluded)
    counted = sum(len(evidence.terms.get(name, ())) for name in (*clause.all_of, *clause.any_of))
    if counted < clause.min_matches:
        return f"too few terms ({counted} of {clause.min_matches})"
    if not _close_together(clause, evidence):
        named = ", ".join(titles[name] for name in (*clause.all_of, *clause.any_of))
        return f"{named} not {_closeness(clause)}"
    return ""


def _describe(clause: Clause, titles: Mapping[str, str]) -> str:
    line = " + ".join(titles[name] for name in clause.all_of)
    if closeness := _closeness(clause):
        line += f" {closeness}"
    if clause.any_of:
        line += (", with " if line else "") + " or ".join(titles[name] for name in clause.any_of)
    return line


def _closeness(clause: Clause) -> str:
    """How close the clause wants its matches, in words: "within 12 words in one sentence"."""
    parts = []
    if clause.within is not None:
        parts.append(f"within {clause.within} words")
    if clause.same_sentence:
        parts.append("in one sentence")
    return " ".join(parts)


def _close_together(clause: Clause, evidence: Evidence) -> bool:
    """Whether one hit of each all_of group and one any_of hit lie within ``within``
    words (and in one sentence, for a ``same_sentence`` clause)."""
    if clause.within is None and not clause.same_sentence:
        return True
    names = [{name} for name in clause.all_of]
    if clause.any_of:
        names.append(set(clause.any_of) & evidence.matched)
    wanted = set().union(*names)
    hits = [hit for hit in evidence.hits if hit.group in wanted]
    width = clause.within if clause.within is not None else _UNBOUNDED
    if not clause.same_sentence:
        return _covering_window([_positions(hits, group) for group in names], width)
    by_sentence: dict[tuple[str, int], list[Hit]] = {}
    for hit in hits:
        by_sentence.setdefault(evidence.sentence_of(hit), []).append(hit)
    return any(
        _covering_window([_positions(found, group) for group in names], width)
        for found in by_sentence.values()
    )


def _positions(hits: Iterable[Hit], groups: set[str]) -> list[int]:
    return [hit.position for hit in hits if hit.group in groups]


def _covering_window(position_sets: Sequence[Sequence[int]], width: int) -> bool:
    """Whether some window of ``width`` words holds a position from every set."""
    if not position_sets:
        return True
    events = sorted(
        (position, k) for k, positions in enumerate(position_sets) for position in positions
    )
    counts = [0] * len(position_sets)
    covered = 0
    left = 0
    for position, k in events:
        covered += counts[k] == 0
        counts[k] += 1
        while covered == len(position_sets):
            if position - events[left][0] <= width:
                return True
            dropped = events[left][1]
            counts[dropped] -= 1
            covered -= counts[dropped] == 0
            left += 1
    return False


def reason_order(topic: Topic) -> tuple[str, ...]:
    """The order of the groups in the reasons: the rule's groups first."""
    rule = topic.rule
    named = [name for clause in rule.clauses for name in (*clause.all_of, *clause.any_of)]
    return tuple(dict.fromkeys([*named, *rule.none_of, *(group.name for group in topic.groups)]))


def group_lines(topic: Topic, hits: Sequence[Hit], order: Sequence[str]) -> list[str]:
    """One line per group that matched, in ``order``: title: "match" in field, ..."""
    by_group: dict[str, list[Hit]] = {}
    for hit in hits:
        by_group.setdefault(hit.group, []).append(hit)
    lines = []
    for name in order:
        if name not in by_group:
            continue
        shown = _distinct_matches(by_group[name])
        if shown:
            more = ", …" if len(shown) > TUNING.matches_shown else ""
            listed = ", ".join(shown[: TUNING.matches_shown])
            lines.append(f"{topic.group(name).title}: {listed}{more}")
    return lines


def _distinct_matches(hits: Sequence[Hit]) -> list[str]:
    seen: dict[tuple[str, str], str] = {}
    for hit in hits:
        key = (hit.matched.casefold(), hit.field)
        seen.setdefault(key, f'"{hit.matched}" in {hit.field}')
    return list(seen.values())
