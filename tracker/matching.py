"""Decide whether an item is a follow-up of a topic's seed article, and say why.

:class:`TopicMatcher` holds one topic (:mod:`tracker.topics`) and its seed
article and turns an :class:`~tracker.models.ItemText` into a
:class:`~tracker.models.FlagDecision`: which terms matched where, whether the
topic's rule holds, a score that ranks closer follow-ups first, and
human-readable reasons, one per line.

Matching is token-based and linear in the text: each field is folded
(:mod:`tracker.textnorm`) and cut into words; each distinct word is looked up
once in a dict of first words (exact terms) and by its prefixes of the lengths
the topic uses (``*`` terms); phrases are then checked word by word and may not
run across a sentence end. Offsets and matched text are those of the original
field. A match of a masking group (``masks``) cancels matches of the masked
groups inside it ("Washington Post" is no US actor); a group limited to some
fields (``fields``) is not looked for in the others.

A clause holds when its groups matched, none of its ``unless`` groups did, and,
when asked, one match of each lies within ``within`` words and in one sentence
(``same_sentence``: a title is a sentence; a sentence ends at ``. ! ? ;``, ``|``
or a line break, but not at the dot of an abbreviation such as "U.S.").
Sentences are only worked out for items whose groups already satisfy such a
clause.

The score is the rule's strength (each matched group's weight, plus a bonus for
each extra distinct term) plus the cosine similarity between the item's words
and the seed article's distinctive words (frequent words that are not stop
words; the seed is the only document, so there is no corpus-wide IDF), times the
rule's ``seed_weight``. Everything is deterministic.

Pure: no I/O, no clock, no logging. Reading topic files and seeds is the
caller's job.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain, compress, count
from typing import NamedTuple

from tracker.models import FlagDecision, ItemText, TermMatch
from tracker.textnorm import (
    NormalizedText,
    WordSplit,
    fold,
    fold_keeping_case,
    normalize,
    split_words,
)
from tracker.topics import ITEM_FIELDS, Clause, Term, Topic


@dataclass(frozen=True)
class Tuning:
    """The matcher's tunables, in one place."""

    extra_term_bonus: float = 0.25  # score per distinct term beyond a group's first
    extra_term_cap: int = 4  # extra terms that earn the bonus, per group
    seed_terms_kept: int = 40  # distinctive seed words compared with items
    seed_terms_shown: int = 8  # shared seed words listed in the reasons
    matches_shown: int = 6  # matches listed per group in the reasons
    stem_length: int = 7  # words are compared by their first letters (a crude stemmer)
    lookup_memo_limit: int = 200_000  # distinct words remembered by a term index


TUNING = Tuning()
FIELDS = ITEM_FIELDS
_UNBOUNDED = 1 << 62  # a ``within`` wider than any text
_NO_MATCH = "not flagged: no topic terms matched"
_CANNOT_MATTER = "not flagged: no terms of the groups that make an item relevant or flagged"
# Between the words of a phrase: spaces, hyphens, apostrophes, quotes; or the dot of
# an abbreviation ("U.S. officials"). Anything else (a sentence end, a comma, a new
# line) breaks the phrase.
_PHRASE_GAP = re.compile(r"[ \t\-'\"]{0,4}")
_ABBREVIATION_GAP = re.compile(r"\.[ \t\-]{0,2}")
# A separator holding one of these ends a sentence (unless it is an abbreviation's dot);
# also the Arabic-script question mark, the Urdu full stop and the CJK full stop.
_SENTENCE_END = re.compile("[.!?;|\n؟۔。]")

STOPWORDS = frozenset(
    """
    a about above after again against all also although am an and any are as at be
    because been before being below between both but by can could did do does doing
    down during each either even ever every few for from further had has have having
    he her here hers him his how however i if in into is it its itself just last least
    less like made make many may me might more most much must my near neither no nor
    not now of off often on once one only or other our ours out over own per rather
    said same say says she should since so some still such than that the their theirs
    them then there these they this those though through thus to too told under until
    up upon us very was we well were what when where whether which while who whom
    whose why will with within without would year years yet you your new first two
    three according including among amid across already another around away back
    became become becomes began being brought called came come comes day days despite
    during early eight five four get gets given go goes going got great group half
    high however hours known late later lead led left less long main major make making
    march may month months next nine number part past people put recent recently
    reported reports report seen set several seven show shows six take taken ten third
    time times today took toward towards turn use used way week weeks went whose
    world part line lines
    official officials officially government governments minister ministry spokesman
    spokeswoman spokesperson statement country countries percent million billion
    news source sources situation position following expert experts issue issues case
    cases ability activity activities approach information center centre institute
    region regional area areas level levels side sides term terms point result results
    member members public support work working important general local national
    international political continue continued remain remains maintain maintaining
    facts according
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по
    только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли
    если уже или ни быть был него до вас нибудь опять уж вам ведь там потом себя
    ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без
    будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой
    совсем ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем всех
    никогда можно при наконец два об другой хоть после над больше тот через эти нас
    про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда
    лучше чуть том нельзя такой им более всегда конечно всю между также заявил
    заявила сообщил сообщила году года является
    و در به از که این را با است برای آن یک تا بر هم شد شده می نیز های ها هر او ما
    اما یا شود کرد کرده کند کنند دارد بود باشد خود دیگر پس وی ان همه گفت گفته
    اند ای بین پیش روز سال چند داد دهد
    د او په چی له سره ته دی کی هم یو دا چې وو شوی کړی کوی وایی ده ډېر تر لپاره
    """.split()
)


@dataclass(frozen=True)
class _Entry:
    """One term of the index, with its group."""

    group: str
    term: Term
    single: bool  # one word: matching its first word is matching it


@dataclass(frozen=True)
class _Candidates:
    """The terms that may start at one word: single words, and phrases by their second word."""

    singles: tuple[_Entry, ...]
    by_second: Mapping[str, tuple[_Entry, ...]]  # phrases whose second word is exact
    prefix_second: tuple[_Entry, ...]  # phrases whose second word is a prefix
    groups: frozenset[str]  # the groups of single words and of prefix phrases
    phrase_groups: Mapping[str, frozenset[str]]  # second word -> groups of by_second

    @property
    def has_phrases(self) -> bool:
        return bool(self.by_second or self.prefix_second)


class TermIndex:
    """A topic's terms keyed by their first word, for one lookup per distinct word."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        self._exact: dict[str, list[_Entry]] = {}
        self._prefix: dict[str, list[_Entry]] = {}
        self.absent: Mapping[str, frozenset[str]] = {  # field -> groups not looked for there
            field: frozenset(g.name for g in topic.groups if field not in g.fields)
            for field in FIELDS
        }
        for group in topic.groups:
            for term in group.terms:
                table = self._prefix if term.prefix[0] else self._exact
                entry = _Entry(group.name, term, single=len(term.words) == 1)
                table.setdefault(term.words[0], []).append(entry)
        self._prefix_lengths = sorted({len(key) for key in self._prefix})
        self.masking: Mapping[str, frozenset[str]] = {  # group -> the groups it masks
            group.name: frozenset(group.masks) for group in topic.groups if group.masks
        }
        self._seen: set[str] = set()  # words looked up so far (bounded)
        self._hot: dict[str, _Candidates] = {}  # those of them that start some term

    def candidates(self, word: str) -> _Candidates | None:
        """The terms whose first word matches ``word`` (a folded word); None when none."""
        return self.hot_words([word]).get(word)

    def hot_words(self, words: Iterable[str]) -> dict[str, _Candidates]:
        """The words among ``words`` that start some term, with those terms.

        Lookups are remembered. When the memory is full it is replaced, never
        cleared in place, so a matcher shared between threads stays correct.
        """
        distinct = words if isinstance(words, set) else set(words)
        seen, hot = self._seen, self._hot
        unseen = distinct - seen
        if len(seen) + len(unseen) > TUNING.lookup_memo_limit:
            seen, hot = set(), {}
            self._seen, self._hot = seen, hot
            unseen = distinct
        for word in unseen:
            found = self._lookup(word)
            if found is not None:
                hot[word] = found
        seen |= unseen  # after ``hot``: a word seen is a word already looked up
        return {word: hot[word] for word in distinct & hot.keys()}

    def _lookup(self, word: str) -> _Candidates | None:
        entries = list(self._exact.get(word, ()))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            entries.extend(self._prefix.get(word[:length], ()))
        if not entries:
            return None
        by_second: dict[str, list[_Entry]] = {}
        for entry in entries:
            if not entry.single and not entry.term.prefix[1]:
                by_second.setdefault(entry.term.words[1], []).append(entry)
        return _Candidates(
            singles=tuple(entry for entry in entries if entry.single),
            by_second={second: tuple(found) for second, found in by_second.items()},
            prefix_second=tuple(e for e in entries if not e.single and e.term.prefix[1]),
            groups=frozenset(e.group for e in entries if e.single or e.term.prefix[1]),
            phrase_groups={
                second: frozenset(entry.group for entry in found)
                for second, found in by_second.items()
            },
        )


class _Hit(NamedTuple):  # a NamedTuple: built for every match, and cheap to build
    """A term found in a field, with the word positions the rule needs."""

    group: str
    term: Term
    field: str
    first: int  # word index in the field
    last: int  # word index in the field, inclusive
    position: int  # word index in the running text (title, summary, content)
    offset: int  # character offset in the original field
    matched: str  # the original text


@dataclass(frozen=True)
class SeedProfile:
    """The seed article's distinctive words: stem -> weight, and how the seed spells them."""

    weights: Mapping[str, float]
    labels: Mapping[str, str]
    norm: float


def compile_terms(topic: Topic) -> TermIndex:
    """Index ``topic``'s terms for :func:`find_matches`."""
    return TermIndex(topic)


def find_matches(terms: TermIndex | Topic, text: ItemText) -> tuple[TermMatch, ...]:
    """Every term of the topic found in ``text`` (masked matches left out)."""
    index = terms if isinstance(terms, TermIndex) else TermIndex(terms)
    scan = _scan_item(index, text)
    assert scan is not None  # nothing is filtered out
    found = scan[0]
    return tuple(_term_match(hit) for hit in _effective(index, found))


class TopicMatcher:
    """Flags follow-ups of one topic's seed article, with reasons."""

    def __init__(self, topic: Topic, seed_text: str = "") -> None:
        self.topic = topic
        self._index = TermIndex(topic)
        self._seed = seed_profile(seed_text)
        self._titles = {group.name: group.title for group in topic.groups}
        rule = topic.rule
        required = (name for clause in rule.clauses for name in (*clause.all_of, *clause.any_of))
        self._relevant_groups = set(rule.relevant_if or required)
        self._min_terms = {group.name: group.min_terms for group in topic.groups}
        self._line_order = _reason_order(topic)
        self._cannot_matter = replace(self._no_match(), reasons=_CANNOT_MATTER)

    def find_matches(self, text: ItemText) -> tuple[TermMatch, ...]:
        """Every term of the topic found in ``text`` (masked matches left out)."""
        return find_matches(self._index, text)

    def decide(self, text: ItemText) -> FlagDecision:
        """Whether ``text`` is relevant, whether it is flagged, its score and why."""
        scan = _scan_item(self._index, text)
        assert scan is not None  # nothing is filtered out
        return self._decision(*scan)

    def assess(self, text: ItemText) -> FlagDecision:
        """The decision as the store keeps it: :meth:`decide`'s, except for an item
        that can be neither relevant nor flagged, whatever its terms' positions (the
        store keeps nothing of such an item): that one gets a short decision, without
        its matches, worked out from the words alone."""
        scan = _scan_item(self._index, text, self._may_matter)
        if scan is None:
            return self._cannot_matter
        return self._decision(*scan)

    def _may_matter(self, groups: set[str]) -> bool:
        """Whether an item matching (at most) ``groups`` could be relevant or flagged."""
        if groups & self._relevant_groups:
            return True
        return any(
            groups.issuperset(clause.all_of) and (not clause.any_of or groups & set(clause.any_of))
            for clause in self.topic.rule.clauses
        )

    def _decision(self, found: list[_Hit], words: set[str], sentences: _Sentences) -> FlagDecision:
        if not found:  # most items: not ranked, nothing to say but that
            return self._no_match()
        hits = _effective(self._index, found)
        similarity, shared = seed_similarity(self._seed, words)
        terms = _terms_by_group(hits)
        matched = _matched_groups(self._min_terms, terms)
        score = round(_strength(self.topic, terms, matched) + self._seed_score(similarity), 4)
        evidence = _Evidence(hits, matched, terms, sentences)
        flagged, verdict = _judge(self.topic, self._titles, evidence, score)
        # Masked mentions still tell what the item is about ("Taliban-ruled Afghanistan").
        mentioned = {hit.group for hit in found}
        relevant = flagged or bool(mentioned & self._relevant_groups)
        reasons = [verdict]
        reasons += _group_lines(self.topic, hits, self._line_order)
        if shared:
            reasons.append("seed terms shared: " + ", ".join(shared))
        return FlagDecision(
            topic=self.topic.name,
            relevant=relevant,
            flagged=flagged,
            score=score,
            reasons="\n".join(reasons),
            rule_version=self.topic.version,
            matches=tuple(_term_match(hit) for hit in hits),
            seed_terms=shared,
        )

    def _seed_score(self, similarity: float) -> float:
        return self.topic.rule.seed_weight * similarity

    def _no_match(self) -> FlagDecision:
        return FlagDecision(
            topic=self.topic.name,
            relevant=False,
            flagged=False,
            score=0.0,
            reasons=_NO_MATCH,
            rule_version=self.topic.version,
            matches=(),
            seed_terms=(),
        )


def _scan_item(
    index: TermIndex, text: ItemText, wanted: Callable[[set[str]], bool] | None = None
) -> tuple[list[_Hit], set[str], _Sentences] | None:
    """Hits in title, summary and content (before masking), the item's distinct words,
    and its sentences; None when ``wanted`` says the groups it matches do not matter."""
    fields = [(field, value) for field in FIELDS if (value := getattr(text, field))]
    folded = [(field, value, normalize(value)) for field, value in fields]
    splits = {field: split_words(normalized.text) for field, _, normalized in folded}
    distinct = set(chain.from_iterable(split.words for split in splits.values()))
    hot = index.hot_words(distinct)  # one lookup for the whole item
    if wanted is not None and not _may_be_wanted(hot, distinct, wanted):
        return None  # the terms the item's words may make cannot matter
    spans = {field: _field_spans(index, field, splits[field], hot) for field, _ in fields}
    if wanted is not None and not wanted({e.group for some in spans.values() for e, _, _ in some}):
        return None  # the terms found cannot matter
    hits: list[_Hit] = []
    base = 0
    for field, value, normalized in folded:
        split = splits[field]
        if spans[field]:
            hits += _field_hits(field, value, normalized, split, spans[field], base)
        base += len(split.words)
    for field in FIELDS:
        splits.setdefault(field, _NO_WORDS)
    return hits, distinct, _Sentences(splits)


_NO_WORDS = split_words("")


def _may_be_wanted(
    hot: Mapping[str, _Candidates], distinct: set[str], wanted: Callable[[set[str]], bool]
) -> bool:
    """Whether the groups of the terms the item's words may make are ``wanted`` (a
    test that more groups can only pass more easily): single words first, then phrases
    whose second word the item has too."""
    possible: set[str] = set().union(*(found.groups for found in hot.values()))
    if wanted(possible):
        return True
    for found in hot.values():
        for second in distinct & found.phrase_groups.keys() if found.phrase_groups else ():
            possible |= found.phrase_groups[second]
    return wanted(possible)


_Span = tuple["_Entry", int, int]  # a term, its first and its last word


def _field_spans(
    index: TermIndex, field: str, split: WordSplit, hot: Mapping[str, _Candidates]
) -> list[_Span]:
    """The terms found in one field, as spans of its words."""
    if not hot:
        return []
    spans = _spans(hot, split, split.words)
    if absent := index.absent[field]:
        spans = [span for span in spans if span[0].group not in absent]
    return spans


def _field_hits(
    field: str,
    text: str,
    normalized: NormalizedText,
    split: WordSplit,
    spans: Sequence[_Span],
    base: int,
) -> list[_Hit]:
    """The hits of ``spans`` in one field, whose words start at ``base`` in the item."""
    words = split.words
    starts = split.word_starts([i for span in spans for i in span[1:]])
    hits = []
    for entry, first, last in spans:
        start, end = normalized.original_span(starts[first], starts[last] + len(words[last]))
        matched = text[start:end]
        if entry.term.exact_case and not _case_matches(entry.term, matched):
            continue
        hits.append(_Hit(entry.group, entry.term, field, first, last, base + first, start, matched))
    return hits


class _Sentences:
    """Which sentence of its field a hit lies in, worked out per field on first use."""

    def __init__(self, splits: Mapping[str, WordSplit]) -> None:
        self._splits = splits
        self._ends: dict[str, list[int]] = {}  # field -> words followed by a sentence end

    def of(self, hit: _Hit) -> tuple[str, int]:
        ends = self._ends.get(hit.field)
        if ends is None:
            ends = self._ends[hit.field] = _sentence_ends(self._splits[hit.field])
        return hit.field, bisect_left(ends, hit.first)


def _sentence_ends(split: WordSplit) -> list[int]:
    """The indices of the words that end a sentence (the last word aside)."""
    words = split.words
    separators = split.parts[2::2]  # separators[i] follows words[i]
    return [
        i
        for i, separator in enumerate(separators[: len(words) - 1])
        if _SENTENCE_END.search(separator) and not _joins(separator, words[i])
    ]


def _spans(hot: Mapping[str, _Candidates], split: WordSplit, words: Sequence[str]) -> list[_Span]:
    """(term, first word, last word) of every term occurrence in the field."""
    spans: list[_Span] = []
    for first in compress(count(), map(hot.__contains__, words)):  # C-speed scan
        found = hot[words[first]]
        for entry in found.singles:
            spans.append((entry, first, first))
        if found.has_phrases and first + 1 < len(words):
            phrases = (*found.by_second.get(words[first + 1], ()), *found.prefix_second)
            for entry in phrases:
                last = _phrase_end(entry.term, split, words, first)
                if last is not None:
                    spans.append((entry, first, last))
    return spans


def _phrase_end(term: Term, split: WordSplit, words: Sequence[str], first: int) -> int | None:
    """The index of the last word of ``term`` when it matches at ``first``, else None.

    The first word is known to match (the index found the term by it).
    """
    if first + len(term.words) > len(words):
        return None
    for k in range(1, len(term.words)):
        word = words[first + k]
        wanted = term.words[k]
        if not (word.startswith(wanted) if term.prefix[k] else word == wanted):
            return None
        if not _joins(split.separator_after(first + k - 1), words[first + k - 1]):
            return None
    return first + len(term.words) - 1


def _joins(separator: str, previous: str) -> bool:
    """Whether two words with ``separator`` between them may belong to one phrase."""
    if separator == " " or _PHRASE_GAP.fullmatch(separator):
        return True
    return len(previous) <= 2 and bool(_ABBREVIATION_GAP.fullmatch(separator))


def _case_matches(term: Term, matched: str) -> bool:
    words = split_words(fold_keeping_case(matched)).words
    if len(words) != len(term.case_words):
        return False
    return all(
        word.startswith(wanted) if is_prefix else word == wanted
        for word, wanted, is_prefix in zip(words, term.case_words, term.prefix, strict=True)
    )


_FIELD_ORDER = {name: rank for rank, name in enumerate(FIELDS)}


def _effective(index: TermIndex, hits: Sequence[_Hit]) -> list[_Hit]:
    """Hits that count: masked ones and ones inside a longer hit of their group removed."""
    kept = _outermost(_unmasked(index.masking, hits))
    order = _FIELD_ORDER
    return sorted(kept, key=lambda hit: (order[hit.field], hit.first, hit.last, hit.group))


def _unmasked(masking: Mapping[str, frozenset[str]], hits: Sequence[_Hit]) -> list[_Hit]:
    """Drop hits that lie inside a hit of a group masking theirs (group -> groups it masks)."""
    covers: dict[tuple[str, int], list[tuple[int, frozenset[str]]]] = {}
    longest = 0  # words a mask spans beyond its first, at most
    for hit in hits:
        if hit.group in masking:
            covers.setdefault((hit.field, hit.first), []).append((hit.last, masking[hit.group]))
            longest = max(longest, hit.last - hit.first)
    if not covers:
        return list(hits)
    return [hit for hit in hits if not _masked(hit, covers, longest)]


def _masked(
    hit: _Hit, covers: Mapping[tuple[str, int], Sequence[tuple[int, frozenset[str]]]], longest: int
) -> bool:
    for first in range(hit.first - longest, hit.first + 1):
        for last, masked in covers.get((hit.field, first), ()):
            if last >= hit.last and hit.group in masked:
                return True
    return False


def _outermost(hits: Sequence[_Hit]) -> list[_Hit]:
    """Drop hits lying inside another hit of the same group and field."""
    kept: list[_Hit] = []
    reach: dict[tuple[str, str], int] = {}  # (group, field) -> last word covered so far
    for hit in sorted(hits, key=lambda hit: (hit.field, hit.group, hit.first, -hit.last)):
        key = (hit.group, hit.field)
        if reach.get(key, -1) >= hit.last:
            continue
        reach[key] = hit.last
        kept.append(hit)
    return kept


def _terms_by_group(hits: Iterable[_Hit]) -> dict[str, set[str]]:
    terms: dict[str, set[str]] = {}
    for hit in hits:
        terms.setdefault(hit.group, set()).add(hit.term.text)
    return terms


def _matched_groups(min_terms: Mapping[str, int], terms: Mapping[str, set[str]]) -> set[str]:
    return {name for name, found in terms.items() if len(found) >= min_terms[name]}


def _strength(topic: Topic, terms: Mapping[str, set[str]], matched: set[str]) -> float:
    """Sum over matched groups of weight x (1 + bonus per extra distinct term)."""
    total = 0.0
    for group in topic.groups:
        if group.name in matched:
            extra = min(len(terms[group.name]) - 1, TUNING.extra_term_cap)
            total += group.weight * (1 + TUNING.extra_term_bonus * extra)
    return total


@dataclass(frozen=True)
class _Evidence:
    """What the rule is judged on: the hits that count, by group, and their sentences."""

    hits: Sequence[_Hit]
    matched: set[str]  # groups with enough distinct terms
    terms: Mapping[str, set[str]]  # group -> distinct terms matched
    sentences: _Sentences


def _judge(
    topic: Topic, titles: Mapping[str, str], evidence: _Evidence, score: float
) -> tuple[bool, str]:
    """Whether the rule holds, and the first reasons line saying so or why not."""
    rule = topic.rule
    if not evidence.hits:
        return False, _NO_MATCH
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


def _clause_failure(clause: Clause, titles: Mapping[str, str], evidence: _Evidence) -> str:
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


def _close_together(clause: Clause, evidence: _Evidence) -> bool:
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
    by_sentence: dict[tuple[str, int], list[_Hit]] = {}
    for hit in hits:
        by_sentence.setdefault(evidence.sentences.of(hit), []).append(hit)
    return any(
        _covering_window([_positions(found, group) for group in names], width)
        for found in by_sentence.values()
    )


def _positions(hits: Iterable[_Hit], groups: set[str]) -> list[int]:
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


def _reason_order(topic: Topic) -> tuple[str, ...]:
    """The order of the groups in the reasons: the rule's groups first."""
    rule = topic.rule
    named = [name for clause in rule.clauses for name in (*clause.all_of, *clause.any_of)]
    return tuple(dict.fromkeys([*named, *rule.none_of, *(group.name for group in topic.groups)]))


def _group_lines(topic: Topic, hits: Sequence[_Hit], order: Sequence[str]) -> list[str]:
    """One line per group that matched, in ``order``: title: "match" in field, ..."""
    by_group: dict[str, list[_Hit]] = {}
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


def _distinct_matches(hits: Sequence[_Hit]) -> list[str]:
    seen: dict[tuple[str, str], str] = {}
    for hit in hits:
        key = (hit.matched.casefold(), hit.field)
        seen.setdefault(key, f'"{hit.matched}" in {hit.field}')
    return list(seen.values())


def _term_match(hit: _Hit) -> TermMatch:
    return TermMatch(hit.group, hit.term.text, hit.matched, hit.field, hit.offset)


@functools.lru_cache(maxsize=TUNING.lookup_memo_limit)
def stem(word: str) -> str | None:
    """The comparison key of a folded word, or None for stop words, numbers and short words."""
    if len(word) < 3 or word in STOPWORDS or word.isdigit():
        return None
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    return word[: TUNING.stem_length]


def seed_profile(seed_text: str) -> SeedProfile:
    """The seed article's most frequent distinctive words, weighted 1 + log(count)."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for spelled in split_words(fold_keeping_case(seed_text)).words:
        key = stem(fold(spelled))
        if key is not None:
            counts[key] += 1
            spellings.setdefault(key, Counter())[spelled] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: TUNING.seed_terms_kept]
    weights = {key: 1 + math.log(count) for key, count in ranked}
    labels = {key: _commonest(spellings[key]) for key in weights}
    norm = math.sqrt(sum(weight * weight for weight in weights.values()))
    return SeedProfile(weights, labels, norm)


def _commonest(spellings: Counter[str]) -> str:
    return min(spellings.items(), key=lambda item: (-item[1], item[0]))[0]


def seed_similarity(profile: SeedProfile, words: Iterable[str]) -> tuple[float, tuple[str, ...]]:
    """Cosine of the seed's weighted words and the item's distinct words; the shared words."""
    distinct = words if isinstance(words, set | frozenset) else set(words)
    stems = set(filter(None, map(stem, distinct)))
    shared = sorted(
        (key for key in stems if key in profile.weights),
        key=lambda key: (-profile.weights[key], key),
    )
    if not shared or not profile.norm:
        return 0.0, ()
    overlap = sum(profile.weights[key] for key in shared)
    similarity = overlap / (profile.norm * math.sqrt(len(stems)))
    labels = tuple(profile.labels[key] for key in shared[: TUNING.seed_terms_shown])
    return round(similarity, 4), labels
