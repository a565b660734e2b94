"""The ``tracker`` command line (click): the only package that prints.

``base`` holds the group, its options and the error handling (one-line messages, exit
1 when a command found a problem, 2 when tracker cannot work); each other module
registers one area's commands on it: ``polls``, ``feeds``, ``status``, ``topics``
(topics, seeds, rescore, flagged, eval), ``developments`` (developments,
development) and ``serve`` (run, browse). A new command goes
in the module of its area, or a new module imported here.

Must not: hold logic of its own beyond parsing options and formatting output.
"""

from __future__ import annotations

from tracker.cli import developments, feeds, polls, serve, status, topics
from tracker.cli.base import cli

__all__ = ["cli", "developments", "feeds", "main", "polls", "serve", "status", "topics"]


def main() -> None:
    cli(prog_name="tracker")
