"""The README documents every command, option and config key users can type."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import click
import pytest

from tracker import config
from tracker.cli import cli
from tracker.models import DevelopmentConfig, Retention, Settings
from tracker.sinks import sink_types

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "tracker") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += commands(command, path)
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize(("path", "command"), commands(cli), ids=lambda v: str(v))
def test_every_command_and_option_is_in_the_readme(path: str, command: click.Command) -> None:
    assert f"`{path}" in README, f"{path} is not documented"
    for param in command.params:
        if isinstance(param, click.Option):
            assert any(opt in README for opt in param.opts), f"{path} {param.opts}"


@pytest.mark.parametrize("key", [f.name for f in fields(Settings)])
def test_every_setting_is_in_the_readme(key: str) -> None:
    assert f"| `{key}` |" in README


@pytest.mark.parametrize("key", [f.name for f in fields(Retention)])
def test_every_retention_key_is_in_the_readme(key: str) -> None:
    assert f"| `{key}` |" in README.split("### `[retention]`")[1]


@pytest.mark.parametrize("key", [f.name for f in fields(DevelopmentConfig)])
def test_every_developments_key_is_in_the_readme(key: str) -> None:
    assert f"| `{key}` |" in README.split("### `[developments]`")[1]


@pytest.mark.parametrize("key", sorted(config._FEED_KEYS))
def test_every_feed_key_is_in_the_readme(key: str) -> None:
    assert f"`{key}`" in README


@pytest.mark.parametrize("key", sorted(config._ALERT_KEYS))
def test_every_alert_key_is_in_the_readme(key: str) -> None:
    assert f"`{key}`" in README


SINK_KEYS = [(name, key) for name, kind in sink_types().items() for key in kind.keys]


@pytest.mark.parametrize(("sink_type", "key"), SINK_KEYS, ids=lambda v: str(v))
def test_every_sink_type_and_its_keys_are_in_the_readme(sink_type: str, key: str) -> None:
    assert f'`"{sink_type}"`' in README
    assert f"`{key}`" in README


@pytest.mark.parametrize(("path", "command"), commands(cli), ids=lambda v: str(v))
def test_every_command_shows_an_example_in_its_help(path: str, command: click.Command) -> None:
    assert command.epilog and "Example" in command.epilog, f"{path} --help has no example"
    assert path.removeprefix("tracker ") in command.epilog.replace("  ", " ")


def test_global_options_are_in_the_readme() -> None:
    for option in ("--config", "--db", "--log-format", "TRACKER_CONFIG", "TRACKER_DB"):
        assert option in README


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    test_command = next(
        line
        for line in README.splitlines()
        if line.startswith("python3 -m venv") and "[test]" in line
    )
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci_lines[-1] == test_command


def quick_start_init() -> tuple[list[str], str]:
    """The quick start's ``tracker init`` command and the output it shows."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", section, re.S)
    command = next(block for block in blocks if "tracker init" in block).strip()
    shown = next(block for block in blocks if block.startswith("wrote "))
    return shlex.split(command.replace("~", "HOME"))[1:], shown


@pytest.mark.slow
def test_the_quick_starts_init_prints_what_the_readme_shows(tmp_path: Path) -> None:
    args, shown = quick_start_init()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    result = subprocess.run(
        [sys.executable, "-m", "tracker", *(arg.replace("HOME", str(home)) for arg in args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.replace(str(home), "~") == shown
    made = config.load_config(home / "newsdesk" / "tracker.toml")
    assert made.db_path == home / "newsdesk" / "tracker.db"
    assert len(made.feeds) == len(config.load_config(ROOT / "config" / "tracker.toml").feeds)
    assert made.settings.contact == "desk@example.org"
