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

# The only module allowed to import each third-party library.
OWNERS = {
    "httpx": {"fetch", "sinks"},
    "feedparser": {"parse"},
    "lxml": {"fastxml"},
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


@pytest.mark.parametrize("module", sorted(p.stem for p in PACKAGE.glob("*.py")))
def test_each_library_is_used_by_its_owner_module_only(module: str) -> None:
    used = imports_of(PACKAGE / f"{module}.py")
    strays = {lib for lib, owners in OWNERS.items() if lib in used and module not in owners}
    assert not strays, f"tracker/{module}.py imports {strays}"


@pytest.mark.parametrize("module", sorted(p.stem for p in PACKAGE.glob("*.py")))
def test_every_module_says_what_it_owns(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"tracker/{module}.py has no module docstring"


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
