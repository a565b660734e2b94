"""``tracker poll``: one poll of the configured feeds, or of the URLs given."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from tracker.cli.base import Context, cli, pass_context
from tracker.models import FeedState, PollSummary
from tracker.poll import CycleSummary, ParsePool, Poller, run_poll, utcnow
from tracker.store import Store
from tracker.topicset import rescore_changed_topics
from tracker.urls import is_http_url, redact_url, secret_urls

# ---- poll ------------------------------------------------------------------------------


@cli.command(
    epilog="Examples:\n\n  tracker poll --once\n\n"
    "  tracker poll --once https://example.org/rss.xml  (just this feed)"
)
@click.option("--once", is_flag=True, help="Poll once and exit (the service is `tracker run`).")
@click.argument("urls", nargs=-1)
@pass_context
def poll(ctx: Context, once: bool, urls: tuple[str, ...]) -> None:
    """Poll the configured feeds, or just these URLs, once."""
    if not once:
        raise click.UsageError("use `tracker poll --once`, or `tracker run` for the service")
    settings = ctx.config.settings
    pool = ParsePool(os.cpu_count() or 1)
    try:
        topics = ctx.topic_set()
        with ctx.open_store(create=True) as store:
            now = utcnow()
            store.sync_feeds(ctx.config.feeds, now)
            rescore_changed_topics(store, topics, now, surges=ctx.config.developments)
            states = _states_for(store, urls, now)
            if not states:
                click.echo("no feeds configured: add one with `tracker feeds add URL`")
                return
            secrets = secret_urls([*(feed.url for feed in ctx.config.feeds), *urls])
            poller = Poller(store, settings, topics.assess, pool, fetch_urls=secrets)
            with _progress(len(states)) as advance:
                summary = run_poll(poller, states, advance)
            # as the service's detect_developments and detect_surges hooks do
            store.place_new_flags(topics.entities, summary.started_at, utcnow())
            store.detect_surges(ctx.config.developments, utcnow())
    finally:
        pool.close()
    _print_cycle(summary)


def _states_for(store: Store, urls: tuple[str, ...], now: datetime) -> list[FeedState]:
    """The feeds given, else the configured ones that are not gone."""
    if not urls:
        states = store.feeds(configured_only=True)
        gone = [state for state in states if state.gone]
        if gone:
            click.echo(
                f"skipped {len(gone)} gone feeds (`tracker status` lists them; "
                "`tracker feeds resume URL` polls one again)"
            )
        return [state for state in states if not state.gone]
    for url in urls:
        if not is_http_url(url):
            raise click.BadParameter(f"only http and https URLs can be polled: {url}")
    return [store.ensure_feed(url, now) for url in dict.fromkeys(url.strip() for url in urls)]


@contextmanager
def _progress(total: int) -> Iterator[Callable[[PollSummary], None]]:
    lines: list[str] = []
    if not sys.stderr.isatty():
        yield lambda summary: click.echo(_poll_line(summary))
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("polling", total=total)

        def advance(summary: PollSummary) -> None:
            lines.append(_poll_line(summary))
            progress.advance(task)

        yield advance
    for line in lines:
        click.echo(line)


def _poll_line(summary: PollSummary) -> str:
    name = redact_url(summary.feed_name)
    if summary.outcome == "error":
        stopped = (
            f" (gone: no longer polled; `tracker feeds resume {redact_url(summary.feed_url)}`"
            " polls it again)"
            if summary.stopped
            else ""
        )
        return f"FAIL {name}: {summary.error_kind}: {summary.error}{stopped}"
    moved = f" (moved to {redact_url(summary.moved_to)})" if summary.moved_to else ""
    if summary.outcome == "not_modified":
        return f"ok   {name}: not modified{moved}"
    return (
        f"ok   {name}: {summary.items_seen} items, {summary.new_items} new, "
        f"{summary.updated_items} updated, {len(summary.new_flags)} flagged{moved}"
    )


def _print_cycle(summary: CycleSummary) -> None:
    click.echo(
        f"total: {summary.feeds} feeds, {summary.new_items} new items, "
        f"{summary.updated_items} updated, {summary.new_flags} flagged, "
        f"{summary.errors} failed, {summary.duration:.1f}s"
    )
