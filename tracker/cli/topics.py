"""``tracker topics``, ``seed``, ``rescore``, ``flagged`` and ``eval``: topics and
what they flag."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import click

from tracker.cli.base import SINCE, Context, cli, fail, log, pass_context, plain
from tracker.errors import SeedError, TrackerError
from tracker.logs import USER
from tracker.models import FetchResult, RescoreChange, TermWarning
from tracker.poll import utcnow
from tracker.seedsuggest import Suggestion
from tracker.topicset import (
    TopicSet,
    check_topic_edit,
    preview_changed_topics,
    rescore_changed_topics,
)
from tracker.urls import is_http_url, redact_url

# ---- topics ----------------------------------------------------------------------------


@cli.group()
def topics() -> None:
    """Check the topic files."""


@topics.command("check", epilog="Example: tracker topics check --preview")
@click.option("--preview", is_flag=True, help="Also list what would become flagged or unflagged.")
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=click.IntRange(min=1),
    help="Window for terms that stopped matching.",
)
@pass_context
def topics_check(ctx: Context, preview: bool, days: int) -> None:
    """Validate every topic file and warn about terms that are probably mistakes
    (regular expressions, one- and two-letter words, common words, terms that stopped
    matching); exit 1 on errors. With --preview, list the stored items the edit would
    flag or unflag, writing nothing.

    Example: tracker topics check --preview
    """
    from tracker.topics import check_topics

    errors: list[TrackerError] = list(check_topics(ctx.config.topics_dir))
    topic_set = None
    if not errors:
        try:
            topic_set = ctx.topic_set()
        except TrackerError as exc:
            errors = [exc]
    for error in errors:
        log.error("%s", error, extra=USER)
    if topic_set is None:
        sys.exit(1)
    for topic in topic_set.topics:
        click.echo(f"ok   {topic.name}: {len(topic.groups)} groups ({topic.path})")
    for warning in _term_warnings(ctx, topic_set, days):
        click.echo(f"warning: {warning}")
    if preview:
        _preview(ctx, topic_set)


def _term_warnings(ctx: Context, topic_set: TopicSet, days: int) -> list[TermWarning]:
    from tracker.topiclint import lint_topic, stale_terms

    warnings: list[TermWarning] = []
    since = utcnow() - timedelta(days=days)
    store = ctx.open_store(read_only=True) if ctx.db_path.exists() else None
    for topic in topic_set.topics:
        lines = Path(topic.path).read_text(encoding="utf-8").splitlines()
        warnings += lint_topic(topic, lines)
        if store is not None:
            recent, older = store.term_item_counts(topic.name, since)
            warnings += stale_terms(topic, recent, older, lines, days)
    if store is not None:
        store.close()
    return warnings


def _preview(ctx: Context, topic_set: TopicSet) -> None:
    """What putting the topics on disk in force would change, and whether a running
    service would hold it back."""
    if not ctx.db_path.exists():
        click.echo(f"no database at {ctx.db_path}: no stored items to preview")
        return
    now = utcnow()
    with ctx.open_store() as store:
        changes = preview_changed_topics(store, topic_set, now)
        check = check_topic_edit(store, topic_set, now, ctx.config.settings)
    _print_changes(changes, "would be ")
    click.echo("nothing written")
    if check.hold:
        click.echo(f"a running service would hold this edit back: {check.reason()}")


def _print_changes(changes: Sequence[RescoreChange], would: str = "") -> None:
    for change in changes:
        mark = "+ flagged  " if change.became_flagged else "- unflagged"
        click.echo(f"{mark} [{change.topic}] {plain(change.title)}")
    flagged = sum(c.became_flagged for c in changes)
    click.echo(
        f"{flagged} {would or ''}{'flagged' if would else 'became flagged'}, "
        f"{len(changes) - flagged} {'would stop' if would else 'stopped'} being flagged"
    )


@cli.group()
def seed() -> None:
    """Work with seed articles."""


@seed.command(
    "suggest",
    epilog="Example: tracker seed suggest https://example.org/story.html --toml",
)
@click.argument("source")
@click.option("--toml", "as_toml", is_flag=True, help="Print a ready-to-edit topic file.")
@click.option("--name", default=None, help="The topic's name in the TOML (default: from SOURCE).")
@pass_context
def seed_suggest(ctx: Context, source: str, as_toml: bool, name: str | None) -> None:
    """Propose keyword groups from a seed article (a text file, a saved web page or a
    URL), marking those a topic covers; with --toml, print them as a topic file.

    """
    from tracker.seedsuggest import format_suggestions, suggest_terms
    from tracker.seedtext import seed_text

    body, content_type = _read_seed(ctx, source)
    text = seed_text(body, redact_url(source), content_type)
    topics_found = ctx.topic_set().topics
    suggestions = suggest_terms(text, topics_found)
    if not as_toml:
        click.echo(format_suggestions(suggestions) or "nothing to suggest: no names or phrases")
        return
    known = [
        t.text for topic in topics_found for g in (*topic.groups, *topic.entities) for t in g.terms
    ]
    click.echo(_seed_topic(text, suggestions, source, name, known), nl=False)


def _seed_topic(
    text: str, suggestions: list[Suggestion], source: str, name: str | None, known: list[str]
) -> str:
    from tracker.seedtopic import alias_groups, topic_name, topic_toml

    shown = redact_url(source)
    groups = alias_groups(text, suggestions)
    if not groups:
        fail(f"{shown}: no names or recurring words to build a topic from", 2)
    stem = Path(source.split("?")[0].rstrip("/")).stem
    seed = "" if is_http_url(source) else Path(source).name
    title = name or groups[0].title
    return topic_toml(
        groups, name=topic_name(name or stem), title=title, seed=seed, source=shown, known=known
    )


def _read_seed(ctx: Context, source: str) -> tuple[bytes, str]:
    """The seed's bytes and content type: fetched through the guarded fetcher for a
    URL, read (at most a little over the size limit) for a file."""
    from tracker.seedtext import MAX_SEED_BYTES

    if is_http_url(source):
        return _fetch_seed(ctx, source, MAX_SEED_BYTES)
    path = Path(source)
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_SEED_BYTES + 1), ""
    except OSError as exc:
        raise SeedError(f"cannot read seed article: {exc.strerror}", path=source) from None


def _fetch_seed(ctx: Context, url: str, limit: int) -> tuple[bytes, str]:
    import asyncio
    import dataclasses

    from tracker.fetch import Fetcher
    from tracker.models import FetchRequest

    settings = dataclasses.replace(ctx.config.settings, max_bytes=limit)

    async def fetch() -> FetchResult:
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(FetchRequest(url))

    result = asyncio.run(fetch())
    if not result.ok:
        raise SeedError(f"cannot fetch the seed: {result.error}", path=redact_url(url))
    return result.body, result.headers.get("content-type", "")


@cli.command(epilog="Example: tracker rescore --topic us-taliban --dry-run")
@click.option("--topic", default=None, help="Only this topic.")
@click.option("--dry-run", is_flag=True, help="List what would change; write nothing.")
@click.option(
    "--confirm",
    is_flag=True,
    help="Apply an edit that flags many recent items (one a running service held back).",
)
@pass_context
def rescore(ctx: Context, topic: str | None, dry_run: bool, confirm: bool) -> None:
    """Re-match stored items after a topic change; print what changed.

    An edit that would flag more than topic_guard_share of the recent items is
    refused (and held back by a running service) until --confirm.

    Example: tracker rescore --dry-run, then tracker rescore --confirm
    """
    if dry_run and confirm:
        raise click.UsageError("--dry-run and --confirm exclude each other")
    topic_set = ctx.topic_set()
    forced = topic_set.only(topic).names
    now = utcnow()
    with ctx.open_store() as store:
        if dry_run:
            _print_changes(preview_changed_topics(store, topic_set, now, force=forced), "would be ")
            click.echo("nothing written")
            return
        check = check_topic_edit(store, topic_set, now, ctx.config.settings)
        if check.hold and not confirm:
            fail(f"not rescored: {check.reason()}", 1)
        changes = rescore_changed_topics(
            store, topic_set, now, force=forced, surges=ctx.config.developments
        )
    _print_changes(changes)


@cli.command(
    epilog="Examples:\n\n  tracker flagged --since 7d\n\n"
    "  tracker flagged --topic us-taliban --since 2025-01-31 --json"
)
@click.option("--topic", default=None, help="Only this topic.")
@click.option(
    "--since",
    type=SINCE,
    default=None,
    help="Only stories published since then: 7d, 24h or a date (2025-01-31).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=100, show_default=True, help="At most this many stories.")
@pass_context
def flagged(ctx: Context, topic: str | None, since: str | None, as_json: bool, limit: int) -> None:
    """Flagged follow-up stories, newest first, with their outlets and reasons."""
    if topic is not None:
        ctx.topic_set().only(topic)  # a topic that does not exist is a mistake, not "0 stories"
    with ctx.open_store(read_only=True) as store:
        rows = store.flagged_with_reasons(topic, since, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row['last_published'][:16]}  {row['score']:.2f}  [{row['topic']}] "
            f"{plain(row['title'])}"
        )
        click.echo(f"    {row['url'] or ''}")
        click.echo(f"    {row['outlets']} outlet(s): {plain(row['publishers'] or '')}")
        for reason in (row["reasons"] or "").splitlines():
            click.echo(f"    - {plain(reason)}")
    click.echo(f"{len(rows)} flagged {'story' if len(rows) == 1 else 'stories'}")


@cli.command(
    "eval",
    epilog="Example: tracker eval tests/data/eval/dev-labeled.yaml --topic us-taliban"
    "\n\nThe file's format is in the README (tracker eval).",
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--topic", default=None, help="The topic to evaluate (default: the only one).")
@click.option("--reviews", is_flag=True, help="Score the topics against the analysts' reviews.")
@click.option(
    "--export",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --reviews: write the reviewed items to this labeled YAML file.",
)
@pass_context
def eval_command(
    ctx: Context, file: Path | None, topic: str | None, reviews: bool, export: Path | None
) -> None:
    """Score labeled items (FILE) or the reviews: precision, recall, F1, each miss
    and false flag."""
    from tracker.evaluate import evaluate, format_report, load_labeled

    if reviews == (file is not None):
        raise click.UsageError("give a labeled FILE or --reviews (one of them)")
    if export is not None and not reviews:
        raise click.UsageError("--export goes with --reviews")
    topic_set = ctx.topic_set()
    if not topic_set.topics:
        raise click.UsageError(f"no topics in {ctx.config.topics_dir}")
    if file is None:
        from tracker.cli.review import eval_reviews

        click.echo(eval_reviews(ctx, topic, export))
        return
    if topic is None and len(topic_set.topics) != 1:
        raise click.UsageError(f"choose a topic with --topic ({', '.join(topic_set.names)})")
    matcher = topic_set.only(topic).matchers[0]
    report = evaluate(matcher, load_labeled(file))
    click.echo(format_report(report))
