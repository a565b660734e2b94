"""``tracker feeds``: list, add and remove feeds in the config, OPML in and out, resume
gone feeds, write confirmed redirects into the config, and check that every configured
feed works (``feeds check``, nothing stored)."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from tracker import config, feedsurvey, opml
from tracker.cli.base import Context, cli, fail, pass_context, plain, warn
from tracker.errors import ConfigError, FeedRefused, StoreError, TrackerError
from tracker.feedcheck import CheckedFeed, check_feed, refused_address
from tracker.models import FeedCheck, FeedConfig, FeedState, Settings
from tracker.poll import utcnow
from tracker.store import Store
from tracker.urls import is_http_url, redact_url

# ---- feeds -----------------------------------------------------------------------------


@cli.group()
def feeds() -> None:
    """List, add, remove, import and export feeds."""


@feeds.command("list", epilog="Example: tracker feeds list --json")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def feeds_list(ctx: Context, as_json: bool) -> None:
    """List the configured feeds, with the ones that moved or stopped."""
    moved, stopped = _moved_and_stopped(ctx)
    rows = [
        {
            "url": redact_url(f.url),
            "name": f.name,
            "language": f.language,
            "interval": config.format_duration(f.interval or ctx.config.settings.interval),
            "moved_to": moved.get(f.url),
            "stopped": f.url in stopped,
        }
        for f in ctx.config.feeds
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(_feed_line(row))
    click.echo(f"{len(rows)} feeds")
    if moved:
        click.echo("`tracker feeds apply-redirects` writes the new URLs into the config")


def _moved_and_stopped(ctx: Context) -> tuple[dict[str, str], set[str]]:
    """Config URL -> the URL its feed moved to; the URLs of gone feeds (none without
    a database: listing never creates one)."""
    store = _existing_store(ctx)
    if store is None:
        return {}, set()
    with store:
        moved = store.moved_feeds(f.url for f in ctx.config.feeds)
        states = {f.url: store.feed(f.url) for f in ctx.config.feeds}
    return moved, {url for url, state in states.items() if state is not None and state.gone}


def _feed_line(row: dict[str, Any]) -> str:
    line = f"{row['interval']:>5}  {row['language'] or '--':<3} {row['url']}"
    line += f"  ({row['name']})" if row["name"] else ""
    if row["moved_to"]:
        line += f"  moved to {row['moved_to']}"
    if row["stopped"]:
        line += f"  STOPPED (gone): `tracker feeds resume {row['url']}` polls it again"
    return line


def _existing_store(ctx: Context) -> Store | None:
    return Store(ctx.db_path) if ctx.db_path.is_file() else None


@feeds.command(
    "add",
    epilog="Examples:\n\n  tracker feeds add https://www.example.org/  (a page: its feed is found)"
    "\n\n  tracker feeds add https://example.org/rss.xml --name Example --interval 30m",
)
@click.argument("url")
@click.option("--name", default="", help="A name for the feed.")
@click.option("--interval", default=None, help="How often to poll it, e.g. 15m, 10s, 1h.")
@click.option("--language", default="", help="Its language code, e.g. en, ru, fa.")
@click.option("--folder", default="", help="A folder to file it in (kept in OPML).")
@click.option("--no-check", is_flag=True, help="Add without fetching it (offline set-up).")
@pass_context
def feeds_add(
    ctx: Context,
    url: str,
    name: str,
    interval: str | None,
    language: str,
    folder: str,
    no_check: bool,
) -> None:
    """Fetch URL once and add the feed to the config file (comments are kept).

    A web page is searched for its feed link. A URL that does not answer a feed
    (404, 410, a page without a feed, an unreachable host) is refused and nothing
    is written, unless --no-check.
    """
    url = _lower_scheme(url)
    seconds = config.check_interval(interval, key="--interval") if interval else None
    settings = ctx.config.settings
    if no_check:
        refusal = refused_address(url, settings)
        if refusal:
            raise FeedRefused(refusal)
        checked = None
    else:
        checked = _checked(url, settings)
        url = checked.url
    if seconds is not None and seconds < config.WARN_INTERVAL:
        warn(f"polling every {interval} is aggressive")
    feed = FeedConfig(url=url, name=name, interval=seconds, language=language, folder=folder)
    store = _existing_store(ctx)
    with store or nullcontext():
        stopped = store.feed(feed.url) if store is not None else None
        if stopped is None or not stopped.gone or feed.url not in _configured(ctx):
            config.add_feed(ctx.config_path, feed)
            click.echo(f"added {redact_url(url)}" + (f": {_described(checked)}" if checked else ""))
        if store is not None and stopped is not None and stopped.gone:
            _resume(store, stopped)


def _configured(ctx: Context) -> set[str]:
    return {f.url for f in ctx.config.feeds}


def _resume(store: Store, state: FeedState) -> None:
    store.resume_feed(state.id, utcnow())
    if not state.gone:
        click.echo(f"{redact_url(state.url)} was not stopped; it is due now")
        return
    why = f"{state.last_error_kind}: {state.last_error}" if state.last_error_kind else "gone"
    click.echo(f"resumed {redact_url(state.url)} (it had stopped after {why}): due now")


@feeds.command("resume", epilog="Example: tracker feeds resume https://example.org/rss.xml")
@click.argument("url", required=False)
@click.option("--all", "resume_all", is_flag=True, help="Resume every stopped feed.")
@pass_context
def feeds_resume(ctx: Context, url: str | None, resume_all: bool) -> None:
    """Poll a gone feed (410, or failing for gone_after) again, at once."""
    if (url is None) == (not resume_all):
        raise TrackerError("give either the URL of a feed or --all")
    store = _existing_store(ctx)
    if store is None:
        raise TrackerError(f"no database at {ctx.db_path}: no feed to resume")
    with store:
        states = store.gone_feeds() if resume_all else [_known_feed(ctx, store, url or "")]
        for state in states:
            _resume(store, state)
    if resume_all:
        click.echo(f"resumed {len(states)} feeds")


def _known_feed(ctx: Context, store: Store, url: str) -> FeedState:
    state = store.feed(url)
    if state is None:
        raise TrackerError(f"no feed {redact_url(url)} in the database {ctx.db_path}")
    return state


@feeds.command("apply-redirects", epilog="Example: tracker feeds apply-redirects --dry-run")
@click.option("--dry-run", is_flag=True, help="Print the changes without writing them.")
@pass_context
def feeds_apply_redirects(ctx: Context, dry_run: bool) -> None:
    """Write the new URLs of feeds that moved (confirmed 301/308) into the config."""
    store = _existing_store(ctx)
    moved: dict[str, str] = {}
    if store is not None:
        with store:
            moved = store.moved_feeds(f.url for f in ctx.config.feeds)
    moves = _applicable(ctx, moved)
    if not moves:
        click.echo("nothing to apply: no configured feed has a confirmed redirect")
        return
    for old, new in moves.items():
        click.echo(f"{redact_url(old)} -> {new}")
    if dry_run:
        click.echo(f"dry run: {len(moves)} feeds would change; the config was not written")
        return
    config.move_feeds(ctx.config_path, moves)
    click.echo(f"updated {len(moves)} feeds in {ctx.config_path}")


def _applicable(ctx: Context, moved: dict[str, str]) -> dict[str, str]:
    """The moves that can be written: not over a URL with credentials (the database
    never has them), nor onto a URL configured already."""
    configured = {redact_url(f.url) for f in ctx.config.feeds}
    moves = {}
    for old, new in moved.items():
        if redact_url(old) != old:
            click.echo(f"skipped {redact_url(old)}: it has credentials; edit it by hand")
        elif new in configured:
            click.echo(f"skipped {redact_url(old)}: {new} is configured already; remove one")
        else:
            moves[old] = new
    return moves


def _lower_scheme(url: str) -> str:
    """The URL as the config keeps it: trimmed, its scheme in lower case."""
    url = url.strip()
    if not is_http_url(url):
        raise click.BadParameter(f"only http and https URLs can be polled: {redact_url(url)}")
    scheme, rest = url.split(":", 1)
    return f"{scheme.lower()}:{rest}"


def _checked(url: str, settings: Settings) -> CheckedFeed:
    try:
        return check_feed(url, settings, utcnow())
    except FeedRefused as exc:
        if not exc.choices:
            raise
        fail("\n  ".join((str(exc), *exc.choices)), 2)


def _described(checked: CheckedFeed) -> str:
    found = f" (the feed of {redact_url(checked.page)})" if checked.page else ""
    title = plain(checked.title) or "untitled"
    return f"{title!r}, {checked.items} items{found}"


@feeds.command(
    "remove",
    epilog="Examples:\n\n  tracker feeds remove https://example.org/rss.xml"
    "\n\n  tracker feeds remove --match bing.com",
)
@click.argument("urls", nargs=-1)
@click.option("--all", "remove_all", is_flag=True, help="Remove every feed.")
@click.option(
    "--match", "pattern", default=None, help="Remove the feeds whose URL or name has this text."
)
@pass_context
def feeds_remove(
    ctx: Context, urls: tuple[str, ...], remove_all: bool, pattern: str | None
) -> None:
    """Remove feeds from the config file (their stored items stay)."""
    chosen = _chosen_feeds(ctx.config.feeds, urls, remove_all, pattern)
    config.remove_feeds(ctx.config_path, chosen)
    for url in chosen:
        click.echo(f"removed {redact_url(url)}")
    click.echo(f"{len(chosen)} feed{'' if len(chosen) == 1 else 's'} removed")


def _chosen_feeds(
    configured: tuple[FeedConfig, ...], urls: tuple[str, ...], remove_all: bool, pattern: str | None
) -> list[str]:
    if sum((bool(urls), remove_all, pattern is not None)) != 1:
        raise click.UsageError("give feed URLs, or --all, or --match TEXT (one of them)")
    if urls:
        return list(dict.fromkeys(url.strip() for url in urls))
    text = (pattern or "").casefold()
    chosen = [
        f.url
        for f in configured
        if remove_all or text in f.url.casefold() or text in f.name.casefold()
    ]
    if not chosen:
        raise click.UsageError(
            f"no configured feed matches {pattern!r}" if pattern else "no feeds configured"
        )
    return chosen


@feeds.command("import-opml", epilog="Example: tracker feeds import-opml feedly.opml")
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


@feeds.command("export-opml", epilog="Example: tracker feeds export-opml feeds.opml")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@pass_context
def feeds_export_opml(ctx: Context, file: Path | None) -> None:
    """Write the configured feeds as OPML (to FILE or standard output), in their
    folders; a feed without a name gets its own title, when tracker has polled it."""
    data = opml.write_opml(ctx.config.feeds, feed_titles=_known_titles(ctx))
    if file is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        file.write_bytes(data)
        click.echo(f"exported {len(ctx.config.feeds)} feeds to {file}")


def _known_titles(ctx: Context) -> dict[str, str]:
    """Each configured feed's own title, from the database (when there is one)."""
    if not ctx.db_path.is_file():
        return {}
    try:
        with ctx.open_store(read_only=True) as store:
            titles = {state.url: state.title for state in store.feeds() if state.title}
    except StoreError:
        return {}  # the export does not need them
    return {
        f.url: titles[redact_url(f.url)] for f in ctx.config.feeds if redact_url(f.url) in titles
    }


@feeds.command("check", epilog="Example: tracker feeds check --json")
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
    checks = asyncio.run(feedsurvey.check_feeds(ctx.config.settings, feeds_, utcnow(), stale_days))
    if as_json:
        click.echo(json.dumps([feedsurvey.check_dict(c) for c in checks], indent=2))
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
