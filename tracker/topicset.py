"""The configured topics, loaded with their seed articles and compiled together.

Glue between topic files on disk, the pure matcher and the store: reads
``config/topics`` and ``seeds/``, compiles one ``TopicMatcher`` per topic into a
``TopicSet`` whose ``assess`` gives one ``FlagDecision`` per topic for an item,
and, in ``rescore_changed_topics``, has the store re-match its items for the
topics added or edited since they were matched (and forget removed ones).

Must not: match text itself (``matching`` does) or run SQL (it asks ``Store``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tracker.errors import TopicError
from tracker.matching import TopicMatcher
from tracker.models import FlagDecision, ItemText, RescoreChange
from tracker.store import Store
from tracker.topics import Topic, load_topics


@dataclass(frozen=True)
class TopicSet:
    """Every configured topic, compiled."""

    topics: tuple[Topic, ...]
    matchers: tuple[TopicMatcher, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(topic.name for topic in self.topics)

    def assess(self, text: ItemText) -> Sequence[FlagDecision]:
        return [matcher.assess(text) for matcher in self.matchers]

    def only(self, name: str | None) -> TopicSet:
        if name is None:
            return self
        keep = [i for i, topic in enumerate(self.topics) if topic.name == name]
        if not keep:
            known = ", ".join(self.names) or "none"
            raise TopicError(f"no topic named {name!r} (topics: {known})")
        return TopicSet(tuple(self.topics[i] for i in keep), tuple(self.matchers[i] for i in keep))


def read_seed(topic: Topic, seeds_dir: Path) -> str:
    """The topic's seed article, or "" for a topic without one."""
    if not topic.seed:
        return ""
    path = seeds_dir / topic.seed
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopicError(
            f"cannot read seed article {path}: {exc.strerror}", path=str(topic.path), key="seed"
        ) from None


def load_topic_set(topics_dir: Path, seeds_dir: Path) -> TopicSet:
    """Load and compile every topic; ``TopicError`` on the first invalid one."""
    if not topics_dir.is_dir():
        return TopicSet((), ())
    topics = load_topics(topics_dir)
    matchers = tuple(TopicMatcher(topic, read_seed(topic, seeds_dir)) for topic in topics)
    return TopicSet(topics, matchers)


def rescore_changed_topics(
    store: Store, topic_set: TopicSet, now: datetime, *, force: Sequence[str] = ()
) -> list[RescoreChange]:
    """Re-match stored items for topics added or edited since they were matched (and
    for the ``force``d ones); forget removed topics."""
    versions = {topic.name: topic.version for topic in topic_set.topics}
    changed = sorted(set(store.changed_topics(versions)) | set(force))
    changes: list[RescoreChange] = []
    for name in changed:
        if name in versions:
            one = topic_set.only(name)
            changes += store.rescore(one.assess, one.names, now)
    removed = [name for name in changed if name not in versions]
    if removed:
        store.forget_topics(removed)
    if changed:  # flags came and went: their developments are worked out again
        store.regroup_developments(changed)
    if changed:
        store.record_topics(
            [(t.name, t.title, str(t.path), t.version) for t in topic_set.topics], now
        )
    return changes
