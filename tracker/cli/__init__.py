"""The ``tracker`` command line (click): the only package that prints.

``base`` holds the group, its options and the error handling (one-line messages, exit
1 when a command found a problem, 2 when tracker cannot work); each other module
registers one area's commands on it: ``polls``, ``feeds``, ``status``, ``topics``
(topics, seeds, rescore, flagged, eval), ``developments`` (developments,
development), ``review`` (review, eval --reviews), ``serve`` (run, browse), ``backup``,
``setup`` (init) and ``maintenance`` (prune, vacuum). A new command goes
in the module of its area, or a new module imported here.

Must not: hold logic of its own beyond parsing options and formatting output.
"""

from __future__ import annotations

from tracker.cli import (
    backup,
    developments,
    feeds,
    maintenance,
    polls,
    review,
    serve,
    setup,
    status,
    topics,
)
from tracker.cli.base import cli

__all__ = [
    "backup",
    "cli",
    "developments",
    "feeds",
    "main",
    "maintenance",
    "polls",
    "review",
    "serve",
    "setup",
    "status",
    "topics",
]


def main() -> None:
    cli(prog_name="tracker")
