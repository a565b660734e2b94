"""The topics, seed articles, default config and Datasette metadata shipped with
tracker, as package data.

Owns where they are: ``topics/``, ``seeds/``, ``tracker.toml`` and ``datasette.yml``
beside this file. In a checkout they are links to the repository's ``config/topics``,
``seeds``, ``config/tracker.toml`` and ``config/datasette.yml`` (one copy of each
file); in an installed wheel they are copies, so a config that refers to them (an
empty ``topics_dir`` or ``seeds_dir``) gets the new versions with every upgrade,
and a user's own topics, in a folder of their own, are never overwritten.

Must not: read the files (``topics`` and ``topicset`` do) or write anything.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def topics_dir() -> Path:
    """The folder of the shipped topic files."""
    return (_HERE / "topics").resolve()


def seeds_dir() -> Path:
    """The folder of the shipped seed articles."""
    return (_HERE / "seeds").resolve()


def default_config() -> Path:
    """The default config (``config/tracker.toml`` in a checkout): the feed list
    ``tracker init`` starts from."""
    return (_HERE / "tracker.toml").resolve()


def datasette_metadata() -> Path:
    """Tracker's Datasette metadata (``config/datasette.yml`` in a checkout)."""
    return (_HERE / "datasette.yml").resolve()
