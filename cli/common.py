"""What every ``duecare`` command shares: plain help, one-line errors, and exit codes scripts rely on.

Exit codes: 0 done, 3 findings (or a broken chain), 2 bad input (argument, config, data file), 1 the
environment failed (collector unreachable, disk) or duecare itself did. An error is one line on
stderr naming the problem, never a traceback; help shows placeholders only where we wrote them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand

from duecare.errors import DuecareError

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3


@cache
def stderr_console() -> Console:
    """The one stderr console (rich), created when first needed: a command that prints nothing
    through it (the idle daemon) never imports rich (issue 19)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


class _LazyConsole:
    """``err``: stands for ``stderr_console()`` until its first use. Pass ``stderr_console()`` itself
    to code that needs a real ``Console`` (a progress bar)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(stderr_console(), name)


err: Console = _LazyConsole()  # type: ignore[assignment]


class PlainCommand(TyperCommand):
    """Help in the words we wrote: arguments by their METAVAR (never ``{name}`` or ``<list[str]>``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_label(param, usage=True))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument" and not getattr(param, "hidden", False):
                args.append((_argument_label(param, usage=False), getattr(param, "help", None) or ""))
            elif param.param_type_name == "option":
                record = param.get_help_record(ctx)
                if record is not None:
                    opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


def _argument_label(param: Any, *, usage: bool) -> str:
    name = str(param.metavar or param.name.upper())
    if usage and not param.required:
        name = f"[{name}]"
    return name + ("..." if param.nargs != 1 else "")


class _Typer(typer.Typer):
    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", PlainCommand)
        return super().command(*args, **kwargs)


def typer_app(**kwargs: Any) -> typer.Typer:
    """Plain help (no ``<bool>`` type placeholders, no boxes); usage errors come back to ``run_app``."""
    settings: dict[str, Any] = {
        "no_args_is_help": True,
        "add_completion": False,
        "pretty_exceptions_enable": False,
        "rich_markup_mode": None,
    }
    return _Typer(**{**settings, **kwargs})


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: message`` as one line and return the Exit to raise (``raise fail(...) from exc``)."""
    say_error(message)
    return typer.Exit(code)


def output_file(path: Path, what: str) -> Path:
    """An output file's directory must exist: a typo in a path must not grow a directory tree."""
    if path.is_dir():
        raise fail(f"{what} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise fail(f"{what} {path}: directory {path.parent} does not exist")
    return path


def say_error(message: str) -> None:
    """One line (a config error may add one indented line per bad key); never wrapped, never markup."""
    sys.stderr.write("error: " + message.strip() + "\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    sys.stderr.write("warning: " + message.strip() + "\n")
    sys.stderr.flush()


def run_app(app: typer.Typer, argv: Sequence[str], prog_name: str) -> int:
    """Run a command line; every error a person can fix ends here as one line and exit code 2."""
    try:
        code = app(args=list(argv), prog_name=prog_name, standalone_mode=False)
    except typer.Abort:
        say_error("aborted")
        return 130
    except DuecareError as exc:  # a family's own error that no command caught: still one line
        say_error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        say_error("interrupted")
        return 130
    except Exception as exc:
        if not _is_click_error(exc):
            raise
        return _report_click_error(exc)
    return code if isinstance(code, int) else EXIT_OK


def _is_click_error(exc: Exception) -> bool:
    """click's exceptions, whether from click itself or the copy typer ≥ 0.29 vendors (typer._click)."""
    return isinstance(getattr(exc, "exit_code", None), int) and callable(getattr(exc, "format_message", None))


def _report_click_error(exc: Any) -> int:
    code: int = exc.exit_code
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as click would show
        typer.echo(exc.format_message())
        return code
    if code == EXIT_USAGE and ctx is not None:
        say_error(f"{str(exc.format_message()).rstrip('.')} (see '{ctx.command_path} --help')")
    else:
        say_error(str(exc.format_message()))
    return code
