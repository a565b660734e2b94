"""Load, validate and edit ``config/tracker.toml``.

Owns the config file format: the ``[settings]``, ``[retention]`` and
``[developments]`` tables, the
``[[feeds]]`` list and the ``[[alerts]]`` sinks (the keys every sink shares here, each
type's own keys as its module registered them in ``tracker.sinks``). Validation is
strict: an unknown key, a wrong type or a bad value raises ``ConfigError`` naming the
file, the line and the key, with a suggestion for a misspelt key (a key of another
sink type is only a warning). Edits (``feeds add/remove/apply-redirects``) go through tomlkit so
the user's comments and layout survive, and are written atomically.

Must not: touch the network or the database, or decide anything about feeds.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomlkit

from tracker import shipped
from tracker.errors import ConfigError
from tracker.models import AlertSink, DevelopmentConfig, FeedConfig, Retention, Settings
from tracker.sinks import SinkType, sink_types
from tracker.urls import is_http_url, redact_url

DEFAULT_CONFIG = "config/tracker.toml"
MIN_INTERVAL = 10.0
WARN_INTERVAL = 60.0
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_DURATION_KEYS = {
    "interval",
    "min_interval",
    "max_interval",
    "connect_timeout",
    "read_timeout",
    "deadline",
    "parse_timeout",
    "digest",
    "topic_guard_window",
    "gone_after",
    "article_delay",
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
# Keys every [[alerts]] entry may have; each sink type adds its own (tracker.sinks).
_ALERT_KEYS = {
    "type": str,
    "name": str,
    "digest": object,
    "topics": list,
    "timeout": object,
    "retries": int,
    "updates": bool,
    "surges": bool,
}
_FEED_KEYS = {
    "url": str,
    "name": str,
    "interval": object,
    "language": str,
    "folder": str,
    "article_text": bool,
}
# A contact is a web page or an e-mail address: it goes into every request's User-Agent.
_EMAIL = re.compile(r"^[^@\s()<>\\]+@[^@\s()<>\\]+\.[^@\s()<>\\]+$")
_SECTIONS = ("settings", "retention", "developments", "feeds", "alerts")
KEEP_FOREVER = "forever"
# The shortest retention of each: polls of under a day would go before the daily prune
# summarised their day; items within the story window (a week) are still compared
# with new items for story placement.
MIN_RETENTION = {"polls": 86400.0, "items": 7 * 86400.0}


@dataclass(frozen=True)
class Config:
    """A validated config file."""

    path: Path
    settings: Settings
    feeds: tuple[FeedConfig, ...]
    alerts: tuple[AlertSink, ...] = ()
    warnings: tuple[str, ...] = ()
    retention: Retention = field(default_factory=Retention)
    developments: DevelopmentConfig = field(default_factory=DevelopmentConfig)

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def db_path(self) -> Path:
        return resolve_relative(self.path, self.settings.db_path)

    @property
    def topics_dir(self) -> Path:
        """The topic files: the shipped ones unless ``topics_dir`` names a folder."""
        if not self.settings.topics_dir:
            return shipped.topics_dir()
        return resolve_relative(self.path, self.settings.topics_dir)

    @property
    def seeds_dir(self) -> Path:
        if not self.settings.seeds_dir:
            return shipped.seeds_dir()
        return resolve_relative(self.path, self.settings.seeds_dir)


def resolve_relative(config_path: Path, value: str) -> Path:
    """Resolve a path setting against the project folder (see ``project_root``);
    this is the one rule for every path a config names."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (project_root(config_path) / path).resolve()


def project_root(config_path: Path) -> Path:
    """The directory config paths like ``db/tracker.db`` are relative to:
    the parent of ``config/`` when the file lives in a ``config`` directory."""
    parent = config_path.resolve().parent
    return parent.parent if parent.name == "config" else parent


def parse_duration(
    value: object, *, path: str = "", key: str = "", line: int | None = None
) -> float:
    """``"15m"`` → 900.0; numbers are seconds."""
    if isinstance(value, bool):
        raise ConfigError("expected a duration like 15m", path=path, line=line, key=key)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise ConfigError(
            f"expected a duration like 15m, 10s, 1h or 1d, got {value!r}",
            path=path,
            line=line,
            key=key,
        )
    if seconds <= 0:
        raise ConfigError("must be positive", path=path, line=line, key=key)
    return seconds


def parse_size(value: object, *, path: str = "", key: str = "", line: int | None = None) -> int:
    """``"15MiB"`` → 15728640; integers are bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and (m := _SIZE.match(value)):
        return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    raise ConfigError(f"expected a size like 15MiB, got {value!r}", path=path, line=line, key=key)


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class _Source:
    """The config text, to find the line a key was written on."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = str(path)
        self.lines = text.splitlines()

    def line_of(self, key: str, section: str = "", index: int = 0) -> int | None:
        start = self._section_start(section, index) if section else 0
        if start is None:
            return None
        pattern = re.compile(
            rf"^\s*(?:[\"']?{re.escape(key)}[\"']?\s*=|\[\[?\s*{re.escape(key)}\s*[\].])"
        )
        for number in range(start, len(self.lines)):
            line = self.lines[number]
            if number > start and section and line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number + 1
        return start + 1 if section else None

    def _section_start(self, section: str, index: int) -> int | None:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(section)}\s*\]\]?")
        seen = [n for n, line in enumerate(self.lines) if header.match(line)]
        return seen[index] if index < len(seen) else (seen[-1] if seen else None)

    def error(self, message: str, key: str, section: str = "", index: int = 0) -> ConfigError:
        qualified = (
            f"{section}[{index}].{key}"
            if section in ("feeds", "alerts")
            else f"{section}.{key}"
            if section
            else key
        )
        return ConfigError(
            message, path=self.path, line=self.line_of(key, section, index), key=qualified
        )


def _unknown(src: _Source, key: str, allowed: Any, section: str, index: int = 0) -> ConfigError:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return src.error(f"unknown key{hint}", key, section, index)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; raise ``ConfigError`` on any problem."""
    config_path = Path(path)
    try:
        raw = config_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(config_path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", path=str(config_path)) from None
    return parse_config(raw, config_path)


def parse_config(raw: bytes, config_path: Path) -> Config:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8", path=str(config_path)) from None
    if not text.strip():
        raise ConfigError("config file is empty", path=str(config_path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _decode_error(exc, config_path) from None
    src = _Source(config_path, text)
    for key in data:
        if key not in _SECTIONS:
            raise _unknown(src, key, _SECTIONS, "")
    warnings: list[str] = []
    settings = _settings(src, data.get("settings", {}))
    feeds = _feeds(src, data.get("feeds", []), warnings)
    alerts = _alerts(src, data.get("alerts", []), warnings)
    retention = _retention(src, data.get("retention", {}))
    developments = _developments(src, data.get("developments", {}))
    return Config(config_path, settings, feeds, alerts, tuple(warnings), retention, developments)


def _decode_error(exc: tomllib.TOMLDecodeError, config_path: Path) -> ConfigError:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(match.group(1)) if match else None
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message) or "invalid TOML"
    return ConfigError(f"invalid TOML: {message}", path=str(config_path), line=line)


def _settings(src: _Source, table: object) -> Settings:
    if not isinstance(table, dict):
        raise src.error("expected a table", "settings")
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown(src, key, known, "settings")
        values[key] = _setting_value(src, key, value, type(getattr(Settings(), key)))
    return Settings(**values)


def _setting_value(src: _Source, key: str, value: object, kind: type) -> object:
    line = src.line_of(key, "settings")
    if key in _DURATION_KEYS:
        return parse_duration(value, path=src.path, key=f"settings.{key}", line=line)
    if key in ("max_bytes", "article_max_bytes"):
        return parse_size(value, path=src.path, key=f"settings.{key}", line=line)
    if kind is float:
        return _share(src, key, value)
    if key == "contact" and isinstance(value, str):
        return check_contact(value, path=src.path, line=line)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise src.error("expected a positive integer", key, "settings")
    if kind is bool and not isinstance(value, bool):
        raise src.error("expected true or false", key, "settings")
    if kind is str and not isinstance(value, str):
        raise src.error("expected a string", key, "settings")
    return value


def _share(src: _Source, key: str, value: object) -> float:
    """A share of items, from 0 (hold back every edit that flags more) to 1 (never)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise src.error(
            f"expected a share between 0 and 1 (like 0.05), got {value!r}", key, "settings"
        )
    return float(value)


def _retention(src: _Source, table: object) -> Retention:
    if not isinstance(table, dict):
        raise src.error("expected a table", "retention")
    known = {f.name for f in fields(Retention)}
    values: dict[str, float | None] = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown(src, key, known, "retention")
        values[key] = _kept_for(src, key, value)
    return Retention(**values)


def _developments(src: _Source, table: object) -> DevelopmentConfig:
    if not isinstance(table, dict):
        raise src.error("expected a table", "developments")
    known = {f.name for f in fields(DevelopmentConfig)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown(src, key, known, "developments")
        values[key] = _development_value(src, key, value)
    return DevelopmentConfig(**values)


def _development_value(src: _Source, key: str, value: object) -> object:
    if key == "surge_window":
        line = src.line_of(key, "developments")
        return parse_duration(value, path=src.path, key=f"developments.{key}", line=line)
    if key == "surge_languages" and not isinstance(value, bool):
        raise src.error("expected true or false", key, "developments")
    if key == "surge_outlets" and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise src.error("expected a whole number of outlets, 0 to turn off", key, "developments")
    return value


def _kept_for(src: _Source, key: str, value: object) -> float | None:
    """A retention period: a duration of at least a day, or ``"forever"``."""
    if value == KEEP_FOREVER:
        return None
    if isinstance(value, str) and value.strip().startswith("-"):
        raise src.error(
            f"must be a positive duration like 90d or {KEEP_FOREVER!r}", key, "retention"
        )
    line = src.line_of(key, "retention")
    seconds = parse_duration(value, path=src.path, key=f"retention.{key}", line=line)
    if seconds < MIN_RETENTION[key]:
        shortest = format_duration(MIN_RETENTION[key])
        raise src.error(f"must be at least {shortest}, or {KEEP_FOREVER!r}", key, "retention")
    return seconds


def _feeds(src: _Source, entries: object, warnings: list[str]) -> tuple[FeedConfig, ...]:
    if not isinstance(entries, list):
        raise src.error("expected [[feeds]] entries", "feeds")
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        feed = _feed(src, entry, index, warnings)
        shown = redact_url(feed.url)  # the database knows a feed by this form
        if shown in seen:
            raise src.error(f"duplicate feed URL {shown}", "url", "feeds", index)
        seen.add(shown)
        feeds.append(feed)
    return tuple(feeds)


def _feed(src: _Source, entry: object, index: int, warnings: list[str]) -> FeedConfig:
    if not isinstance(entry, dict):
        raise src.error("expected a table", "feeds")
    for key, value in entry.items():
        if key not in _FEED_KEYS:
            raise _unknown(src, key, _FEED_KEYS, "feeds", index)
        if _FEED_KEYS[key] is str and not isinstance(value, str):
            raise src.error("expected a string", key, "feeds", index)
        if _FEED_KEYS[key] is bool and not isinstance(value, bool):
            raise src.error("expected true or false", key, "feeds", index)
    url = entry.get("url")
    if not url:
        raise src.error("every feed needs a url", "url", "feeds", index)
    if not is_http_url(url):
        raise src.error(
            f"only http and https URLs can be polled: {redact_url(url)}", "url", "feeds", index
        )
    interval = None
    if "interval" in entry:
        interval = check_interval(
            entry["interval"],
            path=src.path,
            key=f"feeds[{index}].interval",
            line=src.line_of("interval", "feeds", index),
        )
        if interval < WARN_INTERVAL:
            warnings.append(
                f"{src.path}: feeds[{index}].interval: polling {redact_url(url)} every "
                f"{format_duration(interval)} is aggressive; servers may block it"
            )
    return FeedConfig(
        url=url.strip(),
        name=entry.get("name", ""),
        interval=interval,
        language=entry.get("language", ""),
        folder=entry.get("folder", ""),
        article_text=entry.get("article_text", True),
    )


def check_contact(
    value: str, *, path: str = "", line: int | None = None, key: str = "settings.contact"
) -> str:
    """An http(s) URL or an e-mail address, for the User-Agent; "" for none."""
    contact = value.strip()
    if contact and not (is_http_url(contact) or _EMAIL.match(contact)):
        raise ConfigError(
            f"expected a web address (https://...) or an e-mail address, got {value!r}",
            path=path,
            line=line,
            key=key,
        )
    return contact


def check_interval(
    value: object, *, path: str = "", key: str = "interval", line: int | None = None
) -> float:
    seconds = parse_duration(value, path=path, key=key, line=line)
    if seconds < MIN_INTERVAL:
        raise ConfigError(f"must be at least {MIN_INTERVAL:g}s", path=path, line=line, key=key)
    return seconds


def _alerts(src: _Source, entries: object, warnings: list[str]) -> tuple[AlertSink, ...]:
    if not isinstance(entries, list):
        raise src.error("expected [[alerts]] entries", "alerts")
    return tuple(_alert(src, entry, index, warnings) for index, entry in enumerate(entries))


def _alert(src: _Source, entry: object, index: int, warnings: list[str]) -> AlertSink:
    if not isinstance(entry, dict):
        raise src.error("expected a table", "alerts")
    sink_type = _alert_type(src, entry, index)
    for key, value in entry.items():
        expected = _ALERT_KEYS.get(key) or _sink_key_kind(sink_type, key)
        if expected is None:
            _other_type_key(src, key, sink_type, index, warnings)
            continue
        if expected is not object and not isinstance(value, expected):
            raise src.error(f"expected a {expected.__name__}", key, "alerts", index)

    def duration(key: str, default: float | None) -> float | None:
        if key not in entry:
            return default
        return parse_duration(
            entry[key],
            path=src.path,
            key=f"alerts[{index}].{key}",
            line=src.line_of(key, "alerts", index),
        )

    return AlertSink(
        type=sink_type.name,
        settings=_sink_settings(src, entry, index, sink_type),
        name=entry.get("name", ""),
        digest=duration("digest", None),
        topics=_strings(src, entry, "topics", index),
        timeout=duration("timeout", 10.0) or 10.0,
        retries=entry.get("retries", 3),
        updates=entry.get("updates", False),
        surges=entry.get("surges", False),
    )


def _alert_type(src: _Source, entry: dict[str, Any], index: int) -> SinkType[Any]:
    types = sink_types()
    kind = entry.get("type", "")
    if not isinstance(kind, str) or kind not in types:
        raise src.error(f"type must be one of {', '.join(sorted(types))}", "type", "alerts", index)
    return types[kind]


def _sink_key_kind(sink_type: SinkType[Any], key: str) -> type | None:
    spec = sink_type.keys.get(key)
    return spec.kind if spec else None


def _other_type_key(
    src: _Source, key: str, sink_type: SinkType[Any], index: int, warnings: list[str]
) -> None:
    """A key of another sink type is ignored with a warning (files that set it keep
    working); any other unknown key is an error."""
    users = [name for name, other in sink_types().items() if key in other.keys]
    if not users:
        raise _unknown(src, key, [*_ALERT_KEYS, *sink_type.keys], "alerts", index)
    message = f"ignored: only {' and '.join(users)} alerts use it, not {sink_type.name}"
    warnings.append(str(src.error(message, key, "alerts", index)))


def _sink_settings(
    src: _Source, entry: dict[str, Any], index: int, sink_type: SinkType[Any]
) -> object:
    """The sink type's own record, from its keys (already type-checked)."""
    values: dict[str, Any] = {}
    for key, spec in sink_type.keys.items():
        value = entry.get(key)
        if spec.kind is list and value is not None:
            value = _strings(src, entry, key, index)
        if spec.required and (value is None or value in ("", ())):
            raise src.error(f"required for type = {sink_type.name!r}", key, "alerts", index)
        if value is not None:
            values[spec.field_for(key)] = value
    return sink_type.settings(**values)


def _strings(src: _Source, entry: dict[str, Any], key: str, index: int) -> tuple[str, ...]:
    values = entry.get(key, ())
    if not all(isinstance(value, str) for value in values):
        raise src.error("expected a list of strings", key, "alerts", index)
    return tuple(values)


# ---- editing, keeping the user's comments ---------------------------------------------


def add_feed(path: Path, feed: FeedConfig) -> None:
    """Append a ``[[feeds]]`` entry; ``ConfigError`` if the URL is already there."""
    document = _edit_document(path)
    feeds = document.get("feeds")
    if not isinstance(feeds, tomlkit.items.AoT):
        feeds = document["feeds"] = tomlkit.aot()
    if any(str(entry.get("url")) == feed.url for entry in feeds):
        raise ConfigError(
            f"feed already configured: {redact_url(feed.url)}", path=str(path), key="feeds"
        )
    entry = tomlkit.table()
    entry["url"] = feed.url
    if feed.name:
        entry["name"] = feed.name
    if feed.interval is not None:
        entry["interval"] = format_duration(feed.interval)
    if feed.language:
        entry["language"] = feed.language
    if feed.folder:
        entry["folder"] = feed.folder
    if not feed.article_text:
        entry["article_text"] = False
    feeds.append(entry)
    _write_checked(path, tomlkit.dumps(document))


def remove_feed(path: Path, url: str) -> None:
    """Remove the ``[[feeds]]`` entry with this URL; ``ConfigError`` if absent."""
    remove_feeds(path, [url])


def remove_feeds(path: Path, urls: list[str]) -> None:
    """Remove the ``[[feeds]]`` entries with these URLs in one write; ``ConfigError``
    (and nothing written) if any of them is not configured."""
    document = _edit_document(path)
    feeds = document.get("feeds", [])
    present = {str(entry.get("url")) for entry in feeds}
    for url in urls:
        if url not in present:
            raise ConfigError(f"no such feed: {redact_url(url)}", path=str(path), key="feeds")
    gone = set(urls)
    for index in reversed(range(len(feeds))):
        if str(feeds[index].get("url")) in gone:
            del feeds[index]
    if not len(feeds) and "feeds" in document:
        del document["feeds"]  # tomlkit would write an empty array it cannot append to
    _write_checked(path, tomlkit.dumps(document))


def move_feeds(path: Path, moves: dict[str, str]) -> None:
    """Give the ``[[feeds]]`` entries of ``moves``' keys their new URLs, keeping every
    other key, comment and line as it was; ``ConfigError`` if one is absent."""
    document = _edit_document(path)
    entries = {str(entry.get("url")): entry for entry in document.get("feeds", [])}
    for old, new in moves.items():
        if old not in entries:
            raise ConfigError(f"no such feed: {redact_url(old)}", path=str(path), key="feeds")
        entries[old]["url"] = new
    _write_checked(path, tomlkit.dumps(document))


def _edit_document(path: Path) -> tomlkit.TOMLDocument:
    load_config(path)  # never edit a file that is already invalid
    return tomlkit.parse(path.read_text(encoding="utf-8"))


def _write_checked(path: Path, text: str) -> None:
    parse_config(text.encode("utf-8"), path)
    write_atomically(path, text)


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
