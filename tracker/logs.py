"""Log configuration for the CLI and the service (stdlib logging only).

Readable ``time level name: message key=value`` lines by default, or one JSON
object per line with ``--log-format json``. Only the CLI calls this; modules
just use ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


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
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # A cycle longer than a tick makes APScheduler warn that it skipped a run; that is
    # the intended coalescing, not a problem.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
