"""``tracker topics``, ``seed``, ``rescore``, ``flagged`` and ``eval``: topics and
what they flag."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tracker.cli.base import SINCE, Context, cli, pass_context, plain
from tracker.errors import ConfigError, TrackerError
from tracker.poll import utcnow
from tracker.topicset import rescore_changed_topics

# ---- topics ----------------------------------------------------------------------------


@cli.group()
def topics() -> None:
    """Check the topic files."""


@topics.command("check", epilog="Example: tracker topics check")
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


@seed.command("suggest", epilog="Example: tracker seed suggest seeds/article.txt")
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


@cli.command(epilog="Example: tracker rescore --topic us-taliban")
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
        click.echo(f"    {row['outlets']} outlet(s): {plain(row['feeds'] or '')}")
        for reason in (row["reasons"] or "").splitlines():
            click.echo(f"    - {plain(reason)}")
    click.echo(f"{len(rows)} flagged {'story' if len(rows) == 1 else 'stories'}")


@cli.command(
    "eval",
    epilog="Example: tracker eval tests/data/eval/dev-labeled.yaml --topic us-taliban"
    "\n\nThe file's format is in the README (tracker eval).",
)
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
