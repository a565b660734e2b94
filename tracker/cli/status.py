"""``tracker status``: the feeds' health and the service's, as text or JSON."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from tracker.cli.base import STALE_AFTER, Context, cli, pass_context
from tracker.errors import TrackerError
from tracker.models import FeedState
from tracker.poll import utcnow
from tracker.readiness import setup_gaps
from tracker.store import Store
from tracker.urls import redact_url

# ---- status ----------------------------------------------------------------------------


@cli.command(epilog="Examples:\n\n  tracker status\n\n  tracker status --json")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """Feeds, last poll of each, failing feeds, item counts, the service.

    Exits 1 when the service is running but has not completed a cycle lately,
    so it can serve as a health check.
    """
    configured = {redact_url(feed.url) for feed in ctx.config.feeds}
    with ctx.open_store(read_only=True) as store:
        report = _status_report(store, utcnow(), configured)
    report["warnings"] = list(_setup_gaps(ctx))
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_status(report)
    if report["service"].get("stale"):
        sys.exit(1)


def _setup_gaps(ctx: Context) -> tuple[str, ...]:
    try:
        topics = len(ctx.topic_set().topics)
    except TrackerError:
        topics = -1  # an invalid topic file: `topics check` says which
    return setup_gaps(
        len(ctx.config.feeds), max(topics, 1 if topics < 0 else 0), ctx.config.topics_dir
    )


def _status_report(store: Store, now: datetime, configured: set[str]) -> dict[str, Any]:
    """The feeds of the config only (as the database knows them, credentials redacted):
    a feed removed from it keeps its items but is no longer polled, so it is neither
    failing nor shown, even before a poll or the service has caught up with the edit."""
    counts = store.feed_item_counts()
    feeds_out = [
        _feed_status(state, counts.get(state.id, 0), now)
        for state in store.feeds()
        if state.url in configured
    ]
    return {
        "database": store.path,
        "counts": store.counts(),
        "feeds": feeds_out,
        "failing": [f["url"] for f in feeds_out if f["failing"]],
        "service": _service_status(store.latest_service_run(), now),
    }


def _feed_status(state: FeedState, items: int, now: datetime) -> dict[str, Any]:
    from tracker.models import parse_iso
    from tracker.schedule import is_dead

    failing_since = parse_iso(state.failing_since)
    failing_for = (now - failing_since).total_seconds() if failing_since else 0.0
    return {
        "id": state.id,
        "url": redact_url(state.url),
        "name": state.display_name,
        "configured": state.configured,
        "items": items,
        "last_polled_at": state.last_polled_at,
        "last_success_at": state.last_success_at,
        "next_poll_at": state.next_poll_at,
        "last_status": state.last_status,
        "failing": state.consecutive_failures > 0,
        "dead": is_dead(failing_for),
        "gone": state.gone,
        "resume_with": f"tracker feeds resume {redact_url(state.url)}" if state.gone else None,
        "consecutive_failures": state.consecutive_failures,
        "last_error_kind": state.last_error_kind,
        "last_error": state.last_error,
    }


def _service_status(run: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    if run is None:
        return {"state": "never run", "stale": False}
    last = datetime.fromisoformat(run["last_cycle_at"] or run["started_at"])
    running = run["stopped_at"] is None
    stale = running and now - last > STALE_AFTER
    summary = json.loads(run["last_cycle_summary"]) if run["last_cycle_summary"] else None
    return {
        "state": ("stale" if stale else "running") if running else "stopped",
        "stale": stale,
        "pid": run["pid"],
        "started_at": run["started_at"],
        "stopped_at": run["stopped_at"],
        "last_cycle_at": run["last_cycle_at"],
        "cycles": run["cycles"],
        "last_cycle": summary,
        "config_error": run["config_error"],
        # Held back by the running service only: a stopped one holds nothing.
        "topics_held_back": run["topics_held_back"] if running else None,
    }


def _print_status(report: dict[str, Any]) -> None:
    counts = report["counts"]
    click.echo(f"database: {report['database']}")
    click.echo(
        f"{counts['feeds']} feeds, {counts['items']} items, {counts['flags']} flags, "
        f"{counts['polls']} polls"
    )
    service = report["service"]
    line = f"service: {service['state']}"
    if service.get("last_cycle_at"):
        line += f", last cycle {service['last_cycle_at']} ({service['cycles']} cycles)"
    click.echo(line)
    if service.get("config_error"):
        click.echo(f"config error (last good config in force): {service['config_error']}")
    for warning in report["warnings"]:
        click.echo(f"warning: {warning}")
    if service.get("topics_held_back"):
        click.echo(
            f"topic edit held back (last good topics in force): {service['topics_held_back']}"
        )
    for feed in report["feeds"]:
        click.echo(
            f"{_state_word(feed):<4} {feed['items']:>6} items  "
            f"last {feed['last_polled_at'] or '-':<25} {feed['name']}"
        )
        if feed["failing"]:
            click.echo(f"     {feed['last_error_kind']}: {feed['last_error']}")
        if feed["gone"]:
            click.echo(f"     no longer polled; `{feed['resume_with']}` polls it again")


def _state_word(feed: dict[str, Any]) -> str:
    if feed["gone"]:
        return "GONE"
    if feed["last_polled_at"] is None:
        return "new"
    return "DEAD" if feed["dead"] else "FAIL" if feed["failing"] else "ok"
