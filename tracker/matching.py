"""Decide whether an item is a follow-up of a topic's seed article, and say why.

:class:`TopicMatcher` holds one topic (:mod:`tracker.topics`) and its seed
article and turns an :class:`~tracker.models.ItemText` into a
:class:`~tracker.models.FlagDecision`: which terms matched where, whether the
topic's rule holds, a score that ranks closer follow-ups first, and
human-readable reasons, one per line; and the topic's entity alias sets
(``[entities.<name>]``) its title or summary names, found from the same words
(``FlagDecision.entities``: adaptive tracking reads them from the store). ``Matchers``
is every topic's matcher as the one assessor the parse workers receive.

Matching is token-based and linear in the text: each field is folded
(:mod:`tracker.textnorm`) and cut into words; each distinct word is looked up
once in a dict of first words (exact terms) and by its prefixes of the lengths
the topic uses (``*`` terms); phrases are then checked word by word and may not
run across a sentence end. Offsets and matched text are those of the original
field. A match of a masking group (``masks``) cancels matches of the masked
groups inside it ("Washington Post" is no US actor); a group limited to some
fields (``fields``) is not looked for in the others. Sentences are only worked
out for items whose groups already satisfy a clause that asks for them.

The rule, the strength part of the score and the reasons' lines are
:mod:`tracker.flagrule`'s; the seed article's words and their similarity to an
item's (the score's other part, times the rule's ``seed_weight``) are
:mod:`tracker.seedterms`'s; the tunables are :mod:`tracker.matchtuning`'s. Their
public names are importable from here too.

Pure: no I/O, no clock, no logging. Reading topic files and seeds is the
caller's job.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain, compress, count

from tracker.flagrule import (
    NO_MATCH,
    Evidence,
    Hit,
    group_lines,
    judge,
    matched_groups,
    reason_order,
    strength,
    terms_by_group,
)
from tracker.matchtuning import TUNING, Tuning
from tracker.models import FlagDecision, ItemText, TermMatch
from tracker.seedterms import STOPWORDS, SeedProfile, seed_profile, seed_similarity, stem
from tracker.textnorm import (
    NormalizedText,
    WordSplit,
    fold_keeping_case,
    normalize,
    split_words,
)
from tracker.topics import ITEM_FIELDS, FlagRule, Term, Topic

__all__ = [
    "FIELDS",
    "STOPWORDS",
    "TUNING",
    "Matchers",
    "SeedProfile",
    "TermIndex",
    "TopicMatcher",
    "Tuning",
    "compile_terms",
    "find_matches",
    "seed_profile",
    "seed_similarity",
    "stem",
]

FIELDS = ITEM_FIELDS
ENTITY_FIELDS = ("title", "summary")  # where an item names an entity (the words developments key)
_CANNOT_MATTER = "not flagged: no terms of the groups that make an item relevant or flagged"
# Between the words of a phrase: spaces, hyphens, apostrophes, quotes; or the dot of
# an abbreviation ("U.S. officials"). Anything else (a sentence end, a comma, a new
# line) breaks the phrase.
_PHRASE_GAP = re.compile(r"[ \t\-'\"]{0,4}")
_ABBREVIATION_GAP = re.compile(r"\.[ \t\-]{0,2}")
# A separator holding one of these ends a sentence (unless it is an abbreviation's dot);
# also the Arabic-script question mark, the Urdu full stop and the CJK full stop.
_SENTENCE_END = re.compile("[.!?;|\n؟۔。]")


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
        # Every prefix starts with one of these (its first letters, as many as the
        # shortest prefix has): a word that starts with none is looked up once.
        self._shortest = self._prefix_lengths[0] if self._prefix_lengths else 0
        self._heads = frozenset(key[: self._shortest] for key in self._prefix)
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
        if word[: self._shortest] in self._heads:
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


def compile_terms(topic: Topic) -> TermIndex:
    """Index ``topic``'s terms for :func:`find_matches`."""
    return TermIndex(topic)


def entity_terms(topic: Topic) -> TermIndex | None:
    """Index ``topic``'s entity alias sets as terms, one group per set (None: it has none)."""
    if not topic.entities:
        return None
    return TermIndex(replace(topic, seed="", groups=topic.entities, rule=FlagRule()))


def find_matches(terms: TermIndex | Topic, text: ItemText) -> tuple[TermMatch, ...]:
    """Every term of the topic found in ``text`` (masked matches left out)."""
    index = terms if isinstance(terms, TermIndex) else TermIndex(terms)
    scan = _scan_folded(index, _fold(text), bool)  # any group will do: none, no term found
    if scan is None:
        return ()
    return tuple(_term_match(hit) for hit in _effective(index, scan[0]))


class TopicMatcher:
    """Flags follow-ups of one topic's seed article, with reasons."""

    def __init__(self, topic: Topic, seed_text: str = "") -> None:
        self.topic = topic
        self._index = TermIndex(topic)
        self._entities = entity_terms(topic)
        self._seed = seed_profile(seed_text)
        self._titles = {group.name: group.title for group in topic.groups}
        rule = topic.rule
        required = (name for clause in rule.clauses for name in (*clause.all_of, *clause.any_of))
        self._relevant_groups = set(rule.relevant_if or required)
        self._min_terms = {group.name: group.min_terms for group in topic.groups}
        self._line_order = reason_order(topic)
        self._cannot_matter = replace(self._no_match(), reasons=_CANNOT_MATTER)

    def find_matches(self, text: ItemText) -> tuple[TermMatch, ...]:
        """Every term of the topic found in ``text`` (masked matches left out)."""
        return find_matches(self._index, text)

    def decide(self, text: ItemText) -> FlagDecision:
        """Whether ``text`` is relevant, whether it is flagged, its score and why, and
        the topic's entities it names."""
        item = _fold(text)
        scan = _scan_folded(self._index, item)
        assert scan is not None  # nothing is filtered out
        return self._naming(self._decision(*scan), item)

    def assess(self, text: ItemText) -> FlagDecision:
        """The decision as the store keeps it: :meth:`decide`'s, except for an item
        that can be neither relevant nor flagged, whatever its terms' positions (the
        store keeps nothing of such an item): that one gets a short decision, without
        its matches, worked out from the words alone."""
        item = _fold(text)
        scan = _scan_folded(self._index, item, self._may_matter)
        decision = self._cannot_matter if scan is None else self._decision(*scan)
        return self._naming(decision, item)

    def _naming(self, decision: FlagDecision, item: _Folded) -> FlagDecision:
        """``decision`` with the entities the item names (worked out here, where the
        item's words are already cut, rather than once more by the single writer)."""
        named = _named(self._entities, item)
        return replace(decision, entities=named) if named else decision

    def _may_matter(self, groups: set[str]) -> bool:
        """Whether an item matching (at most) ``groups`` could be relevant or flagged."""
        if groups & self._relevant_groups:
            return True
        return any(
            groups.issuperset(clause.all_of) and (not clause.any_of or groups & set(clause.any_of))
            for clause in self.topic.rule.clauses
        )

    def _decision(self, found: list[Hit], words: set[str], sentences: _Sentences) -> FlagDecision:
        if not found:  # most items: not ranked, nothing to say but that
            return self._no_match()
        hits = _effective(self._index, found)
        similarity, shared = seed_similarity(self._seed, words)
        terms = terms_by_group(hits)
        matched = matched_groups(self._min_terms, terms)
        score = round(strength(self.topic, terms, matched) + self._seed_score(similarity), 4)
        evidence = Evidence(hits, matched, terms, sentences.of)
        flagged, verdict = judge(self.topic, self._titles, evidence, score)
        # Masked mentions still tell what the item is about ("Taliban-ruled Afghanistan").
        mentioned = {hit.group for hit in found}
        relevant = flagged or bool(mentioned & self._relevant_groups)
        reasons = [verdict]
        reasons += group_lines(self.topic, hits, self._line_order)
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
            reasons=NO_MATCH,
            rule_version=self.topic.version,
            matches=(),
            seed_terms=(),
        )


@dataclass(frozen=True)
class _Folded:
    """An item's fields folded and cut into words, once for every index looked up."""

    folded: list[tuple[str, str, NormalizedText]]  # field, its text, the text folded
    splits: dict[str, WordSplit]
    distinct: set[str]


def _fold(text: ItemText) -> _Folded:
    fields = [(field, value) for field in FIELDS if (value := getattr(text, field))]
    folded = [(field, value, normalize(value)) for field, value in fields]
    splits = {field: split_words(normalized.text) for field, _, normalized in folded}
    distinct = set(chain.from_iterable(split.words for split in splits.values()))
    return _Folded(folded, splits, distinct)


@dataclass(frozen=True)
class Matchers:
    """Several topics' matchers as one assessor (``tracker.models.Assessor``): an
    item's text in, one :meth:`TopicMatcher.assess` verdict per topic out."""

    matchers: tuple[TopicMatcher, ...]

    def __call__(self, text: ItemText) -> list[FlagDecision]:
        return [matcher.assess(text) for matcher in self.matchers]


def _scan_folded(
    index: TermIndex,
    item: _Folded,
    wanted: Callable[[set[str]], bool] | None = None,
    hot: Mapping[str, _Candidates] | None = None,
) -> tuple[list[Hit], set[str], _Sentences] | None:
    """Hits in the item's folded fields (before masking), its distinct words, and its
    sentences; None when ``wanted`` says the groups it matches do not matter. ``hot``:
    the index's words among the item's, if already looked up."""
    splits, distinct = item.splits, item.distinct
    if hot is None:
        hot = index.hot_words(distinct)  # one lookup for the whole item
    if wanted is not None and not _may_be_wanted(hot, distinct, wanted):
        return None  # the terms the item's words may make cannot matter
    spans = {field: _field_spans(index, field, splits[field], hot) for field, _, _ in item.folded}
    if wanted is not None and not wanted({e.group for some in spans.values() for e, _, _ in some}):
        return None  # the terms found cannot matter
    hits: list[Hit] = []
    base = 0
    for field, value, normalized in item.folded:
        split = splits[field]
        if spans[field]:
            hits += _field_hits(field, value, normalized, split, spans[field], base)
        base += len(split.words)
    return hits, distinct, _Sentences({field: splits.get(field, _NO_WORDS) for field in FIELDS})


def _named(index: TermIndex | None, item: _Folded) -> tuple[str, ...]:
    """The groups of ``index`` (a topic's entity alias sets) that the item's title or
    summary names, sorted: :func:`find_matches` on those two fields, from the words
    the topic's own scan already cut."""
    hot = index.hot_words(item.distinct) if index is not None else None
    if index is None or not hot:
        return ()  # nearly every item: none of its words starts an alias
    fields = [folded for folded in item.folded if folded[0] in ENTITY_FIELDS]
    scan = _scan_folded(index, _Folded(fields, item.splits, item.distinct), bool, hot)
    return () if scan is None else tuple(sorted({hit.group for hit in _effective(index, scan[0])}))


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
) -> list[Hit]:
    """The hits of ``spans`` in one field, whose words start at ``base`` in the item."""
    words = split.words
    starts = split.word_starts([i for span in spans for i in span[1:]])
    hits = []
    for entry, first, last in spans:
        start, end = normalized.original_span(starts[first], starts[last] + len(words[last]))
        matched = text[start:end]
        if entry.term.exact_case and not _case_matches(entry.term, matched):
            continue
        hits.append(Hit(entry.group, entry.term, field, first, last, base + first, start, matched))
    return hits


class _Sentences:
    """Which sentence of its field a hit lies in, worked out per field on first use."""

    def __init__(self, splits: Mapping[str, WordSplit]) -> None:
        self._splits = splits
        self._ends: dict[str, list[int]] = {}  # field -> words followed by a sentence end

    def of(self, hit: Hit) -> tuple[str, int]:
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


def _effective(index: TermIndex, hits: Sequence[Hit]) -> list[Hit]:
    """Hits that count: masked ones and ones inside a longer hit of their group removed."""
    kept = _outermost(_unmasked(index.masking, hits))
    order = _FIELD_ORDER
    return sorted(kept, key=lambda hit: (order[hit.field], hit.first, hit.last, hit.group))


def _unmasked(masking: Mapping[str, frozenset[str]], hits: Sequence[Hit]) -> list[Hit]:
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
    hit: Hit, covers: Mapping[tuple[str, int], Sequence[tuple[int, frozenset[str]]]], longest: int
) -> bool:
    for first in range(hit.first - longest, hit.first + 1):
        for last, masked in covers.get((hit.field, first), ()):
            if last >= hit.last and hit.group in masked:
                return True
    return False


def _outermost(hits: Sequence[Hit]) -> list[Hit]:
    """Drop hits lying inside another hit of the same group and field."""
    kept: list[Hit] = []
    reach: dict[tuple[str, str], int] = {}  # (group, field) -> last word covered so far
    for hit in sorted(hits, key=lambda hit: (hit.field, hit.group, hit.first, -hit.last)):
        key = (hit.group, hit.field)
        if reach.get(key, -1) >= hit.last:
            continue
        reach[key] = hit.last
        kept.append(hit)
    return kept


def _term_match(hit: Hit) -> TermMatch:
    return TermMatch(hit.group, hit.term.text, hit.matched, hit.field, hit.offset)
