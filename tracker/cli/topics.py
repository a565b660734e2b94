"""``tracker topics``, ``seed``, ``rescore``, ``flagged`` and ``eval``: topics and
what they flag."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from tracker.cli.base import Context, cli, pass_context
from tracker.errors import ConfigError, TrackerError
from tracker.poll import utcnow
from tracker.topicset import rescore_changed_topics

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
