"""``tracker run`` (the service) and ``tracker browse`` (Datasette)."""

from __future__ import annotations

import logging
import sys

import click

from tracker.cli.base import Context, cli, pass_context
from tracker.store import Store

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
    metadata = ctx.config.directory / "datasette.yml"
    settings = ctx.config.settings
    serve(
        ctx.db_path,
        metadata,
        host,
        port,
        token=settings.browse_token,
        browse_url=settings.browse_url,
    )
