"""Every command's --help, as a person reads it: our own placeholders, help on every option, no junk."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from duecare.cli.main import app

#: What typer and click print when we did not say what a value is: ``<bool>``, ``<list[str]>``,
#: ``{probe_id}``, ``[default: None]``.
JUNK = re.compile(r"<[a-zA-Z_][\w\[\], |.]*>|\{\w+\}|default: None|<NoneType>")
FORWARDED = {
    "collector": "duecare.cli.collector",
    "pull": "duecare.cli.pull",
    "agent": "duecare.cli.agent",
    "advisories": "duecare.cli.advisories",
    "report": "duecare.cli.report",
}


def _commands(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if name in FORWARDED and not path:
            sub_app = importlib.import_module(FORWARDED[name]).app
            yield from _commands(typer.main.get_command(sub_app), (name,))
        else:
            yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app), ()))


def test_the_walk_sees_every_command() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    assert {"scan", "collector serve", "agent enroll", "advisories show", "pull", "report"} <= paths
    assert len(paths) >= 20


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "duecare" for p, _ in COMMANDS])
def test_help_has_no_placeholder_junk(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith(f"Usage: duecare {' '.join(path)}".rstrip()), text
    assert not JUNK.findall(text), JUNK.findall(text)
    assert "╭" not in text  # plain help, not boxes that break at 80 columns
    for param in getattr(command, "params", []):
        if param.name == "help":
            continue
        assert getattr(param, "help", None), f"duecare {' '.join(path)}: {param.name} has no help"
        if param.param_type_name == "option" and not getattr(param, "is_flag", False):
            assert param.metavar, f"duecare {' '.join(path)}: {param.opts[0]} shows a type, not a placeholder"


def test_the_installed_entry_point_prints_the_same_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "duecare.cli", "scan", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stderr == ""
    assert "--post  " in out.stdout and "<bool>" not in out.stdout
    assert "--authorized-by WHO" in out.stdout
