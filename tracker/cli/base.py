"""The ``tracker`` command line (click): the only package that prints. This module
holds the group, its shared options and the error handling; each command module
registers its commands on ``cli``.

Turns tracker's own errors into one-line messages and exit codes: 1 when the
command ran but found a problem (invalid topics, stale service), 2 when tracker
cannot work (bad config, unusable database, a usage mistake). Long runs show a
progress bar on a terminal and stay quiet in logs and pipes.

Must not: hold logic of its own beyond parsing options and formatting output.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from tracker import __version__, config
from tracker.errors import ConfigError, TrackerError
from tracker.logs import USER, once
from tracker.store import Store
from tracker.topicset import TopicSet, load_topic_set

log = logging.getLogger("tracker")

STALE_AFTER = timedelta(minutes=5)


class CleanErrors(click.Group):
    """A group that shows tracker's errors as one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(str(exc), 2)
        except TrackerError as exc:
            fail(str(exc), 2)
        except KeyboardInterrupt:
            fail("interrupted", 130)


def fail(message: str, code: int) -> NoReturn:
    """One line (JSON with ``--log-format json``) and exit ``code``."""
    log.error("%s", message, extra=USER)
    sys.exit(code)


def warn(message: str) -> None:
    """A warning to the user, once per process (JSON with ``--log-format json``)."""
    log.warning("%s", message, extra=once(message, user=True))


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
                warn(warning)
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


def plain(text: str) -> str:
    """Terminal-safe: no control characters (escape sequences) from feed text."""
    return "".join(ch for ch in text if ch.isprintable() or ch == " ")
