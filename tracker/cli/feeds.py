"""``tracker feeds``: list, add and remove feeds in the config, OPML in and out."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracker import config, opml
from tracker.cli.base import Context, cli, fail, pass_context, plain
from tracker.errors import ConfigError, FeedRefused, StoreError
from tracker.feedcheck import CheckedFeed, check_feed, refused_address
from tracker.models import FeedConfig, Settings
from tracker.poll import utcnow
from tracker.urls import is_http_url, redact_url

# ---- feeds -----------------------------------------------------------------------------


@cli.group()
def feeds() -> None:
    """List, add, remove, import and export feeds."""


@feeds.command("list", epilog="Example: tracker feeds list --json")
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
        click.echo(f"tracker: warning: polling every {interval} is aggressive", err=True)
    feed = FeedConfig(url=url, name=name, interval=seconds, language=language, folder=folder)
    config.add_feed(ctx.config_path, feed)
    click.echo(f"added {redact_url(url)}" + (f": {_described(checked)}" if checked else ""))


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
