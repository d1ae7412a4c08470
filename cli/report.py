"""``duecare report``: arguments → ``duecare.report.commands``. Nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duecare.cli.common import err, fail, output_file, typer_app
from duecare.report.errors import ReadClientError, ReportError

app = typer_app(no_args_is_help=False)


@app.command()
def report(
    source: Annotated[
        Path | None,
        typer.Argument(metavar="REPORT.json", help="A saved JSON report (duecare scan --json-out) to render."),
    ] = None,
    collector: Annotated[
        str | None, typer.Option("--collector", metavar="URL", help="Collector URL: render a site's report.")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", metavar="FILE", help="File holding a collector read key.")
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", metavar="SITE", help="Site id or name at the collector.")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", metavar="FILE", help="Report signed with the contract.")
    ] = None,
    current: Annotated[
        Path | None, typer.Option("--current", metavar="FILE", help="Later report to compare with it.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Output file, .html or .pdf [default: report.html]."),
    ] = None,
) -> None:
    """Render the due-diligence report (from a file or the collector) or the baseline exhibit."""
    from duecare.report.commands import baseline_exhibit, report_from_collector, report_from_file

    if out is not None:
        output_file(out, "--out")

    modes = [source is not None, collector is not None, baseline is not None or current is not None]
    if sum(modes) != 1:
        raise fail("give exactly one of: REPORT.json, --collector URL, or --baseline/--current")
    try:
        if source is not None:
            line = report_from_file(source, out or Path("report.html"))
        elif collector is not None:
            if key_file is None or site is None:
                raise fail("--collector needs --key-file and --site")
            line = report_from_collector(collector, key_file, site, out or Path("report.html"))
        else:
            if baseline is None or current is None:
                raise fail("--baseline and --current go together")
            line = baseline_exhibit(baseline, current, out or Path("baseline.html"))
    except ReadClientError as exc:
        raise fail(str(exc), 1) from exc
    except ReportError as exc:
        raise fail(str(exc)) from exc
    err.print(line, markup=False)
