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
    "apprise": {"sinks.apprise"},
    "datasette": {"browse", "datasette_plugin", "desk", "desk_development"},
    "markupsafe": {"datasette_plugin", "desk"},
    "trafilatura": {"seedtext"},
    "anyascii": {"translit"},
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


@pytest.mark.slow
def test_ruff_lint_passes() -> None:
    result = run("ruff", "check", "tracker", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_ruff_format_is_applied() -> None:
    result = run("ruff", "format", "--check", "tracker", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_passes() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


# Sizes past which a module, a class or a function is split (issue 20): what holds
# them down is the habit of one concept in one place, which these only make visible.
MODULE_LINES = 700
CLASS_LINES = 300
FUNCTION_CODE_LINES = 40


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    """Lines of a function's body that hold code: no docstring, blank or comment line."""
    body = node.body
    if ast.get_docstring(node) is not None:
        body = body[1:]
    if not body:
        return 0
    text = lines[body[0].lineno - 1 : node.end_lineno]
    return sum(1 for line in text if line.strip() and not line.strip().startswith("#"))


def oversized(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = [f"{len(lines)} lines"] if len(lines) > MODULE_LINES else []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > CLASS_LINES:
                found.append(f"class {node.name}: {length} lines")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = code_lines(node, lines)
            if length > FUNCTION_CODE_LINES:
                found.append(f"{node.name}(): {length} lines of code")
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_classes_and_functions_stay_small(module: str) -> None:
    assert not oversized(MODULES[module]), f"{MODULES[module].relative_to(REPO)}: " + ", ".join(
        oversized(MODULES[module])
    )


def test_the_size_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_CODE_LINES + 1))
    sample = tmp_path / "sample.py"
    sample.write_text(f'def long():\n    """Doc."""\n    # why\n\n{body}\n', encoding="utf-8")
    assert oversized(sample) == [f"long(): {FUNCTION_CODE_LINES + 1} lines of code"]
    sample.write_text(f"def short():\n{body.replace('    x0 = 0', '    # x0')}\n")
    assert oversized(sample) == []


# Libraries that only the parse workers (or a command's own path) need: loading the CLI,
# as every command's main process does, must not load them (issue 16: each costs the
# poll's main process memory and start-up time it never uses).
WORKER_ONLY = ("feedparser", "lxml", "pycld2", "trafilatura")


@pytest.mark.slow
def test_the_cli_loads_no_parser_library() -> None:
    probe = f"import sys, tracker.cli; print(*[m for m in {WORKER_ONLY!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == []


@pytest.mark.slow
def test_creating_a_database_loads_no_parser_library(tmp_path: Path) -> None:
    """The migrations of a new database (one of them reads aggregator links with the
    parser's function) leave the parser alone when no stored item needs it."""
    probe = (
        "import sys; from pathlib import Path; from tracker.store import Store; "
        f"Store(Path({str(tmp_path / 'new.db')!r})).close(); "
        f"print(*[m for m in {WORKER_ONLY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert (tmp_path / "new.db").exists()
    assert result.stdout.split() == []
