"""``tracker review``: an analyst's review of a flag from the command line, and the
reviews half of ``tracker eval`` (``--reviews``, ``--export``)."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from tracker.cli.base import Context, cli, pass_context
from tracker.errors import ReviewError
from tracker.models import Review
from tracker.poll import utcnow


@cli.command(
    epilog='Example: tracker review https://example.org/story.html --wrong --note "Russia, not US"'
)
@click.argument("url")
@click.option("--right", "label", flag_value="right", help="The flag is right.")
@click.option("--wrong", "label", flag_value="wrong", help="The flag is wrong: off the desk.")
@click.option("--important", "label", flag_value="important", help="Right, and important.")
@click.option("--note", default="", help="A note kept with the review.")
@click.option("--topic", default="", help="Only for this topic (default: every topic).")
@click.option("--story", is_flag=True, help="Review every copy of the item's story.")
@click.option("--development", is_flag=True, help="Review every report of the item's development.")
@pass_context
def review(
    ctx: Context,
    url: str,
    label: str | None,
    note: str,
    topic: str,
    story: bool,
    development: bool,
) -> None:
    """Mark the flag of the item at URL right, wrong or important."""
    if label is None:
        raise click.UsageError("say --right, --wrong or --important")
    if story and development:
        raise click.UsageError("--story and --development exclude each other")
    with ctx.open_store() as store:
        item_id = store.find_item(url)
        if item_id is None:
            raise ReviewError(f"no stored item has the URL {url}")
        record = Review(
            item_id=item_id,
            label=label,
            scope="development" if development else "story" if story else "flag",
            topic=topic,
            note=note,
            reviewer=_reviewer(),
            source="cli",
        )
        store.add_review(record, utcnow())
    click.echo(f"reviewed {label}: {url}")


def _reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return ""


def eval_reviews(ctx: Context, topic: str | None, export: Path | None) -> str:
    """The report of ``tracker eval --reviews``: every topic (or ``topic``) scored
    against the reviews; with ``export``, the reviewed items written there as YAML."""
    from tracker.evaluate import dump_labeled, evaluate, format_report, from_reviews

    topic_set = ctx.topic_set().only(topic)
    with ctx.open_store() as store:
        reviewed = store.reviewed_items()
    if not reviewed:
        raise ReviewError("no reviews yet: mark flags on the desk or with `tracker review`")
    sections: list[str] = []
    for name, matcher in zip(topic_set.names, topic_set.matchers, strict=True):
        labeled = from_reviews(reviewed, name)
        sections.append(f"== {name}: {len(labeled)} reviewed items")
        if labeled:
            sections.append(format_report(evaluate(matcher, labeled)))
        if export is not None:
            _export(export, name, len(topic_set.names), dump_labeled(labeled))
    return "\n".join(sections)


def _export(path: Path, topic: str, topics: int, text: str) -> None:
    target = path if topics == 1 else path.with_name(f"{path.stem}-{topic}{path.suffix}")
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}", err=True)
