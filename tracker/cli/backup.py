"""``tracker backup``: a checked copy of the live database."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.base import Context, cli, pass_context
from tracker.store.backup import backup_database


@cli.command(epilog="Example: tracker backup /backups/tracker-2026-12-07.db")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_context
def backup(ctx: Context, file: Path, force: bool) -> None:
    """Copy the database to FILE while the service runs, and check the copy."""
    report = backup_database(ctx.db_path, file, force=force)
    click.echo(
        f"backed up {ctx.db_path} to {report.target}: {_size(report.size)}, "
        f"{report.feeds} feeds, {report.items} items, {report.flags} flags; integrity ok"
    )


def _size(size: int) -> str:
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
