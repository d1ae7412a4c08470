"""The self-contained HTML report (jinja2, autoescaped, no external assets)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from wire import Finding, ProbeStatus, Report, Severity, Verdict, canonical_bytes, report_hash


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("agent", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def context(report: Report) -> dict[str, Any]:
    affected = [f for f in report.findings if f.verdict is Verdict.AFFECTED]
    unsure = [f for f in report.findings if f.verdict is Verdict.INDETERMINATE]
    by_host: defaultdict[str, list[Finding]] = defaultdict(list)
    for f in affected:
        by_host[str(f.ip)].append(f)
    by_sev = {s.value: sum(1 for f in affected if f.severity is s and not f.waived) for s in Severity}
    not_done = [a for a in report.attempts if a.status not in (ProbeStatus.COMPLETED,)]
    top = sorted(affected, key=lambda f: (-f.severity.rank, f.deadline or report.finished_at.date()))[:5]
    obj = report.model_dump(mode="json")
    return {
        "r": report,
        "affected": affected,
        "unsure": unsure,
        "by_host": dict(sorted(by_host.items())),
        "by_sev": by_sev,
        "max_sev": max(by_sev.values() or [1]) or 1,
        "not_done": not_done,
        "top": top,
        "digest": report_hash(obj),
        "size": len(canonical_bytes(obj)),
    }


def render(report: Report) -> str:
    return _env().get_template("report.html.j2").render(**context(report))


def write_report(report: Report, path: Path) -> None:
    from agent.run import write_atomic

    if path.suffix.lower() == ".pdf":
        try:
            import weasyprint
        except ImportError as exc:
            raise SystemExit("PDF output needs the optional extra: pip install 'duecare[pdf]' (weasyprint)") from exc
        write_atomic(path, weasyprint.HTML(string=render(report)).write_pdf())
        return
    write_atomic(path, render(report).encode("utf-8"))
