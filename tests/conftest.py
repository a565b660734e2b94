"""Shared fixtures: a project directory with a config, topics and seeds, and a way to
run the real ``tracker`` command against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # hostile imports this module
    from hostile import Harness, RawServer

    from tracker.poll import ParsePool

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

Run = Callable[..., subprocess.CompletedProcess[str]]


def make_project(
    root: Path, feeds: list[str], *, extra_settings: str = "", with_topics: bool = True
) -> Path:
    """A project directory like the repository's: config/, config/topics/, seeds/, db/."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    if with_topics:
        shutil.copytree(REPO / "config" / "topics", root / "config" / "topics", dirs_exist_ok=True)
        shutil.copytree(REPO / "seeds", root / "seeds", dirs_exist_ok=True)
    lines = ["[settings]", 'db_path = "db/tracker.db"', 'deadline = "10s"']
    lines += ['topics_dir = "config/topics"', 'seeds_dir = "seeds"', extra_settings, ""]
    for url in feeds:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    path = root / "config" / "tracker.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def run_tracker(tmp_path: Path) -> Run:
    """Run ``python -m tracker`` in a project directory, as a user would."""

    def run(
        *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        result = subprocess.run(
            [sys.executable, "-m", "tracker", *args],
            cwd=cwd or tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"tracker {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture(scope="session")
def pool() -> Iterator[ParsePool]:
    """Parser worker processes shared by the tests that poll through the real pipeline."""
    from hostile import parse_pool

    yield from parse_pool()


@pytest.fixture
def server() -> Iterator[RawServer]:
    """A raw TCP server that misbehaves on cue (see ``hostile.RawServer``)."""
    from hostile import RawServer

    with RawServer() as raw:
        yield raw


@pytest.fixture
def harness(tmp_path: Path, pool: ParsePool) -> Iterator[Harness]:
    """Polls through the real ``Poller`` into a real SQLite file, measuring each poll."""
    from hostile import Harness

    h = Harness(tmp_path / "tracker.db", pool)
    yield h
    h.close()
