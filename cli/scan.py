"""``duecare scan`` in a terminal: progress bar on stderr, summary table or JSON on stdout."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from duecare.advisories.errors import CatalogError
from duecare.agent.config import AgentConfig
from duecare.agent.run import ScanRequest, post_through_outbox, scan_to_report
from duecare.agent.scope import ScopeError
from duecare.cli.common import EXIT_INTERNAL, EXIT_USAGE, say_error, warn
from duecare.cli.output import render_summary
from duecare.files import write_atomic
from duecare.probes.errors import ProbeError
from duecare.wire import Report, Verdict


@dataclass
class StageTime:
    """One stage's window, in seconds from the first stage's start: pipelined stages overlap."""

    name: str
    start: float
    end: float | None = None

    @property
    def seconds(self) -> float:
        return (self.end if self.end is not None else self.start) - self.start


class RichProgress:
    """Progress bar and live counts on stderr; at the end, one line of where the time went."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self.stages: list[StageTime] = []
        self._origin: float | None = None
        self._tasks: dict[str, Any] = {}
        self._p = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for st in self.stages:
            if st.end is None:
                self._close(st, complete=exc[0] is None)
        self._p.stop()
        if self.stages:
            self._console.print(stage_line(self.stages), markup=False, highlight=False)

    def _now(self) -> float:
        now = time.perf_counter()
        if self._origin is None:
            self._origin = now
        return now - self._origin

    def _close(self, st: StageTime, *, complete: bool = True) -> None:
        st.end = self._now()
        task = self._tasks.get(st.name)
        if task is not None and complete:
            t = next(x for x in self._p.tasks if x.id == task)
            self._p.update(task, completed=t.total or t.completed)

    def stage(self, name: str, total: int | None = None, *, beside: bool = False) -> None:
        if not beside:
            for st in self.stages:
                if st.end is None:
                    self._close(st)
        self.stages.append(StageTime(name, self._now()))
        self._task = self._tasks[name] = self._p.add_task(name, total=total)

    def end(self, name: str) -> None:
        for st in self.stages:
            if st.name == name and st.end is None:
                self._close(st)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._p.advance(self._task, n)

    def note(self, message: str) -> None:
        self._p.console.print(message)


def stage_line(stages: list[StageTime]) -> str:
    """``stages: discovery 2.31 s [0.00-2.31] · ports 3.02 s [2.31-5.33] · …``: each stage's duration
    and its window from the first stage's start, so stages that overlap are not read as serial.
    The benchmark reads this line too."""
    return "stages: " + " · ".join(
        f"{s.name} {s.seconds:.2f} s [{s.start:.2f}-{s.start + s.seconds:.2f}]" for s in stages
    )


def exit_code(report: Report, config: AgentConfig) -> int:
    threshold = config.report.severity_threshold.rank
    hit = any(f.verdict is Verdict.AFFECTED and not f.waived and f.severity.rank >= threshold for f in report.findings)
    return 3 if hit else 0


def run_oneshot(request: ScanRequest, *, as_json: bool, err: Console, out: Console) -> int:
    try:
        with RichProgress(err) as progress:
            _result, report = scan_to_report(request, progress)
    except (ScopeError, CatalogError) as exc:
        say_error(str(exc))
        return EXIT_USAGE
    except ProbeError as exc:
        say_error(f"scan failed: {exc}")
        return EXIT_INTERNAL
    except Exception as exc:
        # Exit 1 is "duecare's own fault": say so plainly, keep the traceback for the bug report.
        import traceback

        say_error(f"internal error: {type(exc).__name__}: {exc}")
        err.print(traceback.format_exc(), markup=False, highlight=False)
        return EXIT_INTERNAL
    if request.post:
        from duecare.agent.state import StateError

        try:
            posted = post_through_outbox(report, request.state_dir)
        except StateError as exc:
            say_error(f"cannot post: {exc}")
            return EXIT_USAGE
        report = posted.report
        if posted.error:
            warn(f"collector not reached ({posted.error}); report kept in the outbox for retry")
        else:
            err.print(f"posted to {posted.collector_url}: {posted.delivered} report(s) delivered", markup=False)
    body = report.model_dump_json(indent=2)
    if request.json_path is not None:
        write_atomic(request.json_path, body.encode())
    if request.report_path is not None:
        from duecare.report.html import write_report

        write_report(report, request.report_path)
        err.print(f"report written to {request.report_path}", markup=False)
    if as_json:
        out.file.write(body + "\n")
    else:
        render_summary(report, out)
    return exit_code(report, request.config)
