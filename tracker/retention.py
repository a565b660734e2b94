"""Retention decisions: what a prune deletes and when the service prunes.

Pure functions of the ``[retention]`` config and ``now``: the times before which
``polls`` rows are summarised and deleted and unneeded items deleted (a
``PrunePlan``), and whether the daily prune is due. Which items are "unneeded" is
the store's rule (``tracker.store.retention``), next to the SQL it is written in.

Must not: read the clock, touch the database or the config file.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tracker.models import PrunePlan, Retention

PRUNE_EVERY = timedelta(days=1)


def prune_plan(retention: Retention, now: datetime) -> PrunePlan:
    """The rows older than the retention periods, counted back from ``now``."""

    def before(seconds: float | None) -> datetime | None:
        return None if seconds is None else now - timedelta(seconds=seconds)

    return PrunePlan(polls_before=before(retention.polls), items_before=before(retention.items))


def prune_due(last_finished: datetime | None, now: datetime) -> bool:
    """Whether the daily prune should start: never done in this run, a day since the
    last one finished, or the clock went back."""
    if last_finished is None:
        return True
    return not timedelta(0) <= now - last_finished < PRUNE_EVERY
