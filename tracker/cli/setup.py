"""``tracker init``: a set-up of one's own, and the three commands that come next."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from tracker.cli.base import cli
from tracker.initdir import init_dir

_CONTACT_PROMPT = (
    "Your contact, a web page or an e-mail address (sent to publishers in the "
    "User-Agent so they can reach you; empty for none)"
)


@cli.command(
    epilog="Example: tracker init ~/newsdesk --contact desk@example.org"
    "\n\nthen: tracker --config ~/newsdesk/tracker.toml run"
)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--contact", default=None, help="Your web page or e-mail, for the User-Agent.")
@click.option("--empty", is_flag=True, help="Start with no feeds instead of the default list.")
@click.option("--force", is_flag=True, help="Add what is missing to a folder with files in it.")
def init(directory: Path, contact: str | None, empty: bool, force: bool) -> None:
    """Write a working set-up into DIRECTORY: a commented tracker.toml, its database
    beside it, the shipped topics (kept current by upgrades)."""
    if contact is None:
        contact = _ask_contact()
    result = init_dir(directory, contact, empty=empty, force=force)
    for path in result.written:
        click.echo(f"wrote {path}")
    for path in result.kept:
        click.echo(f"kept {path} (it exists; not overwritten)")
    if result.written and not contact:
        click.echo('no contact set: add `contact = "..."` under [settings] when you can')
    _print_next(result.config_path, empty=empty)


def _ask_contact() -> str:
    if not sys.stdin.isatty():
        return ""
    answer: str = click.prompt(_CONTACT_PROMPT, default="", show_default=False)
    return answer


def _print_next(config_path: Path, *, empty: bool) -> None:
    base = f"tracker --config {shlex.quote(str(config_path))}"
    first = f"{base} feeds add URL" if empty else f"{base} poll --once"
    click.echo("next:")
    for command in (first, f"{base} run", f"{base} browse"):
        click.echo(f"  {command}")
