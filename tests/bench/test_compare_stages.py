"""The stage breakdown the nmap comparison prints comes from the scan's own stderr line."""

from __future__ import annotations

import io

from rich.console import Console

from bench._measure import Measured
from bench.compare_nmap import stages
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
