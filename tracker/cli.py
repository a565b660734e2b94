"""The ``tracker`` command line (click): the only module that prints.

Turns tracker's own errors into one-line messages and exit codes: 1 when the
command ran but found a problem (invalid topics, stale service), 2 when tracker
cannot work (bad config, unusable database, a usage mistake). Long runs show a
progress bar on a terminal and stay quiet in logs and pipes.

Must not: hold logic of its own beyond parsing options and formatting output.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from tracker import __version__, config, opml
from tracker.errors import ConfigError, TrackerError
from tracker.models import FeedConfig, FeedState, PollSummary
from tracker.poll import CycleSummary, ParsePool, Poller, run_poll, utcnow
from tracker.store import Store
from tracker.topicset import TopicSet, load_topic_set, rescore_changed_topics
from tracker.urls import is_http_url, redact_url, secret_urls

log = logging.getLogger("tracker")

STALE_AFTER = timedelta(minutes=5)


class CleanErrors(click.Group):
    """A group that shows tracker's errors as one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(str(exc), 2)
        except TrackerError as exc:
            _fail(str(exc), 2)
        except KeyboardInterrupt:
            _fail("interrupted", 130)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"tracker: error: {message}", err=True)
    sys.exit(code)


@dataclass
class Context:
    """Options shared by every command; the config is loaded on first use."""

    config_path: Path
    db_override: Path | None
    _config: config.Config | None = None

    @property
    def config(self) -> config.Config:
        if self._config is None:
            self._config = config.load_config(self.config_path)
            for warning in self._config.warnings:
                click.echo(f"tracker: warning: {warning}", err=True)
        return self._config

    @property
    def db_path(self) -> Path:
        return self.db_override or self.config.db_path

    def open_store(self) -> Store:
        return Store(self.db_path)

    def topic_set(self) -> TopicSet:
        return load_topic_set(self.config.topics_dir, self.config.seeds_dir)


pass_context = click.make_pass_decorator(Context)


@click.group(cls=CleanErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="TRACKER_CONFIG",
    default=config.DEFAULT_CONFIG,
    show_default=True,
    help="Config file (env TRACKER_CONFIG).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    envvar="TRACKER_DB",
    default=None,
    help="Database file (env TRACKER_DB); default from the config.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as readable text or JSON.",
)
@click.version_option(__version__, prog_name="tracker")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path, db_path: Path | None, verbose: int, log_format: str
) -> None:
    """Follow a developing story across news feeds and flag its follow-ups."""
    from tracker.logs import configure_logging

    configure_logging(verbose, log_format)
    ctx.obj = Context(config_path, db_path)


# ---- poll ------------------------------------------------------------------------------


@cli.command()
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
        with ctx.open_store() as store:
            now = utcnow()
            store.sync_feeds(ctx.config.feeds, now)
            rescore_changed_topics(store, topics, now)
            states = _states_for(store, urls, now)
            if not states:
                click.echo("no feeds configured: add one with `tracker feeds add URL`")
                return
            secrets = secret_urls([*(feed.url for feed in ctx.config.feeds), *urls])
            poller = Poller(store, settings, topics.assess, pool, fetch_urls=secrets)
            with _progress(len(states)) as advance:
                summary = run_poll(poller, states, advance)
    finally:
        pool.close()
    _print_cycle(summary)


def _states_for(store: Store, urls: tuple[str, ...], now: datetime) -> list[FeedState]:
    if not urls:
        return store.feeds(configured_only=True)
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
        return f"FAIL {name}: {summary.error_kind}: {summary.error}"
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
        click.echo(f"tracker: warning: polling every {interval} is aggressive", err=True)
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


# ---- status ----------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """Feeds, last poll of each, failing feeds, item counts, the service.

    Exits 1 when the service is running but has not completed a cycle lately,
    so it can serve as a health check.
    """
    with ctx.open_store() as store:
        report = _status_report(store, utcnow())
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_status(report)
    if report["service"].get("stale"):
        sys.exit(1)


def _status_report(store: Store, now: datetime) -> dict[str, Any]:
    counts = store.feed_item_counts()
    feeds_out = [_feed_status(state, counts.get(state.id, 0), now) for state in store.feeds()]
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
    for feed in report["feeds"]:
        state = "DEAD" if feed["dead"] else "FAIL" if feed["failing"] else "ok"
        if feed["last_polled_at"] is None:
            state = "new"
        click.echo(
            f"{state:<4} {feed['items']:>6} items  last {feed['last_polled_at'] or '-':<25} "
            f"{feed['name']}"
        )
        if feed["failing"]:
            click.echo(f"     {feed['last_error_kind']}: {feed['last_error']}")


# ---- topics ----------------------------------------------------------------------------


@cli.group()
def topics() -> None:
    """Check the topic files."""


@topics.command("check")
@pass_context
def topics_check(ctx: Context) -> None:
    """Validate every topic file; exit 1 on errors."""
    from tracker.topics import check_topics

    directory = ctx.config.topics_dir
    errors: list[TrackerError] = list(check_topics(directory))
    if not errors:
        try:
            topic_set = ctx.topic_set()
        except TrackerError as exc:
            errors = [exc]
        else:
            for topic in topic_set.topics:
                click.echo(f"ok   {topic.name}: {len(topic.groups)} groups ({topic.path})")
    for error in errors:
        click.echo(f"tracker: error: {error}", err=True)
    if errors:
        sys.exit(1)


@cli.group()
def seed() -> None:
    """Work with seed articles."""


@seed.command("suggest")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_context
def seed_suggest(ctx: Context, file: Path) -> None:
    """Propose keyword groups from a seed article, marking those a topic covers."""
    from tracker.seedsuggest import format_suggestions, suggest_terms

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read seed article: {exc}", path=str(file)) from None
    topics_found = ctx.topic_set().topics
    click.echo(format_suggestions(suggest_terms(text, topics_found)))


@cli.command()
@click.option("--topic", default=None, help="Only this topic.")
@pass_context
def rescore(ctx: Context, topic: str | None) -> None:
    """Re-match stored items after a topic change; print what changed."""
    topic_set = ctx.topic_set()
    forced = topic_set.only(topic).names
    with ctx.open_store() as store:
        changes = rescore_changed_topics(store, topic_set, utcnow(), force=forced)
    for change in changes:
        mark = "+ flagged  " if change.became_flagged else "- unflagged"
        click.echo(f"{mark} [{change.topic}] {change.title}")
    flagged = sum(c.became_flagged for c in changes)
    click.echo(f"{flagged} became flagged, {len(changes) - flagged} stopped being flagged")


@cli.command()
@click.option("--topic", default=None, help="Only this topic.")
@click.option("--since", default=None, help="Only stories published since this date.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=100, show_default=True, help="At most this many stories.")
@pass_context
def flagged(ctx: Context, topic: str | None, since: str | None, as_json: bool, limit: int) -> None:
    """Flagged follow-up stories, newest first, with their outlets and reasons."""
    since_iso = _parse_since(since)
    with ctx.open_store() as store:
        rows = store.flagged_with_reasons(topic, since_iso, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row['last_published'][:16]}  {row['score']:.2f}  [{row['topic']}] "
            f"{_plain(row['title'])}"
        )
        click.echo(f"    {row['url'] or ''}")
        click.echo(f"    {row['outlets']} outlet(s): {_plain(row['feeds'] or '')}")
        for reason in (row["reasons"] or "").splitlines():
            click.echo(f"    - {_plain(reason)}")
    click.echo(f"{len(rows)} flagged stories")


def _plain(text: str) -> str:
    """Terminal-safe: no control characters (escape sequences) from feed text."""
    return "".join(ch for ch in text if ch.isprintable() or ch == " ")


def _parse_since(since: str | None) -> str | None:
    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise click.BadParameter(
            f"expected a date like 2025-01-31, got {since!r}", param_hint="--since"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@cli.command("eval")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--topic", default=None, help="The topic to evaluate (default: the only one).")
@pass_context
def eval_command(ctx: Context, file: Path, topic: str | None) -> None:
    """Score labeled items: precision, recall, F1, each miss and false flag."""
    from tracker.evaluate import evaluate, format_report, load_labeled

    topic_set = ctx.topic_set()
    if not topic_set.topics:
        raise click.UsageError(f"no topics in {ctx.config.topics_dir}")
    if topic is None and len(topic_set.topics) != 1:
        raise click.UsageError(f"choose a topic with --topic ({', '.join(topic_set.names)})")
    matcher = topic_set.only(topic).matchers[0]
    report = evaluate(matcher, load_labeled(file))
    click.echo(format_report(report))


# ---- service ---------------------------------------------------------------------------


@cli.command()
@click.option(
    "--tick", default=10.0, show_default=True, help="Seconds between checks for feeds that are due."
)
@pass_context
def run(ctx: Context, tick: float) -> None:
    """Run the service: poll feeds on schedule until SIGTERM or Ctrl-C."""
    from tracker.service import run_service

    service_log = logging.getLogger("tracker.service")
    if service_log.getEffectiveLevel() > logging.INFO:
        service_log.setLevel(logging.INFO)  # a service says when it starts, cycles and stops

    ctx.config  # noqa: B018 - validate before starting
    sys.exit(run_service(ctx.config_path, ctx.db_override, tick=tick))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@pass_context
def browse(ctx: Context, host: str, port: int) -> None:
    """Browse the database with Datasette (the live database, while the service writes)."""
    from tracker.browse import serve

    Store(ctx.db_path).close()  # create and migrate it first
    serve(ctx.db_path, ctx.config.directory / "datasette.yml", host, port)


def main() -> None:
    cli(prog_name="tracker")
