"""``tracker run`` (the service) and ``tracker browse`` (Datasette)."""

from __future__ import annotations

import logging
import sys

import click

from tracker import shipped
from tracker.cli.base import Context, cli, pass_context

# ---- service ---------------------------------------------------------------------------


@cli.command(
    epilog="Examples:\n\n  tracker run\n\n  tracker --config ~/newsdesk/tracker.toml run -v"
)
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


@cli.command(epilog="Example: tracker browse --port 8002, then open http://127.0.0.1:8002/")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@pass_context
def browse(ctx: Context, host: str, port: int) -> None:
    """Browse the database with Datasette (the live database, while the service writes)."""
    from tracker.browse import serve

    ctx.open_store(read_only=True).close()  # create or migrate it if need be
    metadata = ctx.config.directory / "datasette.yml"
    settings = ctx.config.settings
    serve(
        ctx.db_path,
        metadata if metadata.is_file() else shipped.datasette_metadata(),
        host,
        port,
        token=settings.browse_token,
        browse_url=settings.browse_url,
    )
