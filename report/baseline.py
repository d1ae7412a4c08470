"""The baseline exhibit: what changed between the report signed with a contract and a later one.

Findings are matched by (address, exposure, port). A finding of the baseline that the current
report does not show is *resolved* only if the current scan looked again — same address and port in
its scope and not merely ``indeterminate`` this time; otherwise it is *not re-checked*, because
"could not tell" is not "fixed" (the collector's rule in ``collector/lifecycle.py``, restated here).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from pathlib import Path

from pydantic import ValidationError

from duecare.report.errors import BaselineError
from duecare.report.html import cached_catalog, environment
from duecare.report.view import parse_ports
from duecare.wire import Finding, ObligationStatus, Report, SignedReport, Verdict, report_hash

BaselineKey = tuple[str, str, int | None]


def key(f: Finding) -> BaselineKey:
    return (str(f.ip), f.exposure.value, f.port)


def load_report(path: Path) -> Report:
    """A wire Report from ``--json``/``--out`` output, or the report inside a signed envelope."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BaselineError(f"{path}: {exc.strerror}") from exc
    try:
        return Report.model_validate_json(raw)
    except ValidationError as plain:
        try:
            return Report.model_validate(SignedReport.model_validate_json(raw).report)
        except ValidationError:
            msg = plain.errors()[0]
            where = ".".join(str(p) for p in msg["loc"])
            raise BaselineError(f"{path}: not a duecare report ({where}: {msg['msg']})") from plain


def covered(report: Report, f: Finding) -> bool:
    """Did ``report``'s scan look at the finding's address and port at all?"""
    addr = ip_address(f.ip)
    inside = any(addr in ip_network(t, strict=False) for t in report.scope.targets if _is_net(t))
    excluded = any(addr in ip_network(t, strict=False) for t in report.scope.exclusions if _is_net(t))
    if not inside or excluded:
        return False
    if f.port is None:
        return True
    ports = report.scope.udp_ports if f.proto is not None and f.proto.value == "udp" else report.scope.tcp_ports
    return f.port in parse_ports(ports)


def _is_net(text: str) -> bool:
    try:
        ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class StillOpen:
    before: Finding
    now: Finding

    @property
    def severity_changed(self) -> bool:
        return self.before.severity is not self.now.severity


@dataclass(frozen=True)
class NotRechecked:
    finding: Finding
    why: str


@dataclass(frozen=True)
class ObligationChange:
    framework: str
    requirement: str
    title: str
    before: ObligationStatus | None
    now: ObligationStatus | None


@dataclass(frozen=True)
class BaselineDiff:
    baseline: Report
    current: Report
    new: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    still_open: tuple[StillOpen, ...]
    not_rechecked: tuple[NotRechecked, ...]
    obligations: tuple[ObligationChange, ...]

    @property
    def baseline_digest(self) -> str:
        return report_hash(self.baseline.model_dump(mode="json"))

    @property
    def current_digest(self) -> str:
        return report_hash(self.current.model_dump(mode="json"))


def _affected(report: Report) -> dict[BaselineKey, Finding]:
    out: dict[BaselineKey, Finding] = {}
    for f in report.findings:
        if f.verdict is Verdict.AFFECTED and (key(f) not in out or f.severity.rank > out[key(f)].severity.rank):
            out[key(f)] = f
    return out


def _obligation_changes(baseline: Report, current: Report) -> list[ObligationChange]:
    def table(r: Report) -> dict[tuple[str, str], tuple[str, ObligationStatus]]:
        return {
            (o.framework, o.requirement): (o.title, o.status) for o in (r.obligations.results if r.obligations else ())
        }

    before, now = table(baseline), table(current)
    out = []
    for k in sorted(before.keys() | now.keys()):
        b, n = before.get(k), now.get(k)
        was, is_now = (b[1] if b else None), (n[1] if n else None)
        if was is not is_now:
            title = n[0] if n else b[0] if b else ""
            out.append(ObligationChange(k[0], k[1], title, was, is_now))
    return out


def diff(baseline: Report, current: Report) -> BaselineDiff:
    before, now = _affected(baseline), _affected(current)
    undecided = {key(f) for f in current.findings if f.verdict is Verdict.INDETERMINATE}
    resolved, not_rechecked = [], []
    for k, f in before.items():
        if k in now:
            continue
        if k in undecided:
            not_rechecked.append(NotRechecked(f, "the current scan could not decide it (indeterminate)"))
        elif not covered(current, f):
            not_rechecked.append(NotRechecked(f, "outside the current scan's scope or ports"))
        else:
            resolved.append(f)

    def order(f: Finding) -> tuple[int, int, str, int]:
        return (-f.severity.rank, int(ip_address(f.ip)), f.exposure.value, f.port or 0)

    return BaselineDiff(
        baseline=baseline,
        current=current,
        new=tuple(sorted((f for k, f in now.items() if k not in before), key=order)),
        resolved=tuple(sorted(resolved, key=order)),
        still_open=tuple(
            StillOpen(before[k], f) for k, f in sorted(now.items(), key=lambda kv: order(kv[1])) if k in before
        ),
        not_rechecked=tuple(sorted(not_rechecked, key=lambda n: order(n.finding))),
        obligations=tuple(_obligation_changes(baseline, current)),
    )


def render_baseline(d: BaselineDiff) -> str:
    return environment().get_template("baseline.html.j2").render(d=d, catalog=cached_catalog())


def summary_line(d: BaselineDiff) -> str:
    return (
        f"{len(d.new)} new, {len(d.resolved)} resolved, {len(d.still_open)} still open, "
        f"{len(d.not_rechecked)} not re-checked; {len(d.obligations)} obligation(s) changed status"
    )
