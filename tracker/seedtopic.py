"""A ready-to-edit topic file built from a seed article (``seed suggest --toml``).

Owns ``alias_groups``: the seed's names, acronyms and inflected words
(:mod:`tracker.seedsuggest` reads them) gathered into groups, one thing per group
under all its spellings:

* an acronym with the name it abbreviates (``ISKP``, "Islamic State Khorasan
  Province"; acronyms go under ``exact_case``, so "US" is not "us");
* a surname with the full name ("Khalilzad", "Zalmay Khalilzad"), and spellings a
  letter or two apart ("Taliban", "Taleban");
* the forms of a Russian word as one stem with ``*`` (талибы, талибов: ``талиб*``),
  which joins the Latin name it transliterates to (Талибан, Taliban); Persian and
  Pashto words become a stem with ``*`` when the seed shows them with a suffix
  (آمریکا, آمریکایی: ``آمریکا*``) and stay whole otherwise (طالبان is not طالب).

Owns ``topic_toml``: those groups as a topic file that ``tracker topics check``
accepts as it is, with a first ``[rule]`` to tighten, and a proposal of entity alias
sets: one per thing the seed names with a capital letter or an acronym, its
spellings in the seed and the terms of the configured topics that are the same name
in another script (their consonant skeletons agree, as developments compare names:
Халилзад*, خلیلزاد for Khalilzad). Heuristic and deterministic: a proposal to edit.

Must not: read files, print, or decide what a topic flags (``topics`` and
``matching`` do); no transliteration of Persian or Pashto to Latin is attempted.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tracker.developments import MIN_SKELETON, skeleton
from tracker.seedsuggest import CONNECTORS, Suggestion
from tracker.seedterms import STOPWORDS
from tracker.textnorm import fold, split_words
from tracker.topics import MAX_TERM_LENGTH, parse_term

MAX_GROUPS = 15  # groups written, most mentioned first
MIN_STEM_COUNT = 2  # mentions of a Russian, Persian or Pashto word to suggest it
SPELLING_RATIO = 0.85  # difflib ratio of two spellings of one name ("Taliban", "Taleban")
TRANSLIT_RATIO = 0.8  # of a transliterated Russian word and a Latin name
RUSSIAN_MIN_STEM = 4  # letters kept before the '*'
PERSIAN_MIN_STEM = 3
RUSSIAN_ENDINGS = sorted(
    "иями ями ами иях ях ах ого его ому ему ыми ими ой ей ий ый ая яя ое ее ые ие ых их "
    "ым им ую юю ом ем ов ев ам ям а я ы и у ю е о ь й".split(),
    key=len,
    reverse=True,
)
PERSIAN_SUFFIXES = frozenset(
    {"هایی", "های", "ها", "ی", "یی", "ای", "ایی", "ان", "ات", "یان", "ونه", "و"}
)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_TRANSLIT = str.maketrans(
    {
        **dict(zip("абвгдезийклмнопрстуфыэ", "abvgdeziiklmnoprstufye", strict=True)),
        **{"ё": "e", "ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch"},
        **{"ъ": "", "ь": "", "ю": "yu", "я": "ya"},
    }
)
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Alias:
    """One term of a group, as it goes in the topic file."""

    text: str  # "Taliban", "талиб*", "ISKP"
    count: int  # mentions in the seed
    exact_case: bool = False  # an acronym: listed under exact_case
    covered_by: tuple[str, ...] = ()  # "topic/group" already matching it


@dataclass
class AliasGroup:
    """The spellings of one thing the seed names."""

    aliases: list[Alias] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(alias.count for alias in self.aliases)

    @property
    def title(self) -> str:
        return max(self.aliases, key=lambda a: (not _is_foreign(a.text), a.count)).text


def alias_groups(seed_text: str, suggestions: Sequence[Suggestion]) -> list[AliasGroup]:
    """The seed's names, acronyms and inflected words as groups of aliases."""
    aliases = [
        Alias(s.text, s.count, s.kind == "acronym", s.covered_by)
        for s in suggestions
        if s.kind in ("name", "acronym") and not _CYRILLIC.search(s.text)
    ]
    aliases += stem_aliases(seed_text)
    groups = _grouped(aliases)
    return sorted(groups, key=lambda g: (-g.count, g.title.casefold()))[:MAX_GROUPS]


def stem_aliases(seed_text: str) -> list[Alias]:
    """Russian words as stems with '*'; Persian and Pashto ones as stems when the seed
    shows them with a suffix, whole otherwise."""
    words = Counter(
        word
        for word in split_words(fold(seed_text)).words
        if (_CYRILLIC.search(word) or _ARABIC.search(word)) and word not in STOPWORDS
    )
    forms: dict[str, Counter[str]] = {}
    for word, count in sorted(words.items(), key=lambda item: (len(item[0]), item[0])):
        forms.setdefault(_stem(word, forms), Counter())[word] += count
    aliases = []
    for stem, seen in forms.items():
        total = sum(seen.values())
        if total < MIN_STEM_COUNT:
            continue
        if _CYRILLIC.search(stem) or len(seen) > 1:
            aliases.append(Alias(stem + "*", total))
        else:
            aliases.append(Alias(next(iter(seen)), total))
    return _merge_prefixes(aliases)


def topic_toml(
    groups: Sequence[AliasGroup],
    *,
    name: str,
    title: str,
    seed: str,
    source: str,
    known: Sequence[str] = (),
) -> str:
    """A topic file with these groups, alias sets for the names among them (with the
    translations ``known``, the configured topics' terms, carry) and a first rule;
    valid as it is."""
    written = _valid_groups(groups)
    lines = [
        f"# Built by `tracker seed suggest --toml` from {source}.",
        "# One group per thing the seed names, with its spellings and languages. Terms are",
        "# literal; a '*' ends a word stem (Russian, Persian and Pashto words inflect);",
        "# exact_case terms match only in that letter case. Keep the groups that matter,",
        "# merge or split them, tighten [rule] (see the top of config/topics/us-taliban.toml)",
        "# and try it with `tracker topics check --preview`.",
        f"name = {_quoted(name)}",
        f"title = {_quoted(title)}",
    ]
    if seed:  # the loader needs the seed in the seeds directory: the user puts it there
        lines.append(f"# seed = {_quoted(seed)}  # copy the article into seeds/, then uncomment")
    for slug, group in written:
        lines += ["", *_group_lines(slug, group)]
    lines += _entity_lines(written, known)
    chosen = [slug for slug, _ in written[:2]]
    lines += [
        "",
        "[rule]",
        "# The two groups the seed mentions most must both match; add the others to",
        "# all_of or any_of, and none_of for what must not be flagged.",
        f"all_of = [{', '.join(_quoted(slug) for slug in chosen)}]",
    ]
    return "\n".join(lines) + "\n"


def topic_name(text: str) -> str:
    """A valid topic name (lower-case letters, digits, '-') made of ``text``."""
    slug = _SLUG.sub("-", fold(text).translate(_TRANSLIT)).strip("-")
    return slug[:40].strip("-") or "seed-topic"


# ---- grouping --------------------------------------------------------------------------


def _grouped(aliases: Sequence[Alias]) -> list[AliasGroup]:
    parent = list(range(len(aliases)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for i, j in _pairs(aliases):
        parent[root(i)] = root(j)
    groups: dict[int, AliasGroup] = {}
    for index, alias in enumerate(aliases):
        groups.setdefault(root(index), AliasGroup()).aliases.append(alias)
    for group in groups.values():
        group.aliases.sort(key=lambda a: (-a.count, a.text))
    return list(groups.values())


def _pairs(aliases: Sequence[Alias]) -> Iterable[tuple[int, int]]:
    for i, first in enumerate(aliases):
        for j in range(i + 1, len(aliases)):
            if _same_thing(first, aliases[j]) or _same_thing(aliases[j], first):
                yield i, j


def _same_thing(one: Alias, other: Alias) -> bool:
    """``one`` abbreviates, shortens, respells or transliterates ``other``."""
    if one.exact_case:
        return not other.exact_case and _initials(other.text) == one.text.upper()
    if other.exact_case or _ARABIC.search(one.text) or _ARABIC.search(other.text):
        return False
    if one.text.endswith("*"):
        return _transliterates(one.text[:-1], other.text)
    words = other.text.split()
    if len(words) > 1:  # a surname and the full name; not a place ending an institution's
        plain = not CONNECTORS.intersection(words)
        return plain and " " not in one.text and len(one.text) >= 4 and words[-1] == one.text
    return _respelled(one.text, other.text)


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w not in CONNECTORS and w[:1].isupper())


def _respelled(one: str, other: str) -> bool:
    if " " in one or len(one) < 6 or len(other) < 6 or one[0].lower() != other[0].lower():
        return False
    return difflib.SequenceMatcher(None, one.lower(), other.lower()).ratio() >= SPELLING_RATIO


def _transliterates(stem: str, latin: str) -> bool:
    if not _CYRILLIC.search(stem) or _CYRILLIC.search(latin) or " " in latin + stem:
        return False
    spelled, target = stem.translate(_TRANSLIT), fold(latin)
    if len(spelled) >= 5 and target.startswith(spelled):
        return True
    near = target[: len(spelled) + 2]
    return difflib.SequenceMatcher(None, spelled, near).ratio() >= TRANSLIT_RATIO


# ---- stems -------------------------------------------------------------------------------


def _stem(word: str, known: Iterable[str]) -> str:
    """A Russian word without its ending; a Persian or Pashto one as the shorter word
    already seen that it extends by a suffix (آمریکایی: آمریکا), else whole."""
    if _CYRILLIC.search(word):
        for ending in RUSSIAN_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= RUSSIAN_MIN_STEM:
                return word[: -len(ending)]
        return word
    for stem in known:
        rest = word[len(stem) :]
        if len(stem) >= PERSIAN_MIN_STEM and word.startswith(stem) and rest in PERSIAN_SUFFIXES:
            return stem
    return word


def _merge_prefixes(aliases: list[Alias]) -> list[Alias]:
    """A Russian stem that begins another one takes it in (талиб* covers талибан*)."""
    kept: list[Alias] = []
    for alias in sorted(aliases, key=lambda a: len(a.text)):
        shorter = next(
            (
                k
                for k in kept
                if k.text.endswith("*")
                and len(k.text) > RUSSIAN_MIN_STEM + 1
                and alias.text.startswith(k.text[:-1])
            ),
            None,
        )
        if shorter is None:
            kept.append(alias)
            continue
        kept[kept.index(shorter)] = Alias(shorter.text, shorter.count + alias.count)
    return kept


# ---- writing -----------------------------------------------------------------------------


def _valid_groups(groups: Sequence[AliasGroup]) -> list[tuple[str, AliasGroup]]:
    """Each group with only terms the topic loader accepts, once each, and a unique name."""
    written: list[tuple[str, AliasGroup]] = []
    used: set[str] = set()
    for group in groups:
        kept = AliasGroup(_valid_aliases(group.aliases))
        if not kept.aliases:
            continue
        slug = _group_slug(kept.title, len(written) + 1)
        while slug in used:
            slug += "_2"
        used.add(slug)
        written.append((slug, kept))
    return written


def _valid_aliases(aliases: Sequence[Alias]) -> list[Alias]:
    kept, seen = [], set()
    for alias in aliases:
        if len(alias.text) > MAX_TERM_LENGTH:
            continue
        try:
            parse_term(alias.text)
        except ValueError:
            continue
        signature = _signature(alias)
        if signature not in seen:
            seen.add(signature)
            kept.append(alias)
    return kept


def _group_slug(title: str, number: int) -> str:
    slug = _SLUG.sub("_", fold(title).translate(_TRANSLIT)).strip("_")[:30].strip("_")
    return slug if slug[:1].isalpha() else f"group_{number}"


def _group_lines(slug: str, group: AliasGroup, table: str = "groups") -> list[str]:
    covered = sorted({c for alias in group.aliases for c in alias.covered_by})
    note = f"; already in {', '.join(covered)}" if covered else ""
    lines = [
        f"[{table}.{slug}]",
        f"title = {_quoted(group.title)}  # {_mentions(group.count)}{note}",
    ]
    terms = [a.text for a in group.aliases if not a.exact_case]
    acronyms = [a.text for a in group.aliases if a.exact_case]
    if terms:
        lines.append(f"terms = [{', '.join(map(_quoted, terms))}]")
    if acronyms:
        lines.append(f"exact_case = [{', '.join(map(_quoted, acronyms))}]")
    return lines


def _entity_lines(written: Sequence[tuple[str, AliasGroup]], known: Sequence[str]) -> list[str]:
    lines: list[str] = []
    taken: set[tuple[object, ...]] = set()
    for slug, group in written:
        names = [alias.text for alias in group.aliases if alias.text[:1].isupper()]
        keys = {key for name in names if len(key := _name_key(name)) >= MIN_SKELETON}
        translated = [t for t in known if _is_foreign(t) and _is_name_of(t, keys)]
        aliases = _valid_aliases([*group.aliases, *(Alias(t, 0) for t in translated)])
        aliases = [alias for alias in aliases if _signature(alias) not in taken]
        if not names or not aliases:
            continue
        taken |= {_signature(alias) for alias in aliases}
        lines += ["", *_group_lines(slug, AliasGroup(aliases), table="entities")]
    if lines:
        lines[:0] = [
            "",
            "# Entity alias sets (a proposal: keep the people, places and groups the",
            "# developments are about, check each alias, add the names in the languages",
            "# your feeds use). A report naming any alias names the entity.",
        ]
    return lines


def _is_name_of(term: str, keys: set[str]) -> bool:
    """A one-word term whose skeleton is one of ``keys`` (a phrase such as "officials
    in Kabul" is about the name, not a name of it)."""
    return len(term.split()) == 1 and _name_key(term) in keys


def _name_key(text: str) -> str:
    """The skeleton of a name's last word ("Zalmay Khalilzad", "Халилзад*": hlzd)."""
    words = text.rstrip("*").split()
    return skeleton(words[-1]) if words else ""


def _signature(alias: Alias) -> tuple[object, ...]:
    term = parse_term(alias.text)
    return (term.words, term.prefix, alias.exact_case and alias.text)


def _mentions(count: int) -> str:
    return f"{count} mention{'' if count == 1 else 's'}"


def _quoted(text: str) -> str:
    # A JSON string is a valid TOML basic string (the same escapes).
    return json.dumps(text, ensure_ascii=False)


def _is_foreign(text: str) -> bool:
    return bool(_CYRILLIC.search(text) or _ARABIC.search(text))
