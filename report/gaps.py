"""What the scan could not establish, and what would settle each point.

Four sources, so an absent finding is never read as a pass: indeterminate findings and the probe
attempts that did not complete (grouped per service), requirements the profile names that a network
scan cannot judge, and the catalog's entries that are not network-observable at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from ipaddress import ip_address
from typing import assert_never

from duecare.advisories.advisory import Advisory
from duecare.advisories.unobservable import Unobservable
from duecare.report.catalog import ReportCatalog
from duecare.report.view import finding_id
from duecare.wire import Finding, ObligationResult, ObligationStatus, ProbeAttempt, ProbeStatus, Report, Verdict
from duecare.wire.models import SKIP_CLASS_NOT_ALLOWED, SKIP_HOST_SILENT

NOT_OBSERVABLE_PREFIX = "not observable from the network: "


def settle_hint(status: ProbeStatus, proto: str | None = "tcp", error: str | None = None) -> str:
    """What would settle a check whose probe ended with ``status`` (and, for a skip, why it was skipped)."""
    match status:
        case ProbeStatus.SKIPPED if (error or "").startswith(SKIP_HOST_SILENT):
            return (
                "Not run: this host accepted connections on several ports and then never answered (a tarpit, an "
                "intrusion-prevention device or a hung host), so its other services were not probed. Identify "
                "the device and check it locally, or re-run with [limits] silent_host_timeouts = 0 to probe "
                "every service regardless."
            )
        case ProbeStatus.SKIPPED if (error or "").startswith(SKIP_CLASS_NOT_ALLOWED):
            return (
                "Not run: the configuration does not allow this class of probe. Allow it in [probes] classes "
                "(vuln-specific checks only with the client's written consent), or check the host locally."
            )
        case ProbeStatus.TIMED_OUT if proto == "udp":
            return (
                "No answer over UDP: the port may be filtered, or the service ignores clients it does not know "
                "(an SNMP access list, for example). Check the device's configuration, or re-run."
            )
        case ProbeStatus.TIMED_OUT:
            return (
                "The service accepted the connection but did not answer in time (a tarpit, an intrusion-"
                "prevention device or an overloaded host). Identify the service on the device, or re-run "
                "with longer [timeouts]."
            )
        case ProbeStatus.UNREACHABLE:
            return "The port was open in the port scan but refused the probe. Re-run; check host firewalls."
        case ProbeStatus.PROTOCOL_ERROR:
            return (
                "The service answered, but not as the expected protocol. Identify what listens on this port "
                "on the device itself."
            )
        case ProbeStatus.NOT_PERMITTED:
            return "The agent lacked the rights for this check. Run it with raw-socket rights (CAP_NET_RAW)."
        case ProbeStatus.SKIPPED:
            return "Not run (see what happened). Check the host locally, or re-run once the cause is removed."
        case ProbeStatus.BUG:
            return "duecare failed on this check; report it with the traceback kept in the JSON report."
        case ProbeStatus.COMPLETED:
            return (
                "The probe completed but the service did not disclose what the check needs. A credentialed "
                "check or the device's own configuration settles it."
            )
        case _:
            assert_never(status)


@dataclass(frozen=True)
class OpenQuestion:
    """One service (or host) where some checks ended without a verdict."""

    ip: str
    port: int | None
    proto: str | None
    findings: tuple[Finding, ...]
    attempts: tuple[ProbeAttempt, ...]

    @property
    def label(self) -> str:
        return "host" if self.port is None else f"{self.port}/{self.proto or '?'}"

    @property
    def finding_ids(self) -> tuple[str, ...]:
        return tuple(finding_id(f) for f in self.findings)

    @property
    def reasons(self) -> tuple[str, ...]:
        texts = [
            f"{a.probe}: {a.status.value.replace('_', ' ')}" + (f" — {a.error}" if a.error else "")
            for a in self.attempts
        ]
        texts += [f.reason for f in self.findings if not self.attempts]
        return tuple(dict.fromkeys(texts))

    @property
    def hints(self) -> tuple[str, ...]:
        if not self.attempts:
            return (settle_hint(ProbeStatus.COMPLETED, self.proto),)
        return tuple(dict.fromkeys(settle_hint(a.status, self.proto, a.error) for a in self.attempts))

    @property
    def probes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.probe for a in self.attempts))

    @property
    def unsettled(self) -> int:
        """The checks this row lists as not settled: its undecided findings, else its unfinished probes."""
        return len(self.findings) or len(self.probes)


def open_questions(report: Report) -> list[OpenQuestion]:
    Key = tuple[str, int | None, str | None]
    findings: defaultdict[Key, list[Finding]] = defaultdict(list)
    attempts: defaultdict[Key, list[ProbeAttempt]] = defaultdict(list)
    for f in report.findings:
        if f.verdict is Verdict.INDETERMINATE:
            findings[(str(f.ip), f.port, f.proto.value if f.proto else None)].append(f)
    for a in report.attempts:
        if a.status is not ProbeStatus.COMPLETED:
            attempts[(str(a.ip), a.port, a.proto.value if a.proto else None)].append(a)
    keys = sorted(set(findings) | set(attempts), key=lambda k: (int(ip_address(k[0])), k[1] or -1, k[2] or ""))
    return [
        OpenQuestion(ip, port, proto, tuple(sorted(findings[k], key=lambda f: -f.severity.rank)), tuple(attempts[k]))
        for k in keys
        for ip, port, proto in [k]
    ]


@dataclass(frozen=True)
class Undecided:
    """A requirement of the profile left ``unknown``, with what would settle it."""

    result: ObligationResult
    framework_title: str
    observable: bool
    settle: str


def undecided_requirements(report: Report, catalog: ReportCatalog) -> list[Undecided]:
    if report.obligations is None:
        return []
    out = []
    for r in report.obligations.results:
        if r.status is not ObligationStatus.UNKNOWN:
            continue
        observable = not r.reason.startswith(NOT_OBSERVABLE_PREFIX)
        if observable:
            settle = r.reason
        else:
            settle = catalog.settle(r.framework, r.requirement) or r.reason.removeprefix(NOT_OBSERVABLE_PREFIX)
        out.append(Undecided(r, catalog.framework_title(r.framework), observable, settle))
    out.sort(key=lambda u: (u.observable, u.result.framework, u.result.requirement))
    return out


@dataclass(frozen=True)
class Gaps:
    questions: tuple[OpenQuestion, ...]
    requirements: tuple[Undecided, ...]
    unobservable: tuple[Unobservable, ...]
    unobservable_advisories: tuple[Advisory, ...]
    notes: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.questions or self.requirements or self.unobservable or self.unobservable_advisories)

    @property
    def unsettled(self) -> int:
        """ "Checks not settled": the one count the summary, the terminal and section 4 all show."""
        return sum(q.unsettled for q in self.questions)

    def unsettled_at(self, ip: str) -> int:
        return sum(q.unsettled for q in self.questions if q.ip == ip)


def gaps(report: Report, catalog: ReportCatalog) -> Gaps:
    return Gaps(
        questions=tuple(open_questions(report)),
        requirements=tuple(undecided_requirements(report, catalog)),
        unobservable=catalog.unobservable,
        unobservable_advisories=catalog.unobservable_advisories,
        notes=report.scope.notes,
    )
