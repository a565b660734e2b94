"""Developments: flagged items grouped into the events an analyst follows.

Owns the pure decisions of grouping: an item's development keys, which open
development a flagged item joins (or whether it starts one), its role there
(``new``, ``update``, ``repeat``), and the grouping of a whole topic's flags at once
(a migration or a rescore), keeping the ids the developments already had.

Keys survive rewriting and translation: every word of the title and summary is
transliterated (``translit``) and reduced to its first consonants, so Khalilzad,
Халилзада and خلیلزاد share ``klzd``, Corbett, Корбетта and کوربت share ``krbt``;
numbers are keys of their own, whatever their digits. A key weighs by how rare it is
among the topic's recent flagged items (the words every follow-up has — the topic's
actors, "talks" — weigh little), and an item joins the open development it shares
the most weight with, when that is enough and the development's last report is
recent. Placing an item reads only the topic's developments open in the window.

Must not: touch the database, the clock or the network.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tracker.translit import to_latin

# Tunables (the labeled stream in tests/data/developments tunes them; see README).
WINDOW = timedelta(days=4)  # an item joins a development whose last report is this recent
JOIN_WEIGHT = 4.0  # the shared key weight an item needs to join a development
JOIN_SHARE = 0.2  # ... and the share of the item's own key weight that is
PRIOR_ITEMS = 4  # items without any key assumed in the background of the weights
TERM_WEIGHT = 0.5  # keys the topic's own terms matched: every flagged item has some
NUMBER_WEIGHT = 1.5  # numbers (a count of prisoners, a date) are strong evidence
SKELETON_LEN = 4  # consonants kept of a word: inflected forms keep their stem
MIN_SKELETON = 3  # shorter skeletons ("the", "Doha") say too little
MIN_WORD = 4  # letters a word needs to give a key
UPDATE_NEW_KEYS = 2  # new distinctive keys that make a later report an update
COMMON_MIN = 20  # a key in more items than this and ...
COMMON_SHARE = 0.1  # ... this share of the pool's items finds no candidates
CLOSE_EVERY = 256  # items placed between two sweeps of the developments out of the window
ROLES = ("new", "update", "repeat")

_WORD = re.compile(r"\w+")
_DIGRAPHS = (("kh", "k"), ("zh", "j"), ("dzh", "j"), ("dj", "j"), ("ph", "f"), ("sh", "s"))
_DROPPED = str.maketrans("", "", "aeiouyhw'")
_SOUNDS = str.maketrans({"q": "k", "c": "k", "x": "k", "g": "g", "v": "v"})
_RUN = re.compile(r"(.)\1+")

# Words too common to tell developments apart, in the stream's languages.
_STOPWORDS = """
about after against also among another because before being between could during
first from have into more news other over report reports said says since some than
that their them then there these they this those under were what when where which
while will with would today week year years just told official officials according
после также который которые чтобы более этого может было были будет сообщил сообщает
заявил заявила время году года однако против через между только словам новости
این است برای که با از به در را تا های می شده کرد کرده گفت گفته اند خود آن
دې په له او چې د یې سره کړې کړی ویلي وايي هم دا شوې شوی
"""


@dataclass(frozen=True)
class DevelopmentItem:
    """A flagged item as grouping sees it (one topic)."""

    item_id: int
    story_id: int
    published: datetime
    outlet: str
    language: str
    keys: frozenset[str]
    term_keys: frozenset[str] = frozenset()  # keys of the topic's matched terms


@dataclass(frozen=True)
class OpenDevelopment:
    """A development an item may still join: its keys and when it last had a report."""

    id: int
    last_seen: datetime
    keys: Mapping[str, int]  # key -> items of the development that have it
    stories: frozenset[int] = frozenset()
    items: int = 1


@dataclass(frozen=True)
class Placement:
    """Where a flagged item goes: its development and its role there."""

    item_id: int
    development_id: int  # below zero: a new development, numbered by the store
    role: str
    shared: tuple[str, ...] = ()  # the keys it shares with the development, heaviest first


@dataclass
class Pool:
    """The topic's open developments while items are placed, with the frequency of
    each key among their items (the background of the weights) and an index from
    keys and stories to developments, so an item is compared with few of them."""

    developments: dict[int, OpenDevelopment] = field(default_factory=dict)
    frequency: Counter[str] = field(default_factory=Counter)
    items: int = 0
    by_key: dict[str, set[int]] = field(default_factory=dict)
    by_story: dict[int, int] = field(default_factory=dict)

    def add(self, development: OpenDevelopment) -> None:
        self.developments[development.id] = development
        for key in development.keys:
            self.by_key.setdefault(key, set()).add(development.id)
        for story in development.stories:
            self.by_story[story] = development.id

    def close(self, development_id: int) -> None:
        """A development out of the window leaves the pool and the background."""
        development = self.developments.pop(development_id)
        self.frequency.subtract(development.keys)
        self.items -= development.items
        for key in development.keys:
            self.by_key.get(key, set()).discard(development_id)

    def candidates(self, item: DevelopmentItem) -> set[int]:
        """The developments sharing a story or a not-too-common key with ``item``."""
        cap = max(COMMON_MIN, self.items * COMMON_SHARE)
        found = {self.by_story[item.story_id]} if item.story_id in self.by_story else set()
        for key in item.keys:
            if self.frequency[key] <= cap:
                found |= self.by_key.get(key, set())
        return {dev for dev in found if dev in self.developments}


# ---- keys ------------------------------------------------------------------------------


def skeleton(word: str) -> str:
    """A word's first consonants in Latin letters, the same across scripts and cases."""
    latin = to_latin(word).lower()
    for digraph, sound in _DIGRAPHS:
        latin = latin.replace(digraph, sound)
    consonants = _RUN.sub(r"\1", latin.translate(_SOUNDS).translate(_DROPPED))
    return "".join(ch for ch in consonants if ch.isalpha())[:SKELETON_LEN]


def _number(word: str) -> str | None:
    if not word.isdigit():
        return None
    digits = "".join(str(unicodedata.digit(ch, 0)) for ch in word).lstrip("0")
    return f"#{digits}" if digits else None


def word_keys(text: str) -> frozenset[str]:
    """The development keys of a text: skeletons of its words, and its numbers."""
    keys: set[str] = set()
    for word in _WORD.findall(text):
        number = _number(word)
        if number:
            keys.add(number)
        elif len(word) >= MIN_WORD:
            key = skeleton(word)
            if len(key) >= MIN_SKELETON and key not in _STOP_KEYS:
                keys.add(key)
    return frozenset(keys)


_STOP_KEYS = frozenset(
    key for word in _STOPWORDS.split() if len(key := skeleton(word)) >= MIN_SKELETON
)


def item_keys(title: str, summary: str, matched: Iterable[str]) -> tuple[frozenset[str], ...]:
    """An item's keys and, among them, those of the topic terms it matched."""
    terms = word_keys(" ".join(matched))
    return word_keys(f"{title}\n{summary}") | terms, terms


# ---- placing ---------------------------------------------------------------------------


def _weight(key: str, item: DevelopmentItem, pool: Pool) -> float:
    rarity = math.log((pool.items + PRIOR_ITEMS) / (pool.frequency[key] + 1))
    if key.startswith("#"):
        return rarity * NUMBER_WEIGHT
    return rarity * (TERM_WEIGHT if key in item.term_keys else 1.0)


def _affinity(
    item: DevelopmentItem, development: OpenDevelopment, pool: Pool
) -> tuple[float, list[str]]:
    weights = {key: _weight(key, item, pool) for key in item.keys}
    shared = sorted((k for k in item.keys if k in development.keys), key=lambda k: -weights[k])
    shared_weight = sum(weights[key] for key in shared)
    total = sum(weights.values()) or 1.0
    enough = shared_weight >= JOIN_WEIGHT and shared_weight / total >= JOIN_SHARE
    if item.story_id in development.stories:
        return math.inf, shared  # a copy of a story already in it
    return (shared_weight if enough else 0.0), shared


def _is_open(development: OpenDevelopment, published: datetime) -> bool:
    return published - development.last_seen <= WINDOW


def best_development(item: DevelopmentItem, pool: Pool) -> tuple[int | None, list[str]]:
    """The open development ``item`` belongs to, with the keys it shares; None: none."""
    best: tuple[float, int | None, list[str]] = (0.0, None, [])
    for development_id in pool.candidates(item):
        development = pool.developments[development_id]
        if not _is_open(development, item.published):
            continue
        score, shared = _affinity(item, development, pool)
        if score > best[0]:
            best = (score, development.id, shared)
    return best[1], best[2]


def role_in(item: DevelopmentItem, development: OpenDevelopment, pool: Pool) -> str:
    """``repeat`` for a copy or a report adding nothing distinctive, else ``update``."""
    if item.story_id in development.stories:
        return "repeat"
    new = [
        key
        for key in item.keys - development.keys.keys()
        if key.startswith("#") or (key not in item.term_keys and pool.frequency[key] == 0)
    ]
    return (
        "update"
        if len(new) >= UPDATE_NEW_KEYS or any(k.startswith("#") for k in new)
        else ("repeat")
    )


def _absorb(development: OpenDevelopment, item: DevelopmentItem) -> OpenDevelopment:
    keys = Counter(development.keys)
    keys.update(item.keys)
    return replace(
        development,
        last_seen=max(development.last_seen, item.published),
        keys=dict(keys),
        stories=development.stories | {item.story_id},
        items=development.items + 1,
    )


def open_pool(developments: Sequence[OpenDevelopment]) -> Pool:
    """The pool items are placed in: these developments and their keys' frequencies."""
    pool = Pool()
    for development in developments:
        pool.add(development)
        pool.frequency.update(development.keys)
        pool.items += development.items
    return pool


def _sweep(pool: Pool, now: datetime) -> None:
    for development in list(pool.developments.values()):
        if not _is_open(development, now):
            pool.close(development.id)


def _join(pool: Pool, item: DevelopmentItem) -> Placement:
    chosen, shared = best_development(item, pool)
    if chosen is None:
        chosen = min([0, *pool.developments]) - 1
        pool.add(OpenDevelopment(chosen, item.published, {}, items=0))
        placement = Placement(item.item_id, chosen, "new")
    else:
        role = role_in(item, pool.developments[chosen], pool)
        placement = Placement(item.item_id, chosen, role, tuple(shared[:5]))
    grown = _absorb(pool.developments[chosen], item)
    pool.add(grown)
    pool.frequency.update(item.keys)
    pool.items += 1
    return placement


def place(items: Sequence[DevelopmentItem], pool: Pool) -> list[Placement]:
    """Place ``items`` (oldest first) one after the other. A new development gets a
    provisional id below zero (-1, -2, ...) until the store numbers it; ``pool`` grows
    as items are placed, and developments out of the window leave it."""
    placements = []
    for count, item in enumerate(items):
        if count and count % CLOSE_EVERY == 0:
            _sweep(pool, item.published)
        placements.append(_join(pool, item))
    return placements


def group_all(items: Sequence[DevelopmentItem]) -> list[list[Placement]]:
    """Every item of a topic grouped from scratch, oldest first: the placements of each
    development, in the order the developments started."""
    ordered = sorted(items, key=lambda item: (item.published, item.item_id))
    groups: dict[int, list[Placement]] = {}
    for placement in place(ordered, Pool()):
        groups.setdefault(placement.development_id, []).append(placement)
    return list(groups.values())


def keep_ids(groups: Sequence[Sequence[int]], old: Mapping[int, int]) -> list[int | None]:
    """For each group, the id the most of its items had before (``old``: item -> id),
    each old id given once; None: the group is a new development."""
    taken: set[int] = set()
    kept: list[int | None] = []
    for group in groups:
        votes = Counter(old[item] for item in group if item in old)
        choice = next((dev for dev, _ in votes.most_common() if dev not in taken), None)
        if choice is not None:
            taken.add(choice)
        kept.append(choice)
    return kept
