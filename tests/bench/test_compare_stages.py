"""The stage breakdown the nmap comparison prints comes from the scan's own stderr line."""

from __future__ import annotations

import io
import time

from rich.console import Console

from bench._measure import Measured
from bench.compare_nmap import stage_windows, stages
from duecare.cli.scan import RichProgress


def test_the_scan_prints_one_stage_line_the_bench_reads() -> None:
    buf = io.StringIO()
    with RichProgress(Console(file=buf, width=120)) as progress:
        for name in ("discovery", "ports", "probes", "judging"):
            progress.stage(name, 1)
            progress.advance()
    line = [x for x in buf.getvalue().splitlines() if x.startswith("stages: ")]
    assert len(line) == 1 and line[0].count(" s") == 4
    measured = Measured((), 10.0, 1.0, 50.0, 0, b"", ("progress…\n" + line[0] + "\n").encode())
    found = stages(measured)
    assert list(found) == ["discovery", "ports", "probes", "judging", "start-up and exit"]
    assert abs(sum(found.values()) - 10.0) < 1e-6


def test_no_stage_line_gives_no_breakdown() -> None:
    assert stages(Measured((), 3.0, 1.0, 50.0, 2, b"", b"error: bad scope\n")) == {}


def test_overlapping_stages_are_not_summed() -> None:
    buf = io.StringIO()
    with RichProgress(Console(file=buf, width=120)) as progress:
        progress.stage("ports", 1)
        time.sleep(0.05)
        progress.stage("probes", 1, beside=True)
        time.sleep(0.1)
        progress.end("ports")
        time.sleep(0.05)
        progress.stage("judging", 1)
    (line,) = [x for x in buf.getvalue().splitlines() if x.startswith("stages: ")]
    measured = Measured((), 10.0, 1.0, 50.0, 0, b"", (line + "\n").encode())
    found, windows = stages(measured), stage_windows(measured)
    assert found["ports"] >= 0.14 and found["probes"] >= 0.14
    assert windows["probes"][0] < windows["ports"][1] <= windows["judging"][0]
    span = windows["judging"][1] - windows["ports"][0]
    assert abs(found["start-up and exit"] - (10.0 - span)) < 1e-6
    assert sum(found.values()) > 10.0 + 0.1  # the overlap is counted in both stages, once in the span
