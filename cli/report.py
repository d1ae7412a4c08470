"""``duecare report``: arguments → ``duecare.report.commands``. Nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from duecare.report.errors import ReadClientError, ReportError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
err = Console(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def report(
    source: Annotated[Path | None, typer.Argument(help="A saved JSON report (duecare scan --out) to render.")] = None,
    collector: Annotated[str | None, typer.Option("--collector", help="Collector URL: render a site's report.")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="File holding a collector read key.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site id or name at the collector.")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="Report signed with the contract.")] = None,
    current: Annotated[Path | None, typer.Option("--current", help="Later report to compare with it.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output file, .html or .pdf.")] = None,
) -> None:
    """Render the due-diligence report (from a file or the collector) or the baseline exhibit."""
    from duecare.report.commands import baseline_exhibit, report_from_collector, report_from_file

    modes = [source is not None, collector is not None, baseline is not None or current is not None]
    if sum(modes) != 1:
        raise _fail("give exactly one of: REPORT.json, --collector URL, or --baseline/--current", 2)
    try:
        if source is not None:
            line = report_from_file(source, out or Path("report.html"))
        elif collector is not None:
            if key_file is None or site is None:
                raise _fail("--collector needs --key-file and --site", 2)
            line = report_from_collector(collector, key_file, site, out or Path("report.html"))
        else:
            if baseline is None or current is None:
                raise _fail("--baseline and --current go together", 2)
            line = baseline_exhibit(baseline, current, out or Path("baseline.html"))
    except ReadClientError as exc:
        raise _fail(str(exc), 1) from exc
    except ReportError as exc:
        raise _fail(str(exc), 2) from exc
    err.print(line, highlight=False, markup=False, soft_wrap=True)
