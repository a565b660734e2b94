"""Entity alias sets: which of a topic's entities a text names, in any language.

Owns turning a topic's ``[entities.<name>]`` alias sets into an index, and the
entity keys of a text: ``@khalilzad`` for a text naming any alias of the set
``khalilzad`` (Khalilzad, Халилзада, خلیلزاد), whatever its language or script. The
aliases are matched as a group's terms are (:mod:`tracker.matching`: folded, on word
boundaries, ``*`` prefixes), so a Russian and a Pashto report of one event share the
key even when their transliterated spellings differ. Developments
(:mod:`tracker.developments`) weigh these keys above the keys of single words.

Must not: read topic files (``topics`` does), touch the database, the clock or the
network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tracker.matching import TermIndex, entity_terms, find_matches
from tracker.models import ItemText
from tracker.topics import Topic

ENTITY_MARK = "@"  # entity keys start with it; word keys never do


@dataclass(frozen=True)
class EntityIndex:
    """One topic's alias sets, indexed for matching, and each entity's title."""

    titles: Mapping[str, str] = field(default_factory=dict)  # entity key -> its title
    terms: TermIndex | None = None  # None: the topic has no alias sets

    def named(self, title: str, summary: str) -> tuple[frozenset[str], str]:
        """The entity keys of a text (one per alias set it names) and the words that
        named them (their own word keys say the same thing again)."""
        if self.terms is None:
            return frozenset(), ""
        found = find_matches(self.terms, ItemText(title=title, summary=summary or ""))
        keys = frozenset(entity_key(match.group) for match in found)
        return keys, " ".join(match.matched for match in found)

    def title(self, key: str) -> str:
        return self.titles.get(key, key.removeprefix(ENTITY_MARK))


NO_ENTITIES = EntityIndex()


def entity_key(name: str) -> str:
    return f"{ENTITY_MARK}{name}"


def is_entity_key(key: str) -> bool:
    return key.startswith(ENTITY_MARK)


def entity_index(topic: Topic) -> EntityIndex:
    """``topic``'s alias sets, ready to find in texts."""
    terms = entity_terms(topic)
    if terms is None:
        return NO_ENTITIES
    titles = {entity_key(entity.name): entity.title for entity in topic.entities}
    return EntityIndex(titles=titles, terms=terms)


def entity_indexes(topics: Iterable[Topic]) -> Mapping[str, EntityIndex]:
    """Each topic's alias sets, by topic name."""
    return {topic.name: entity_index(topic) for topic in topics}
