"""After-cycle hooks: the work the service does once the due feeds were polled.

Modelled on reader's ``after_feeds_update_hooks``: ``Service.after_cycle_hooks`` is
a plain list of callables run in order after each poll, each given a
``FinishedCycle`` (the cycle's ``CycleSummary``, ``now``, the store, and the config
and topics in force). By default it holds the service's own steps::

    fetch_article_text  article pages of short relevant items, decided again (``articles``)
    detect_developments new flags join their developments (or start one); the cycle's
                        reports the rules missed that clearly belong to a flagged
                        development join it, flagged (adaptive tracking)
    detect_surges       developments that spread to new outlets or languages (``surges``)
    send_alerts         new developments go to the [[alerts]] sinks
    record_cycle        the cycle is written to service_runs (``tracker status``)
    prune_story_bands   once a day, the story bands no item needs any more go
    prune_history       once a day, what [retention] no longer keeps goes and the
                        search index is merged, a few short transactions a cycle

An aggregate detector (surges, developments) is a function of a ``FinishedCycle``,
registered in one line: ``service.after_cycle_hooks.insert(0, detect_surges)`` to
run before alerts go out (the flags it writes are alerted in the same cycle), or
``.append(...)`` to run last; to have every ``tracker run`` use it, add it to
``Service.default_hooks``.

A hook may return a mapping of facts for the cycle's record (``{"alerts_sent": 2}``):
the hooks after it see them in ``cycle.facts``, and ``record_cycle`` stores them.
A hook that raises is logged with its name and traceback (``after-cycle hook failed
hook=...``), its name is added to the facts as ``hooks_failed``, and the other
hooks still run: one broken detector must stop neither alerts nor the service.

Must not: read the clock (``now`` is given), or poll and schedule feeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.config import Config
    from tracker.poll import CycleSummary
    from tracker.store import Store
    from tracker.topicset import TopicSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinishedCycle:
    """What an after-cycle hook is told about the cycle that just polled."""

    summary: CycleSummary  # what the poll did (no feeds when none was due)
    now: datetime  # when the poll finished: the time for whatever the hook decides
    store: Store
    config: Config
    topics: TopicSet
    facts: Mapping[str, object] = field(default_factory=dict)  # from the hooks before


# Returns facts for the cycle's record, or None.
AfterCycleHook = Callable[[FinishedCycle], Mapping[str, object] | None]


def hook_name(hook: AfterCycleHook) -> str:
    return str(getattr(hook, "__name__", None) or repr(hook))


def run_after_cycle(hooks: Sequence[AfterCycleHook], cycle: FinishedCycle) -> dict[str, object]:
    """Run every hook in order, whatever the others do; return the facts they gave."""
    facts: dict[str, object] = dict(cycle.facts)
    failed: list[str] = []
    for hook in hooks:
        try:
            given = hook(replace(cycle, facts=MappingProxyType(dict(facts))))
        except Exception:
            log.exception("after-cycle hook failed hook=%s", hook_name(hook))
            failed.append(hook_name(hook))
            facts["hooks_failed"] = tuple(failed)
            continue
        facts.update(given or {})
    return facts


def detect_developments(cycle: FinishedCycle) -> Mapping[str, object]:
    """Place the cycle's new flags in their developments, and flag the cycle's reports
    that clearly belong to one, before alerts go out (an alert is per development: its
    first report's, never a repeat's)."""
    since = cycle.summary.started_at
    placed = cycle.store.place_new_flags(cycle.topics.entities, since, cycle.now)
    new = sum(1 for ps in placed.values() for p in ps if p.role == "new")
    joined = sum(1 for ps in placed.values() for p in ps if p.adopted)
    facts: dict[str, object] = {"new_developments": new} if placed else {}
    return facts | ({"reports_joined": joined} if joined else {})


def detect_surges(cycle: FinishedCycle) -> Mapping[str, object]:
    """Find the developments that spread (``tracker.surges``), after they took this
    cycle's flags and before alerts go out (a surge alerts in the cycle it is found)."""
    found = cycle.store.detect_surges(cycle.config.developments, cycle.now)
    return {"surges": found} if found else {}
