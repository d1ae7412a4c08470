"""`duecare report`: render a saved report, a site's report from the collector, or the baseline exhibit.

The application behind ``agent/cli_report.py``: every function takes paths and strings, writes one
file, and returns a line for the terminal. Problems are raised as ``ReportError`` (the caller's
input: exit 2) or ``CollectorReportError`` (the collector: exit 1).
"""

from __future__ import annotations

import time
from pathlib import Path

from agent.html_report import ReportError, check_output, render, write_html_or_pdf
from agent.report_baseline import BaselineError, diff, load_report, render_baseline, summary_line


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f} KiB"


def report_from_file(source: Path, out: Path) -> str:
    check_output(out)
    try:
        report = load_report(source)
    except BaselineError as exc:
        raise ReportError(str(exc)) from exc
    t0 = time.monotonic()
    write_html_or_pdf(render(report), out)
    return f"report written to {out} ({_size(out)}, {time.monotonic() - t0:.2f} s)"


def read_key(key_file: Path) -> str:
    try:
        key = key_file.read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise ReportError(f"{key_file}: {exc.strerror}") from exc
    if not key or not key[-1].strip():
        raise ReportError(f"{key_file}: empty (expected a collector read key)")
    return key[-1].strip()  # `duecare collector add-reader` prints the secret as the last line


def report_from_collector(url: str, key_file: Path, site: str, out: Path) -> str:
    from agent.report_collector import fetch_site_report, open_client

    check_output(out)
    key = read_key(key_file)
    t0 = time.monotonic()
    with open_client(url, key) as client:
        report, history = fetch_site_report(client, site)
    fetched = time.monotonic() - t0
    write_html_or_pdf(render(report, history=history), out)
    rendered = time.monotonic() - t0 - fetched
    return (
        f"report {report.report_id} of site {history.site!r} with {len(history.points)} report(s) of history "
        f"written to {out} ({_size(out)}; fetched in {fetched:.2f} s, rendered in {rendered:.2f} s)"
    )


def baseline_exhibit(baseline: Path, current: Path, out: Path) -> str:
    check_output(out)
    try:
        d = diff(load_report(baseline), load_report(current))
    except BaselineError as exc:
        raise ReportError(str(exc)) from exc
    write_html_or_pdf(render_baseline(d), out)
    return f"{summary_line(d)}; exhibit written to {out}"
