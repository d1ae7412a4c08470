"""Terminal rendering: a findings table a person can act on, from the report alone."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from duecare.advisories.kev import DEFAULT_MAX_AGE
from duecare.wire import ProbeStatus, Report, Severity, Verdict

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def render_summary(report: Report, console: Console) -> None:
    affected = [f for f in report.findings if f.verdict is Verdict.AFFECTED]
    unsure = [f for f in report.findings if f.verdict is Verdict.INDETERMINATE]
    open_ports = sum(1 for a in report.assets for s in a.services if s.state.value == "open")
    console.print(
        f"[bold]duecare[/] scanned {len(report.assets)} live hosts, {open_ports} open ports "
        f"({report.scope.mode.value} scan"
        + ("" if report.scope.privileged else ", unprivileged")
        + f"), {len(report.attempts)} probe attempts."
    )
    if affected:
        table = Table(title="Findings", title_justify="left", expand=False)
        for col in ("severity", "host", "port", "exposure", "why", "advisories"):
            table.add_column(col, overflow="fold")
        for f in affected:
            port = "" if f.port is None else f"{f.port}/{f.proto.value if f.proto else ''}"
            sev = Text(f.severity.value + (" (waived)" if f.waived else ""), style=_STYLE[f.severity])
            advisories = ", ".join(a.official_id for a in f.advisories[:3])
            table.add_row(sev, str(f.ip), port, f.exposure.value, Text(f.reason[:120]), advisories)
        console.print(table)
    else:
        console.print("No exposures found.")
    if unsure:
        console.print(f"{len(unsure)} checks could not be settled (indeterminate); see the JSON or HTML report.")
    if report.obligations is not None:
        o = report.obligations
        console.print(
            f"Standard of care [bold]{o.profile}[/]: {o.not_met} not met, {o.unknown} unknown, "
            f"{o.no_contrary_evidence} no contrary evidence, {o.met} met on recorded coverage, "
            f"{o.attestation_required} attestation required, {o.waived} waived."
        )
    inherited = [f for f in affected if f.timeline and f.timeline.inherited_due and not f.waived]
    if inherited:
        console.print(
            f"{len(inherited)} finding(s) inherited: overdue before the engagement began (see the report's section 1)."
        )
    triage = [f for f in affected if f.timeline and f.timeline.forensic_triage and not f.waived]
    if triage:
        console.print(
            f"[bold]{len(triage)} finding(s) call for forensic triage[/] (BOD 26-04): check for compromise "
            "(scope, evidence, decision) before calling them fixed."
        )
    if report.kev_catalog_released is not None:
        age = (report.finished_at - report.kev_catalog_released).days
        if age > DEFAULT_MAX_AGE.days:
            console.print(
                f"[yellow]KEV catalog {report.kev_catalog_version} is {age} days old:[/] CVEs it does not list read "
                "as 'KEV unknown'. Refresh it with `duecare advisories update-kev`."
            )
    failed = Counter(a.status for a in report.attempts if a.status is not ProbeStatus.COMPLETED)
    if failed:
        console.print(
            "Probe attempts not completed: "
            + ", ".join(f"{n} {s.value}" for s, n in sorted(failed.items(), key=lambda kv: kv[0].value))
        )
