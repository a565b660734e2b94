"""``tracker prune`` and ``tracker vacuum``: keeping a long-running database small.

``prune`` deletes, now, what the ``[retention]`` table says the service deletes once
a day (with the search index's merge steps); ``--dry-run`` prints the same counts and
writes nothing. ``vacuum`` merges the search index whole and rewrites the database
without its free pages.
"""

from __future__ import annotations

import click

from tracker.cli.base import Context, cli, pass_context
from tracker.config import format_duration
from tracker.models import Retention
from tracker.poll import utcnow
from tracker.retention import PruneReport, prune_plan


@cli.command(epilog="Example: tracker prune --dry-run")
@click.option("--dry-run", is_flag=True, help="Print what would be removed; write nothing.")
@pass_context
def prune(ctx: Context, dry_run: bool) -> None:
    """Delete the polls and items the [retention] config no longer keeps."""
    retention = ctx.config.retention
    with ctx.open_store() as store:
        report = store.prune(prune_plan(retention, utcnow()), dry_run=dry_run)
    for line in prune_lines(report, retention):
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing was written")
    else:
        click.echo(f"search index merge steps: {report.merge_steps}")
        click.echo(f"space given back: {report.pages_freed} pages")


def prune_lines(report: PruneReport, retention: Retention) -> list[str]:
    """The counts a prune prints, the same for a dry run."""
    lines = ['polls: kept for ever ([retention] polls is "forever")']
    if retention.polls is not None:
        lines = [
            f"polls older than {format_duration(retention.polls)}: {report.polls} "
            f"(summarised into {report.poll_days} feed-days of poll_days)"
        ]
    if retention.items is None:
        return [*lines, "items: kept for ever ([retention] items is not set)"]
    return [
        *lines,
        f"items older than {format_duration(retention.items)} that no topic needs: {report.items}",
        f"  their item_feeds rows: {report.item_feeds}",
        f"  their story_bands rows: {report.story_bands}",
        f"  their search index rows: {report.search_rows}",
        f"  their assessments rows: {report.assessments}",
    ]


@cli.command(epilog="Example: tracker vacuum  (with the service stopped)")
@pass_context
def vacuum(ctx: Context) -> None:
    """Merge the search index whole and rewrite the database without free space.

    Holds the database for its whole run (polls wait, so stop the service first): the
    full-text index is merged into one segment at once (FTS5 'optimize', which drops
    what deleted items left in it), then the file is rewritten (VACUUM). Needs free
    disk of the database's size."""
    with ctx.open_store() as store:
        before, after = store.vacuum()
    click.echo(f"vacuumed: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
