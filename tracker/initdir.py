"""``tracker init DIR``: a working set-up of one's own, outside the checkout.

Owns what a new set-up is: one commented ``DIR/tracker.toml`` whose database lives in
``DIR`` and whose topics and seed articles are the ones shipped with tracker (an empty
``topics_dir`` and ``seeds_dir``), so upgrades bring their new versions and a user's
own edits live only in ``DIR``, where no upgrade writes. The feed list is the shipped
default one (or none, ``empty``); the operator's contact goes into the User-Agent.

A folder that already holds files is refused unless ``force``; even then a file that
exists is kept as it is, never overwritten.

Must not: touch the network or the database, or print (the CLI does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tracker import shipped
from tracker.config import check_contact, parse_config, write_atomically
from tracker.errors import ConfigError

CONFIG_NAME = "tracker.toml"
DB_NAME = "tracker.db"
_SHIPPED_SECTIONS = "# ---- Alerts"  # the shipped config's alerts and feeds, from here on
_FEEDS_SECTION = "# ---- Feeds"

_HEADER = """\
# tracker configuration, written by `tracker init`: the settings, the alert sinks and
# the feeds to watch. Every setting and its default is in the README ("Configuration").
#
# Durations are written like "30s", "15m", "1h" or "1d"; sizes like "15MiB". Relative
# paths are resolved against the folder of this file (or the folder above it, when
# this file is in a folder named config/). Edit freely: upgrading tracker never
# writes here. `tracker --config THIS_FILE feeds add URL` edits the [[feeds]] list and
# keeps these comments.

[settings]
# the SQLite database, beside this file
db_path = "{db}"
# your web page or e-mail address: sent in every request's User-Agent, so that
# publishers who see your traffic can reach you
contact = {contact}
# how often a feed is polled unless its entry says otherwise
interval = "15m"

# Topics and seed articles: empty means those shipped with tracker, which each
# upgrade brings up to date. To edit a topic or write your own, copy the shipped
# files into folders here (`tracker topics check` prints where they are) and name them:
#   topics_dir = "topics"
#   seeds_dir = "seeds"
topics_dir = ""
seeds_dir = ""


"""

_NO_FEEDS = """\
# ---- Feeds --------------------------------------------------------------------------
# None yet. Add one with `tracker --config THIS_FILE feeds add URL` (a feed, or a web
# page that links to its feed), or import a feed reader's list with `feeds import-opml`.

"""


@dataclass(frozen=True)
class InitResult:
    """What ``init`` did: the files it wrote and those it found and kept."""

    config_path: Path
    written: tuple[Path, ...]
    kept: tuple[Path, ...]


def config_text(shipped_config: str, contact: str, *, empty: bool) -> str:
    """The new config: settings for a folder of its own, then the shipped alerts
    section and (unless ``empty``) the shipped feed list with its comments."""
    header = _HEADER.format(db=DB_NAME, contact=json.dumps(contact, ensure_ascii=False))
    rest = shipped_config.partition(_SHIPPED_SECTIONS)
    sections = rest[1] + rest[2] if rest[1] else ""
    if empty:
        sections = sections.partition(_FEEDS_SECTION)[0].rstrip() + "\n\n\n" + _NO_FEEDS
    return header + sections


def init_dir(
    directory: Path, contact: str, *, empty: bool = False, force: bool = False
) -> InitResult:
    """Write a set-up into ``directory``; ``ConfigError`` if it is not an empty folder
    (and not ``force``) or the contact is not a web or e-mail address."""
    contact = check_contact(contact, key="--contact")
    _check_folder(directory, force=force)
    config_path = directory / CONFIG_NAME
    if config_path.exists():
        return InitResult(config_path, (), (config_path,))
    text = config_text(shipped.default_config().read_text(encoding="utf-8"), contact, empty=empty)
    parse_config(text.encode("utf-8"), config_path)  # never write a config that would not load
    directory.mkdir(parents=True, exist_ok=True)
    _write_new(config_path, text)
    return InitResult(config_path, (config_path,), ())


def _check_folder(directory: Path, *, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise ConfigError("not a folder", path=str(directory))
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise ConfigError(
            "folder is not empty; use --force to add what is missing "
            "(files already there are never overwritten)",
            path=str(directory),
        )


def _write_new(path: Path, text: str) -> None:
    """Write a file that did not exist; refuse if one appeared meanwhile."""
    try:
        with path.open("x", encoding="utf-8"):
            pass
    except FileExistsError:
        raise ConfigError("appeared while writing; kept as it is", path=str(path)) from None
    write_atomically(path, text)
