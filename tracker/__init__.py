"""tracker: follow a developing story across news feeds and flag its follow-ups.

The package is layered: pure decisions in the middle (``urls``, ``matching``,
``rules``, ``stories``, ``schedule``), I/O at the edges (``fetch`` over httpx,
``parse`` over feedparser, ``store`` over sqlite-utils, ``service`` over
APScheduler, ``cli`` over click), typed records from ``models`` between them.
"""

__version__ = "0.1.0"
USER_AGENT = f"tracker/{__version__} (+https://github.com/tracker-news/tracker)"
