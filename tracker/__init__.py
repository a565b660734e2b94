"""tracker: follow a developing story across news feeds and flag its follow-ups.

The package is layered: pure decisions in the middle (``urls``, ``textnorm``,
``matching``, ``stories``, ``schedule``, ``alerts``), I/O at the edges (``fetch``
over httpx, ``parse`` over feedparser and lxml, run in worker processes by
``parsepool``, ``store`` over sqlite-utils, ``sinks`` delivering alerts,
``service`` over APScheduler, ``cli`` over click, ``browse`` and
``datasette_plugin`` over Datasette), the ``poll`` cycle tying them together,
typed records from ``models`` between them and one exception tree in ``errors``.
"""

__version__ = "0.1.0"
USER_AGENT = f"tracker/{__version__}"  # the fetcher adds the operator's contact
