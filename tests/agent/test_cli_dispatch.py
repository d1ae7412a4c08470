"""The `duecare` entry point's dispatch table: one list of commands, kept in step with the apps."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from duecare.cli import dispatch
from duecare.cli.dispatch import COMMANDS

DUECARE = [sys.executable, "-m", "duecare.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DUECARE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_help_lists_every_command_with_its_help() -> None:
    r = run("--help")
    assert r.returncode == 0
    assert r.stderr == ""
    for name, cmd in COMMANDS.items():
        assert f"  {name} " in r.stdout
        assert cmd.help in r.stdout


def test_no_command_prints_usage_and_exits_2() -> None:
    r = run()
    assert r.returncode == 2
    assert r.stdout.startswith("Usage: duecare COMMAND")


def test_unknown_command_is_one_line_exit_2() -> None:
    r = run("scna")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == "error: no such command 'scna' (see 'duecare --help')\n"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_reaches_its_own_app(name: str) -> None:
    r = run(name, "--help")
    assert r.returncode == 0, r.stderr
    assert f"Usage: duecare {name}" in r.stdout


def test_table_matches_the_typer_apps() -> None:
    """The table is the one list: top-level commands' help is their docstring's first line, and
    the typer app behind `duecare.cli.main:app` registers exactly the table's commands."""
    from duecare.cli.main import app

    registered = {info.name or info.callback.__name__: info for info in app.registered_commands if info.callback}
    assert set(registered) == set(COMMANDS)
    for name, cmd in COMMANDS.items():
        if cmd.top_level:
            doc = inspect.getdoc(registered[name].callback) or ""
            assert doc.splitlines()[0] == cmd.help, name
        else:
            assert registered[name].help == cmd.help
            assert hasattr(importlib.import_module(cmd.module), "app")


def test_interrupt_is_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(argv: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(dispatch, "dispatch", interrupted)
    monkeypatch.setattr(sys, "argv", ["duecare", "scan"])
    with pytest.raises(SystemExit) as exc:
        dispatch.main()
    assert exc.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
