"""The due-diligence report: one self-contained HTML file (or PDF) for the owner, the MSP and a lawyer.

jinja2 with autoescape always on; no script, no external asset (styles and SVG charts inline, a
Content-Security-Policy that forbids everything else). Hostile text from the network (banners,
certificate names, host names) is data and only ever reaches the page escaped.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from duecare.advisories.frameworks import Framework
from duecare.advisories.profiles import Profile
from duecare.files import write_atomic
from duecare.report import view
from duecare.report.catalog import ReportCatalog, load_report_catalog
from duecare.report.charts import (
    OBLIGATION_SWATCHES,
    SEVERITY_SWATCHES,
    BarChart,
    LineChart,
    line_chart,
    obligation_chart,
    severity_chart,
)
from duecare.report.details import detail_rows, port_summary, shown_earlier
from duecare.report.gaps import Gaps, gaps
from duecare.report.history import History
from duecare.report.pdf import html_to_pdf, require_weasyprint
from duecare.report.reach import SETTLE, Reach, reach
from duecare.wire import (
    DeadlineState,
    KevStatus,
    ObligationResult,
    ObligationStatus,
    ProbeStatus,
    Report,
    Severity,
    Verdict,
    canonical_bytes,
    report_hash,
)

TOP_ACTIONS = 5
HEX_BYTES_SHOWN = 256
TEXT_CHARS_SHOWN = 1500


@dataclass(frozen=True)
class FrameworkBlock:
    id: str
    title: str
    framework: Framework | None
    results: tuple[ObligationResult, ...]
    counts: dict[ObligationStatus, int]


@dataclass(frozen=True)
class Page:
    """Everything the template lays out; built once, so the template computes nothing."""

    r: Report
    reach: Reach
    today: date
    generated_at: datetime
    catalog: ReportCatalog
    profile: Profile | None
    headline: view.Headline
    actions: tuple[view.Action, ...]
    action_total: int
    counts: view.Counts
    kev: tuple[view.KevRow, ...]
    overdue: tuple[tuple[Any, int], ...]
    inherited: tuple[tuple[Any, date], ...]
    overdue_obligations: tuple[ObligationResult, ...]
    #: Requirements no scan can judge, across the profile's frameworks, with any signed attestation.
    attestations: tuple[ObligationResult, ...]
    severity_chart: BarChart
    obligation_chart: BarChart | None
    history_chart: LineChart | None
    frameworks: tuple[FrameworkBlock, ...]
    hosts: tuple[view.HostView, ...]
    quiet: tuple[Any, ...]
    gaps: Gaps
    history: History | None
    probes: tuple[tuple[str, dict[str, int]], ...]
    digest: str
    size: int
    catalog_matches: bool

    @property
    def kev_age_days(self) -> int | None:
        """How old the KEV catalog was when the scan ran: an appendix fact, not the owner's worry."""
        released = self.r.kev_catalog_released
        return None if released is None else (self.r.finished_at - released).days

    @property
    def bod_source(self) -> str | None:
        """Where the BOD 26-04 tiers shown come from, once (every finding's tier names the same table)."""
        return next(
            (f.timeline.bod_26_04.source for f in self.r.findings if f.timeline and f.timeline.bod_26_04),
            None,
        )

    @property
    def title(self) -> str:
        where = f"{self.history.client} — {self.history.site}" if self.history else ", ".join(self.r.scope.targets)
        return f"Network exposure report: {where}"


def _frameworks(report: Report, catalog: ReportCatalog, profile: Profile | None) -> tuple[FrameworkBlock, ...]:
    if report.obligations is None:
        return ()
    grouped: defaultdict[str, list[ObligationResult]] = defaultdict(list)
    for res in report.obligations.results:
        grouped[res.framework].append(res)
    order = list(profile.frameworks) if profile else []
    order += [fw for fw in grouped if fw not in order]
    return tuple(
        FrameworkBlock(
            fw,
            catalog.framework_title(fw),
            catalog.frameworks.get(fw),
            tuple(grouped[fw]),
            {s: sum(1 for x in grouped[fw] if x.status is s) for s in ObligationStatus},
        )
        for fw in order
        if fw in grouped
    )


def _probe_stats(report: Report) -> tuple[tuple[str, dict[str, int]], ...]:
    stats: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for a in report.attempts:
        stats[a.probe][a.status.value] += 1
    return tuple((probe, dict(c)) for probe, c in sorted(stats.items()))


def build_page(
    report: Report, catalog: ReportCatalog | None = None, history: History | None = None, now: datetime | None = None
) -> Page:
    catalog = catalog or cached_catalog()
    today = report.finished_at.date()
    profile = catalog.profile(report.profile)
    actions = view.actions(report, today)
    obligations = report.obligations
    open_questions = gaps(report, catalog)
    counts = view.counts(report, today, unsettled=open_questions.unsettled)
    history_chart = None
    if history is not None and history.points:
        pts = history.points
        history_chart = line_chart(
            "hist",
            "Open findings over time",
            [p.at for p in pts],
            {"Open": [p.open for p in pts], "New": [p.new for p in pts], "Resolved": [p.resolved for p in pts]},
        )
    obj = report.model_dump(mode="json")
    return Page(
        r=report,
        reach=reach(report),
        today=today,
        generated_at=now or datetime.now(UTC),
        catalog=catalog,
        profile=profile,
        headline=view.headline(report, today, counts),
        actions=tuple(actions[:TOP_ACTIONS]),
        action_total=len(actions),
        counts=counts,
        kev=tuple(view.kev_rows(report, today)),
        overdue=tuple(view.overdue_findings(report, today)),
        inherited=tuple(view.inherited_findings(report)),
        overdue_obligations=tuple(r for r in obligations.results if r.overdue) if obligations else (),
        attestations=tuple(r for r in obligations.results if r.status is ObligationStatus.ATTESTATION_REQUIRED)
        if obligations
        else (),
        severity_chart=severity_chart(view.severity_counts(report.findings)),
        obligation_chart=obligation_chart(counts.obligations) if obligations else None,
        history_chart=history_chart,
        frameworks=_frameworks(report, catalog, profile),
        hosts=tuple(view.hosts_with_findings(report)),
        quiet=tuple(view.quiet_assets(report)),
        gaps=open_questions,
        history=history,
        probes=_probe_stats(report),
        digest=report_hash(obj),
        size=len(canonical_bytes(obj)),
        catalog_matches=catalog.version == report.catalog_version,
    )


@cache
def cached_catalog() -> ReportCatalog:
    return load_report_catalog()


_HEX = re.compile(r"^[0-9a-fA-F]{2}$")


def hexdump(excerpt: str, limit: int = HEX_BYTES_SHOWN) -> str:
    """Space-separated hex → offset, 16 bytes, printable ASCII: how an engineer reads a capture."""
    tokens = excerpt.split()
    if not tokens or not all(_HEX.match(t) for t in tokens):
        return excerpt[: limit * 3]
    data = bytes(int(t, 16) for t in tokens[:limit])
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:04x}  {hexpart:<47}  {text}")
    if len(tokens) > limit:
        lines.append(f"… {len(tokens) - limit} more bytes in the JSON report")
    return "\n".join(lines)


def clip(text: str, limit: int = TEXT_CHARS_SHOWN) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… {len(text) - limit} more characters in the JSON report"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links become clickable: a report from elsewhere may carry ``javascript:``."""
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url) else None


_CVE = re.compile(r"^CVE-\d{4}-\d{4,7}$")


def cve_url(cve: str) -> str | None:
    return f"https://www.cve.org/CVERecord?id={cve}" if _CVE.match(cve) else None


def kev_first(cves: Sequence[KevStatus]) -> list[KevStatus]:
    return sorted(cves, key=lambda c: (c.known_exploited is not True, c.cve))


def deadline_text(profile: Profile) -> str:
    days = [(s.value, profile.deadlines.days(s)) for s in sorted(Severity, key=lambda s: -s.rank)]
    text = "; ".join(f"{name} {d} days" for name, d in days if d is not None) or "none set"
    return f"{text} (source: {profile.deadlines.source})" if profile.deadlines.source else text


def status_label(status: ObligationStatus) -> str:
    return status.value.replace("_", " ").capitalize()


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("duecare.report", "templates"),
        autoescape=True,  # every template, whatever its name: the data is hostile
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters.update(hexdump=hexdump, clip=clip, one_line=view.one_line, plural=plural, anchor=view.anchor)
    env.globals.update(
        finding_id=view.finding_id,
        reach_settle=SETTLE,
        deadline_state=view.deadline_state,
        inherited_text=view.inherited_text,
        public_for=view.public_for,
        status_label=status_label,
        kev_first=kev_first,
        obligation_groups=view.obligation_groups,
        deadline_text=deadline_text,
        port_count=view.port_count,
        port_summary=lambda ranges: port_summary(view.parse_ports(ranges), ranges),
        detail_rows=detail_rows,
        shown_earlier=shown_earlier,
        severities=sorted(Severity, key=lambda s: -s.rank),
        safe_url=safe_url,
        cve_url=cve_url,
        confidence_meaning=view.CONFIDENCE_MEANING,
        severity_swatches=SEVERITY_SWATCHES,
        obligation_swatches=OBLIGATION_SWATCHES,
        ProbeStatus=ProbeStatus,
        DeadlineState=DeadlineState,
        ObligationStatus=ObligationStatus,
        Verdict=Verdict,
    )
    return env


def render(report: Report, *, history: History | None = None, catalog: ReportCatalog | None = None) -> str:
    page = build_page(report, catalog, history)
    return environment().get_template("report.html.j2").render(p=page)


def check_output(path: Path) -> None:
    """Fail before a scan, not after it, when the requested format cannot be written."""
    if path.suffix.lower() == ".pdf":
        require_weasyprint()


def write_html_or_pdf(html: str, path: Path) -> None:
    if path.suffix.lower() == ".pdf":
        write_atomic(path, html_to_pdf(html))
        return
    write_atomic(path, html.encode("utf-8"))


def write_report(report: Report, path: Path, *, history: History | None = None) -> None:
    write_html_or_pdf(render(report, history=history), path)
