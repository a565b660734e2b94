"""``tracker feeds``: list, add and remove feeds in the config, OPML in and out, and
check that every configured feed works (``feeds check``, nothing stored)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from tracker import config, feedcheck, opml
from tracker.cli.base import Context, cli, pass_context, plain, warn
from tracker.errors import ConfigError
from tracker.models import FeedCheck, FeedConfig
from tracker.poll import utcnow
from tracker.urls import is_http_url, redact_url

# ---- feeds -----------------------------------------------------------------------------


@cli.group()
def feeds() -> None:
    """List, add, remove, import and export feeds."""


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def feeds_list(ctx: Context, as_json: bool) -> None:
    """List the configured feeds."""
    rows = [
        {
            "url": redact_url(f.url),
            "name": f.name,
            "language": f.language,
            "interval": config.format_duration(f.interval or ctx.config.settings.interval),
        }
        for f in ctx.config.feeds
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row['interval']:>5}  {row['language'] or '--':<3} {row['url']}"
            + (f"  ({row['name']})" if row["name"] else "")
        )
    click.echo(f"{len(rows)} feeds")


@feeds.command("add")
@click.argument("url")
@click.option("--name", default="", help="A name for the feed.")
@click.option("--interval", default=None, help="How often to poll it, e.g. 15m, 10s, 1h.")
@click.option("--language", default="", help="Its language code, e.g. en, ru, fa.")
@pass_context
def feeds_add(ctx: Context, url: str, name: str, interval: str | None, language: str) -> None:
    """Add a feed to the config file (comments are kept)."""
    if not is_http_url(url):
        raise click.BadParameter(f"only http and https URLs can be polled: {url}")
    seconds = config.check_interval(interval, key="--interval") if interval else None
    if seconds is not None and seconds < config.WARN_INTERVAL:
        warn(f"polling every {interval} is aggressive")
    feed = FeedConfig(url=url.strip(), name=name, interval=seconds, language=language)
    config.add_feed(ctx.config_path, feed)
    click.echo(f"added {url}")


@feeds.command("remove")
@click.argument("url")
@pass_context
def feeds_remove(ctx: Context, url: str) -> None:
    """Remove a feed from the config file (its stored items stay)."""
    config.remove_feed(ctx.config_path, url)
    click.echo(f"removed {url}")


@feeds.command("import-opml")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_context
def feeds_import_opml(ctx: Context, file: Path) -> None:
    """Add every feed of an OPML file that is not configured yet."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(file)) from None
    known = {feed.url for feed in ctx.config.feeds}
    added = 0
    for feed in opml.read_opml(data, source=str(file)):
        if feed.url not in known:
            config.add_feed(ctx.config_path, feed)
            known.add(feed.url)
            added += 1
    click.echo(f"imported {added} feeds")


@feeds.command("export-opml")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@pass_context
def feeds_export_opml(ctx: Context, file: Path | None) -> None:
    """Write the configured feeds as OPML (to FILE or standard output)."""
    data = opml.write_opml(ctx.config.feeds)
    if file is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        file.write_bytes(data)
        click.echo(f"exported {len(ctx.config.feeds)} feeds to {file}")


@feeds.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--stale-days",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Call a feed stale when its newest item is older than this.",
)
@pass_context
def feeds_check(ctx: Context, as_json: bool, stale_days: float) -> None:
    """Fetch and parse every configured feed once, store nothing, and report each one.

    Exits 1 when any feed failed (no usable feed came back)."""
    feeds_ = ctx.config.feeds
    if not feeds_:
        click.echo("no feeds configured: add one with `tracker feeds add URL`")
        return
    checks = asyncio.run(feedcheck.check_feeds(ctx.config.settings, feeds_, utcnow(), stale_days))
    if as_json:
        click.echo(json.dumps([feedcheck.check_dict(c) for c in checks], indent=2))
    else:
        for check in checks:
            _echo_check(check)
        failed = sum(not c.ok for c in checks)
        click.echo(f"{len(checks)} feeds: {len(checks) - failed} ok, {failed} failed")
    if any(not c.ok for c in checks):
        sys.exit(1)


def _echo_check(check: FeedCheck) -> None:
    newest = check.newest.strftime("%Y-%m-%d") if check.newest else "--"
    click.echo(
        f"{'ok  ' if check.ok else 'FAIL'} {check.status or '---'}  {check.items:>4} items  "
        f"newest {newest:<10}  {plain(check.title) or '(no title)'}"
    )
    click.echo(f"     {check.url}")
    for problem in check.problems:
        click.echo(f"     - {plain(problem)}")
