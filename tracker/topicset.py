"""The configured topics, loaded with their seed articles and compiled together.

Glue between topic files on disk, the pure matcher and the store: reads
``config/topics`` and ``seeds/``, compiles one ``TopicMatcher`` per topic into a
``TopicSet`` whose ``assess`` gives one ``FlagDecision`` per topic for an item,
and, in ``rescore_changed_topics``, has the store re-match its items for the
topics added or edited since they were matched (and forget removed ones).
``preview_changed_topics`` works out the same changes without writing, and
``check_topic_edit`` says whether an edit would flag too many recent items (the
guard a running service applies before it takes up an edit: ``edit_check``).

Must not: match text itself (``matching`` does) or run SQL (it asks ``Store``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from tracker.entities import EntityIndex, entity_indexes
from tracker.errors import TopicError
from tracker.matching import Matchers, TopicMatcher
from tracker.models import (
    Assessor,
    DevelopmentConfig,
    FlagDecision,
    ItemText,
    RescoreChange,
    Settings,
    TopicEditCheck,
)
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

    @cached_property
    def entities(self) -> Mapping[str, EntityIndex]:
        """Each topic's entity alias sets, indexed (developments' keys)."""
        return entity_indexes(self.topics)

    @cached_property
    def assess(self) -> Assessor:
        """One verdict per topic for an item's text. The parse workers receive it
        pickled: it holds the matchers alone, so that a worker imports what matching
        needs and not this module's (the store, the sinks: some 13 MB a worker)."""
        return Matchers(self.matchers)

    def decide(self, text: ItemText) -> Sequence[FlagDecision]:
        """Every topic's full decision, seed terms included even where no group that
        makes an item relevant matched (``assess`` stops early on such an item)."""
        return [matcher.decide(text) for matcher in self.matchers]

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


DEFAULT_SURGES = DevelopmentConfig()  # the [developments] table's defaults


def rescore_changed_topics(
    store: Store,
    topic_set: TopicSet,
    now: datetime,
    *,
    force: Sequence[str] = (),
    surges: DevelopmentConfig = DEFAULT_SURGES,
) -> list[RescoreChange]:
    """Re-match stored items for topics added or edited since they were matched (and
    for the ``force``d ones); forget removed topics. The surges the regrouped
    developments show are kept as history (by ``surges``' rule), never alerted."""
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
        store.regroup_developments(changed, topic_set.entities)
        store.detect_surges(surges, now, topics=changed, quiet=True)
    if changed:
        store.record_topics(
            [(t.name, t.title, str(t.path), t.version) for t in topic_set.topics], now
        )
    return changes


def preview_changed_topics(
    store: Store,
    topic_set: TopicSet,
    now: datetime,
    *,
    force: Sequence[str] = (),
    since: datetime | None = None,
) -> list[RescoreChange]:
    """What ``rescore_changed_topics`` would change among the items first seen
    ``since`` (all when None), without writing anything. Removed topics are left out."""
    versions = {topic.name: topic.version for topic in topic_set.topics}
    changed = sorted((set(store.changed_topics(versions)) | set(force)) & versions.keys())
    changes: list[RescoreChange] = []
    for name in changed:
        one = topic_set.only(name)
        changes += store.preview_rescore(one.assess, one.names, now, since)
    return changes


def check_topic_edit(
    store: Store, topic_set: TopicSet, now: datetime, settings: Settings
) -> TopicEditCheck:
    """What putting ``topic_set`` in force would do to the recent items (see ``edit_check``)."""
    since = now - timedelta(seconds=settings.topic_guard_window)
    changes = preview_changed_topics(store, topic_set, now, since=since)
    return edit_check(changes, store.items_seen_since(since), settings)


def edit_check(
    changes: Sequence[RescoreChange], recent_items: int, settings: Settings
) -> TopicEditCheck:
    """An edit may flag up to ``topic_guard_share`` of the recent items, and never
    fewer than ``topic_guard_min`` (a small or new database is not held back by one
    follow-up)."""
    flagged = sum(change.became_flagged for change in changes)
    limit = max(settings.topic_guard_min, int(settings.topic_guard_share * recent_items))
    return TopicEditCheck(
        would_flag=flagged,
        would_unflag=len(changes) - flagged,
        recent_items=recent_items,
        limit=limit,
        window_days=settings.topic_guard_window / 86400,
    )
