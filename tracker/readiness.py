"""Whether a set-up can do anything at all: the gaps that make a run a silent no-op.

Owns the wording of "no feeds configured" and "no topics", said at WARNING when
``tracker run`` starts and shown by ``tracker status``, so that a config that names a
missing or empty topics folder, or has no feeds, never runs for ever unnoticed.

Must not: read a file (it only asks whether the topics folder exists), open the
database or log (the service and the CLI do).
"""

from __future__ import annotations

from pathlib import Path


def setup_gaps(feeds: int, topics: int, topics_dir: Path) -> tuple[str, ...]:
    """One sentence per thing the set-up lacks; empty when it has feeds and topics."""
    gaps: list[str] = []
    if feeds == 0:
        gaps.append("no feeds configured: nothing will be polled (add one: tracker feeds add URL)")
    if topics == 0:
        where = "does not exist" if not topics_dir.is_dir() else "has no topic files"
        gaps.append(
            f"no topics: {topics_dir} {where}, so nothing will be flagged "
            "(set topics_dir in [settings], or leave it empty for the shipped topics)"
        )
    return tuple(gaps)
