"""``tracker developments`` and ``tracker development ID``: the developments an
analyst follows, newest first, and one development's timeline, its coverage over time
(the outlets and languages it reached each day) and its surges.

Must not: group anything (the service's ``detect_developments`` hook and
``tracker rescore`` do) or write to the database.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from tracker.cli.base import SINCE, Context, cli, fail, pass_context, plain


@cli.command(epilog="Example: tracker developments --topic us-taliban --since 7d")
@click.option("--topic", default=None, help="Only this topic.")
@click.option(
    "--since",
    type=SINCE,
    default=None,
    help="Only developments reported in this period (7d, 12h) or since this date.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=100, show_default=True, help="At most this many developments.")
@pass_context
def developments(
    ctx: Context, topic: str | None, since: str | None, as_json: bool, limit: int
) -> None:
    """Developments, newest first: reports, outlets, languages and first reporter."""
    start = datetime.fromisoformat(since) if since else None
    with ctx.open_store(read_only=True) as store:
        rows = store.developments(topic, start, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row['id']:>6}  {row['last_seen'][:16]}  [{row['topic']}] {plain(row['title'])}"
        )
        click.echo(
            f"        {row['reports']} report(s), {row['updates']} update(s), "
            f"{row['outlet_count']} outlet(s), languages: {', '.join(row['languages']) or '?'}; "
            f"first: {plain(row['first_outlet'])} {row['first_seen'][:16]}"
        )
    click.echo(f"{len(rows)} developments")


@cli.command(epilog="Example: tracker development 12 --json")
@click.argument("development_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def development(ctx: Context, development_id: int, as_json: bool) -> None:
    """One development's timeline (every report, oldest first, with its role), its
    coverage day by day and its surges."""
    with ctx.open_store(read_only=True) as store:
        found = store.development(development_id)
        if found is not None:
            found["coverage"] = store.development_coverage(development_id)
            found["surges"] = store.development_surges(development_id)
    if found is None:
        fail(f"no development {development_id} (see `tracker developments`)", 2)
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    _show(found)


def _show(found: dict[str, Any]) -> None:
    click.echo(f"Development {found['id']} [{found['topic']}]: {plain(found['title'])}")
    click.echo(
        f"{found['first_seen'][:16]} – {found['last_seen'][:16]}; first reported by "
        f"{plain(found['first_outlet'])}"
    )
    click.echo(f"Outlets: {plain(', '.join(found['outlets']))}")
    click.echo(f"Languages: {', '.join(found['languages'])}")
    for report in found["timeline"]:
        click.echo(
            f"  {report['published'][:16]}  {report['role']:<7} {report['language'] or '?':<3} "
            f"{plain(report['outlet'])}: {plain(report['title'] or '(untitled)')}"
        )
        if report["url"]:
            click.echo(f"      {report['url']}")
    _show_coverage(found["coverage"], found["surges"])


def _show_coverage(days: list[dict[str, Any]], surges: list[dict[str, Any]]) -> None:
    click.echo("Coverage by UTC day (outlets and languages first reached; how many by then):")
    for day in days:
        click.echo(
            f"  {day['day']}  {day['reports']} report(s); outlets "
            f"+{plain(day['new_outlets']) or '-'} ({day['outlets_by_then']}); "
            f"languages +{day['new_languages'] or '-'} ({day['languages_by_then']})"
        )
    for surge in surges:
        quiet = " (history: found by a rescore, not alerted)" if surge["quiet"] else ""
        click.echo(f"Surge {surge['last_at'][:16]}: {plain(surge['reason'])}{quiet}")
