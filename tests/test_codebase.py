"""The codebase keeps its own rules: lint, strict types, one third-party library per
module, no reads of files outside the repository."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "tracker"

# The only module allowed to import each third-party library (a package owns it for
# all of its modules: "store" is tracker/store.py or any module of tracker/store/).
OWNERS = {
    "httpx": {"fetch", "sinks"},
    "feedparser": {"parse.feedparser_adapter"},
    "lxml": {"parse.fastpath"},
    "pycld2": {"parse.language"},
    "sqlite_utils": {"store"},
    "sqlite3": {"store"},
    "apscheduler": {"service"},
    "click": {"cli"},
    "rich": {"cli"},
    "tomlkit": {"config"},
    "yaml": {"evaluate"},
    "apprise": {"apprise_sink"},
    "datasette": {"browse", "datasette_plugin"},
    "markupsafe": {"datasette_plugin"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def module_name(path: Path) -> str:
    """``store`` for tracker/store.py, ``store.feeds`` for tracker/store/feeds.py,
    ``store`` for tracker/store/__init__.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def owned_by(module: str, owners: set[str]) -> bool:
    return any(module == owner or module.startswith(owner + ".") for owner in owners)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_library_is_used_by_its_owner_module_only(module: str) -> None:
    used = imports_of(MODULES[module])
    strays = {lib for lib, owners in OWNERS.items() if lib in used and not owned_by(module, owners)}
    assert not strays, f"{MODULES[module].relative_to(REPO)} imports {strays}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_owns(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{MODULES[module].relative_to(REPO)} has no module docstring"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_lint_passes() -> None:
    result = run("ruff", "check", "tracker", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = run("ruff", "format", "--check", "tracker", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
