"""feedparser's private names that tracker borrows are still where it takes them from.

The fast path (tracker/parse/fastpath.py) gives feedparser's results by applying
feedparser's own rules, which tracker/parse/feedparser_adapter.py imports from inside
feedparser (``_parse_date``, ``_cp1252``, ``_FeedParserMixin``, ``_urifixer``...). A
feedparser release may move or drop any of them; this test says which one and which
version, instead of an ImportError in every parse worker. It reads the adapter's
source rather than importing it, so it names the missing name even when the import
would fail.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import feedparser
import pytest

ADAPTER = Path(__file__).resolve().parent.parent / "tracker" / "parse" / "feedparser_adapter.py"
# What the fast path needs today; the scan below must find at least these.
KNOWN_BORROWED = {
    "feedparser.datetimes._parse_date",
    "feedparser.datetimes.rfc822.timezone_names",
    "feedparser.mixin._cp1252",
    "feedparser.mixin._FeedParserMixin",
    "feedparser.mixin._FeedParserMixin.looks_like_html",
    "feedparser.mixin._FeedParserMixin.map_content_type",
    "feedparser.urls._urifixer",
}


def borrowed_names(source: str) -> set[str]:
    """Dotted paths of what ``source`` takes from inside feedparser: each name imported
    from a feedparser module, and each attribute read on such a name."""
    tree = ast.parse(source)
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "feedparser":
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    attributes = {
        f"{imported[node.value.id]}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in imported
    }
    return {*imported.values(), *attributes}


def resolves(dotted: str) -> bool:
    """Whether ``dotted`` names a module, or an attribute reached from one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def check_borrowed(source: str) -> None:
    missing = sorted(name for name in borrowed_names(source) if not resolves(name))
    assert not missing, (
        f"feedparser {feedparser.__version__} has no {', '.join(missing)}: "
        "tracker/parse/feedparser_adapter.py borrows them for the fast path. Find where "
        "this feedparser keeps them (then check the fast path still gives feedparser's "
        "results: tests/test_parse.py), or pin feedparser to a version that has them."
    )


def test_the_adapter_borrows_the_names_the_fast_path_needs() -> None:
    assert borrowed_names(ADAPTER.read_text(encoding="utf-8")) >= KNOWN_BORROWED


def test_installed_feedparser_has_every_private_name_the_adapter_borrows() -> None:
    check_borrowed(ADAPTER.read_text(encoding="utf-8"))


def test_a_moved_name_is_named_with_the_feedparser_version() -> None:
    source = (
        "from feedparser.urls import _urifixer\n"
        "from feedparser.mixin import _FeedParserMixin, _moved_away\n"
        "_FeedParserMixin.no_such_rule\n"
    )
    with pytest.raises(AssertionError) as failure:
        check_borrowed(source)
    message = str(failure.value)
    assert f"feedparser {feedparser.__version__} has no" in message
    assert "feedparser.mixin._moved_away" in message
    assert "feedparser.mixin._FeedParserMixin.no_such_rule" in message
    assert "_urifixer" not in message
