"""Log configuration for the CLI and the service (stdlib logging only).

Readable ``time level name: message key=value`` lines by default, or one JSON
object per line with ``--log-format json``. Only the CLI calls this; modules
just use ``logging.getLogger(__name__)``.

Two markers a record may carry (``extra=``): ``once(key)`` makes a repeated message
(a config warning seen at every reload) appear once per process, whoever logs it and
however it is worded (the CLI and the service say the same warning); ``USER`` marks a
message to the user (the CLI's warnings and errors), shown as ``tracker: error:
...`` in text and as JSON like every other line with ``--log-format json``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

USER = {"user": True}


def once(key: str, *, user: bool = False) -> dict[str, object]:
    """``extra=`` for a record shown once per process per ``key``."""
    return {"once": key, "user": user}


class OnceFilter(logging.Filter):
    """Lets a record marked ``once`` through only the first time its message is seen."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        marker = getattr(record, "once", None)
        if not isinstance(marker, str):
            return True
        key = (record.levelno, marker)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``; a message to the user as ``tracker: level: ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "user", False):
            return f"tracker: {record.levelname.lower()}: {record.getMessage()}"
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(verbose: int, log_format: str) -> None:
    level = logging.WARNING - 10 * min(verbose, 2) if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(OnceFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # A cycle longer than a tick makes APScheduler warn that it skipped a run; that is
    # the intended coalescing, not a problem.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
