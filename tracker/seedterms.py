"""The seed article's distinctive words, and how close an item's words are to them.

Owns ``seed_profile``: the seed's most frequent words that are not stop words
(``STOPWORDS``, in the languages the shipped topics cover), compared by ``stem``
(their first letters, a crude stemmer) and weighted 1 + log(count); the seed is the
only document, so there is no corpus-wide IDF. Owns ``seed_similarity``: the cosine
between those weights and an item's distinct words, and the shared words, spelled as
the seed spells them, for the reasons. Everything is deterministic.

Must not: look at topics or their terms (:mod:`tracker.matching` does), do I/O, or
read the clock.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tracker.matchtuning import TUNING
from tracker.textnorm import fold, fold_keeping_case, split_words

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
class SeedProfile:
    """The seed article's distinctive words: stem -> weight, and how the seed spells them."""

    weights: Mapping[str, float]
    labels: Mapping[str, str]
    norm: float


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
