"""Terminal rendering: a findings table a person can act on, from the report alone."""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_address

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from duecare.advisories.kev import DEFAULT_MAX_AGE
from duecare.report.gaps import open_questions
from duecare.wire import Finding, ProbeStatus, Report, Severity, Verdict

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


#: Below this terminal width the table would squeeze the explanation to a few letters a line:
#: each finding is stacked (where and what, then why, then advisories) instead.
WIDE = 110
WHY_CHARS = 160
ADVISORIES_SHOWN = 3


def clip(text: str, limit: int) -> str:
    """One line, at most ``limit`` characters, an ellipsis when something was cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def advisory_ids(f: Finding) -> str:
    shown = ", ".join(a.official_id for a in f.advisories[:ADVISORIES_SHOWN])
    more = len(f.advisories) - ADVISORIES_SHOWN
    return shown + (f" +{more} more" if more > 0 else "")


def ordered(findings: list[Finding]) -> list[Finding]:
    """Worst first; then by address and port, so one host's findings stay together."""
    return sorted(
        findings,
        key=lambda f: (f.waived, -f.severity.rank, int(ip_address(str(f.ip))), f.port or 0, f.exposure.value),
    )


def _place(f: Finding) -> str:
    return "" if f.port is None else f"{f.port}/{f.proto.value if f.proto else '?'}"


def _severity(f: Finding) -> Text:
    return Text(f.severity.value + (" (waived)" if f.waived else ""), style=_STYLE[f.severity])


def _table(affected: list[Finding], width: int) -> Table:
    if width >= WIDE:
        table = Table(title="Findings", title_justify="left", box=box.SIMPLE_HEAD, expand=False)
        for col in ("severity", "host", "port", "exposure"):
            table.add_column(col, no_wrap=True)  # ids and addresses are never broken mid-word
        table.add_column("why", ratio=3)
        table.add_column("advisories", ratio=1)
        for f in affected:
            table.add_row(
                _severity(f), str(f.ip), _place(f), f.exposure.value, clip(f.reason, WHY_CHARS), advisory_ids(f)
            )
        return table
    table = Table(title="Findings", title_justify="left", box=box.SIMPLE_HEAD, expand=False, show_lines=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("where, what, why")
    for f in affected:
        where = str(f.ip) + (f":{_place(f)}" if f.port is not None else "")
        detail = Text()
        detail.append(where, style="bold")
        detail.append("  " + f.exposure.value + "\n")
        detail.append(clip(f.reason, WHY_CHARS) + "\n")
        detail.append(advisory_ids(f) or "no advisory recorded", style="dim")
        table.add_row(_severity(f), detail)
    return table


def render_summary(report: Report, console: Console) -> None:
    affected = ordered([f for f in report.findings if f.verdict is Verdict.AFFECTED])
    unsettled = sum(q.unsettled for q in open_questions(report))
    open_ports = sum(1 for a in report.assets for s in a.services if s.state.value == "open")
    console.print(
        f"duecare scanned {len(report.assets)} live hosts, {open_ports} open ports "
        f"({report.scope.mode.value} scan"
        + ("" if report.scope.privileged else ", unprivileged")
        + f"), {len(report.attempts)} probe attempts.",
        markup=False,
    )
    if affected:
        console.print(_table(affected, console.width))
    else:
        console.print("No exposures found.")
    if unsettled:
        console.print(
            f"{unsettled} checks not settled (no verdict); the HTML report's section 4 says what would settle them."
        )
    if report.obligations is not None:
        o = report.obligations
        console.print(
            f"Standard of care {o.profile}: {o.not_met} not met, {o.unknown} unknown, "
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
