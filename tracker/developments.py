"""Developments: flagged items grouped into the events an analyst follows.

Owns the pure decisions of grouping: an item's development keys, which open
development a flagged item joins (or whether it starts one), its role there
(``new``, ``update``, ``repeat``), which report the rules did not flag clearly
belongs to a flagged development (adaptive tracking: it joins, flagged, with a
reason that names what it shares), and the grouping of a whole topic's flags at once
(a migration or a rescore), keeping the ids the developments already had.

Keys survive rewriting and translation: every word of the title and summary is
transliterated (``translit``) and reduced to its first consonants, so Khalilzad,
Халилзада and خلیلزاد share ``klzd``, Corbett, Корбетта and کوربت share ``krbt``;
numbers are keys of their own, whatever their digits; an entity of the topic's
alias sets (``tracker.entities``) is a key of its own (``@corbett``), stronger than
a word's, whatever script names it. A key weighs by how few of the
topic's recent developments have it (the words every follow-up has — the topic's
actors, "talks" — weigh little), and an item joins the open development it shares
the most weight with, when that is enough and the development's last report is
recent. Placing an item compares it only with the developments sharing an uncommon
key or a story with it.

Must not: touch the database, the clock or the network.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracker.entities import ENTITY_MARK, is_entity_key
from tracker.translit import to_latin

# Tunables (the labeled stream in tests/data/developments tunes them; see README).
WINDOW = timedelta(days=4)  # an item joins a development whose last report is this recent
BACKGROUND = timedelta(days=30)  # developments this recent weigh the keys (how common)
JOIN_WEIGHT = 1.25  # the shared key weight an item needs to join a development
JOIN_SHARE = 0.1  # ... and the share of the item's own key weight that is
JOIN_KEYS = 2  # ... and the keys it shares (one name alone is another event about them)
PRIOR_DEVELOPMENTS = 4  # developments without any key assumed in the background
TERM_WEIGHT = 1.0  # keys the topic's own terms matched: every flagged item has some
KEY_SPREAD = 0.5  # how much a key only some of a development's reports have counts less
NUMBER_WEIGHT = 1.5  # numbers (a count of prisoners, a date) are strong evidence
ENTITY_WEIGHT = 2.0  # an alias set of the topic named: the same entity in any script
SKELETON_LEN = 4  # consonants kept of a word: inflected forms keep their stem
MIN_SKELETON = 3  # shorter skeletons ("the", "Doha") say too little
MIN_WORD = 4  # letters a word needs to give a key
COMMON_MIN = 20  # a key in more developments than this and ...
COMMON_SHARE = 0.1  # ... this share of the pool's developments finds no candidates
CLOSE_EVERY = 256  # items placed between two sweeps of developments out of the background
ADOPT_STRONG = 2  # an unflagged report joins: at least this many shared entities and numbers
ADOPT_ENTITIES = 1  # ... of them entities of the topic's alias sets
WORD_KEY_CACHE = 1 << 16  # words whose key is kept (a few MB at most)
ROLES = ("new", "update", "repeat")
NUMBER_MARK = "#"  # number keys start with it

_WORD = re.compile(r"\w+")
_DIGRAPHS = (("kh", "h"), ("zh", "j"), ("dj", "j"), ("ph", "f"), ("sh", "s"))  # Дж: dzh, dj, j
_DROPPED = str.maketrans("", "", "aeiouyw'")
_SOUNDS = str.maketrans({"q": "k", "c": "k", "x": "k"})
_RUN = re.compile(r"(.)\1+")
# What is left of an ASCII text once its letters are kept (transliterated text is ASCII).
_NOT_LETTERS = str.maketrans("", "", "".join(chr(c) for c in range(128) if not chr(c).isalpha()))

# Words too common to tell developments apart: function words of the languages
# tracker's topics cover, and the names every Afghanistan follow-up has (the sides
# themselves); whatever else is common weighs little by its frequency.
_STOPWORDS = """
about after against also among another because before being between could during
first from have into more news other over report reports said says since some than
that their them then there these they this those under were what when where which
while will with would today week year years just told official officials according
после также чтобы более этого может было были будет сообщил сообщает
заявил заявила время году года однако против через между только словам новости
این است برای که با از به در را تا های می شده کرد کرده گفت گفته اند خود آن
دې په له او چې د یې سره کړې کړی ویلي وايي هم دا شوې شوی
taliban afghanistan afghan united states america american americans washington
талибы талибов талибами Афганистан афганский американский американцы Вашингтон
طالبان افغانستان امریکا امریکایی امارت اسلامی اسلامي واشنگتن
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
    flagged: bool = True  # False: a report the rules did not flag (adaptive tracking)


@dataclass
class OpenDevelopment:
    """A development an item may still join: its keys and when it last had a report.
    The pool's working state: placing an item grows it in place."""

    id: int
    last_seen: datetime
    keys: Counter[str] = field(default_factory=Counter)  # key -> its reports with it
    stories: set[int] = field(default_factory=set)
    items: int = 0


@dataclass(frozen=True)
class Placement:
    """Where a flagged item goes: its development and its role there."""

    item_id: int
    development_id: int  # below zero: a new development, numbered by the store
    role: str
    shared: tuple[str, ...] = ()  # the keys it shares with the development, heaviest first
    adopted: bool = False  # not flagged by the rules: flagged for joining the development


@dataclass
class Pool:
    """The topic's open developments while items are placed, with the number of them
    that have each key (the background of the weights: a key every development has
    says nothing, one all reports of a single development share says much) and an
    index from keys and stories to developments, so an item is compared with few."""

    developments: dict[int, OpenDevelopment] = field(default_factory=dict)
    frequency: Counter[str] = field(default_factory=Counter)
    by_key: dict[str, set[int]] = field(default_factory=dict)
    by_story: dict[int, int] = field(default_factory=dict)

    def add(self, development: OpenDevelopment) -> None:
        self.developments[development.id] = development
        self._index(development, development.keys, development.stories)

    def grow(self, development: OpenDevelopment, item: DevelopmentItem) -> None:
        """``item`` joins ``development``: its keys and story are indexed, its time kept."""
        self._index(development, [k for k in item.keys if k not in development.keys], ())
        development.keys.update(item.keys)
        development.stories.add(item.story_id)
        self.by_story[item.story_id] = development.id
        development.last_seen = max(development.last_seen, item.published)
        development.items += 1

    def _index(
        self, development: OpenDevelopment, keys: Iterable[str], stories: Iterable[int]
    ) -> None:
        for key in keys:
            self.frequency[key] += 1
            self.by_key.setdefault(key, set()).add(development.id)
        for story in stories:
            self.by_story[story] = development.id

    def close(self, development_id: int) -> None:
        """A development out of the window leaves the pool and the background."""
        development = self.developments.pop(development_id)
        self.frequency.subtract(development.keys.keys())
        for key in development.keys:
            self.by_key.get(key, set()).discard(development_id)

    def candidates(self, item: DevelopmentItem) -> set[int]:
        """The developments sharing a story or a not-too-common key with ``item``."""
        cap = max(COMMON_MIN, len(self.developments) * COMMON_SHARE)
        found = {self.by_story[item.story_id]} if item.story_id in self.by_story else set()
        frequency, by_key = self.frequency, self.by_key
        for key in item.keys & by_key.keys():  # a key no development has finds none
            if frequency[key] <= cap:
                found |= by_key[key]
        return {dev for dev in found if dev in self.developments}


# ---- keys ------------------------------------------------------------------------------


def skeleton(word: str) -> str:
    """A word's first consonants in Latin letters, the same across scripts and cases."""
    latin = to_latin(word).lower()
    if "h" in latin or "j" in latin:  # every digraph ends in one of them
        for digraph, sound in _DIGRAPHS:
            latin = latin.replace(digraph, sound)
    consonants = _RUN.sub(r"\1", latin.translate(_SOUNDS).translate(_DROPPED))
    return consonants.translate(_NOT_LETTERS)[:SKELETON_LEN]


def _number(word: str) -> str | None:
    if not word.isdigit():
        return None
    digits = "".join(str(unicodedata.digit(ch, 0)) for ch in word).lstrip("0")
    return f"{NUMBER_MARK}{digits}" if digits else None


def word_keys(text: str) -> frozenset[str]:
    """The development keys of a text: skeletons of its words, and its numbers."""
    keys = set(map(_word_key, _WORD.findall(text)))
    keys.discard("")
    return frozenset(keys)


@functools.lru_cache(maxsize=WORD_KEY_CACHE)
def _word_key(word: str) -> str:
    """A word's key, or "" for a word that gives none. Cached: flags repeat their
    words, and transliterating them is most of the cost of placing a flag."""
    number = _number(word)
    if number:
        return number
    if len(word) < MIN_WORD:
        return ""
    key = skeleton(word)
    return key if len(key) >= MIN_SKELETON and key not in _STOP_KEYS else ""


_STOP_KEYS = frozenset(
    key for word in _STOPWORDS.split() if len(key := skeleton(word)) >= MIN_SKELETON
)


def item_keys(
    title: str,
    summary: str,
    matched: Iterable[str],
    entities: tuple[frozenset[str], str] = (frozenset(), ""),
) -> tuple[frozenset[str], frozenset[str]]:
    """An item's keys and, among them, those of the topic terms it matched;
    ``entities``: the keys of the topic's alias sets it names, and the words that
    named them (an entity's key stands for their own keys)."""
    named, naming = entities
    said = word_keys(naming)
    terms = word_keys(" ".join(matched)) - said
    return (word_keys(f"{title}\n{summary}") | terms) - said | named, terms


# ---- placing ---------------------------------------------------------------------------


def _weights(item: DevelopmentItem, pool: Pool) -> dict[str, float]:
    """How much sharing each of the item's keys says, from 0 (every development has
    it) to 1 (none has)."""
    size = len(pool.developments) + PRIOR_DEVELOPMENTS
    scale = math.log(size)
    frequency = pool.frequency
    weights = {}
    for key in item.keys:
        rarity = math.log(size / (frequency.get(key, 0) + 1)) / scale
        if key[:1] == NUMBER_MARK:
            weights[key] = rarity * NUMBER_WEIGHT
        elif key[:1] == ENTITY_MARK:
            weights[key] = rarity * ENTITY_WEIGHT
        else:
            weights[key] = rarity * (TERM_WEIGHT if key in item.term_keys else 1.0)
    return weights


def _shared(item: DevelopmentItem, development: OpenDevelopment) -> AbstractSet[str]:
    return item.keys & development.keys.keys()


def _heaviest_first(shared: Iterable[str], weights: Mapping[str, float]) -> list[str]:
    """Keys by weight, heaviest first, then by name (a stable sort of sorted keys)."""
    return sorted(sorted(shared), key=weights.__getitem__, reverse=True)


def _affinity(
    item: DevelopmentItem,
    development: OpenDevelopment,
    weights: Mapping[str, float],
    total: float,
) -> float:
    """How much ``item`` shares with ``development`` (0: not enough to join), its keys
    weighing ``weights`` (``total``: their sum, or 1 when it is 0). A key counts by the
    share of the development's reports that have it: a development that grew by many
    reports does not draw in whatever shares one of its words."""
    if item.story_id in development.stories:
        return math.inf  # a copy of a story already in it
    reports = max(development.items, 1)
    counts = development.keys
    shared = _heaviest_first(_shared(item, development), weights)  # the order of the sum
    shared_weight = sum(
        weights[key] * min(1.0, counts[key] / reports) ** KEY_SPREAD for key in shared
    )
    enough = (
        shared_weight >= JOIN_WEIGHT
        and shared_weight / total >= JOIN_SHARE
        and sum(1 for key in shared if weights[key] > 0) >= JOIN_KEYS
    )
    return shared_weight if enough else 0.0


def _is_open(development: OpenDevelopment, published: datetime) -> bool:
    return published - development.last_seen <= WINDOW


def best_development(item: DevelopmentItem, pool: Pool) -> tuple[int | None, list[str]]:
    """The open development ``item`` belongs to, with the keys it shares, heaviest
    first; None: none."""
    best: tuple[float, OpenDevelopment | None] = (0.0, None)
    weights: dict[str, float] = {}  # the pool does not change while we look
    total = 1.0
    for development_id in pool.candidates(item):
        development = pool.developments[development_id]
        if not _is_open(development, item.published):
            continue
        if not weights:
            weights = _weights(item, pool)
            total = sum(weights.values()) or 1.0
        score = _affinity(item, development, weights, total)
        if score > best[0]:
            best = (score, development)
    chosen = best[1]
    if chosen is None:
        return None, []
    return chosen.id, _heaviest_first(_shared(item, chosen), weights)


def role_in(item: DevelopmentItem, development: OpenDevelopment) -> str:
    """``update`` for a report that brings something new: a number, or an actor or
    concept of the topic (a reaction from the other side names its spokesman) the
    development had not named; ``repeat`` for a copy, a rewrite or a translation."""
    if item.story_id in development.stories:
        return "repeat"
    new = (key for key in item.keys if key not in development.keys)
    brings = any(_is_strong(key) or key in item.term_keys for key in new)
    return "update" if brings else "repeat"


def open_pool(developments: Sequence[OpenDevelopment]) -> Pool:
    """The pool items are placed in: these developments and their keys' frequencies."""
    pool = Pool()
    for development in developments:
        pool.add(development)
    return pool


def _sweep(pool: Pool, now: datetime) -> None:
    for development in list(pool.developments.values()):
        if now - development.last_seen > BACKGROUND:
            pool.close(development.id)


def _join(pool: Pool, item: DevelopmentItem) -> Placement:
    chosen, shared = best_development(item, pool)
    if chosen is None:
        chosen = min([0, *pool.developments]) - 1
        pool.add(OpenDevelopment(chosen, item.published))
        placement = Placement(item.item_id, chosen, "new")
    else:
        role = role_in(item, pool.developments[chosen])
        placement = Placement(item.item_id, chosen, role, tuple(shared[:5]))
    pool.grow(pool.developments[chosen], item)
    return placement


def _is_strong(key: str) -> bool:
    return key.startswith(NUMBER_MARK) or is_entity_key(key)


def clearly_belongs(item: DevelopmentItem, shared: Sequence[str], pool: Pool, chosen: int) -> bool:
    """Whether a report the rules did not flag (and that names an entity of the topic)
    clearly belongs to the development it would join: a copy of one of its stories,
    or sharing with it entities and numbers
    (a name alone is another event about the same person: an attack in the same
    city, other talks with the same minister)."""
    if item.story_id in pool.developments[chosen].stories:
        return True
    strong = [key for key in shared if _is_strong(key)]
    entities = sum(1 for key in strong if is_entity_key(key))
    return len(strong) >= ADOPT_STRONG and entities >= ADOPT_ENTITIES


def _adopt(pool: Pool, item: DevelopmentItem) -> Placement | None:
    """An unflagged report joins the development it clearly belongs to, or nothing.
    The development does not grow by it: what the rules flagged stays its evidence,
    so one adopted report never draws in the next."""
    chosen, shared = best_development(item, pool)
    if chosen is None or not clearly_belongs(item, shared, pool, chosen):
        return None
    role = role_in(item, pool.developments[chosen])
    return Placement(item.item_id, chosen, role, tuple(shared[:5]), adopted=True)


def place(items: Sequence[DevelopmentItem], pool: Pool) -> list[Placement]:
    """Place ``items`` (oldest first) one after the other. A new development gets a
    provisional id below zero (-1, -2, ...) until the store numbers it; ``pool`` grows
    as flagged items are placed, and developments older than the background leave it.
    An unflagged item (``flagged=False``) gets a placement only when it joins."""
    placements = []
    for count, item in enumerate(items):
        if count % CLOSE_EVERY == 0:
            _sweep(pool, item.published)
        placement = _join(pool, item) if item.flagged else _adopt(pool, item)
        if placement is not None:
            placements.append(placement)
    return placements


def joins_reason(
    development_id: int, shared: Sequence[str], text: str, titles: Mapping[str, str]
) -> str:
    """The reason of an adopted report: "joins development 12: Corbett, prisoner
    exchange, 2022", naming entities by their titles and words as the report has them."""
    words: dict[str, str] = {}
    for word in _WORD.findall(text):  # a word's key, cached, is its number or skeleton
        words.setdefault(_word_key(word) or skeleton(word), word)
    marks = NUMBER_MARK + ENTITY_MARK
    named = [titles.get(key) or words.get(key) or key.lstrip(marks) for key in shared]
    return f"joins development {development_id}: {', '.join(dict.fromkeys(named))}"


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
