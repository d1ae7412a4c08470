"""The owner summary's first section: what the internet reaches, where, since when and how (issue 14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from duecare.report import view
from duecare.wire import Finding, ReachabilityEvidence, Report, Verdict

#: What settles reachability when no outside view exists.
SETTLE = (
    "a scan of the site's public addresses by a duecare agent with internet vantage "
    "(or `duecare scan --public ADDR`), or a readable UPnP port-mapping table on the router"
)


@dataclass(frozen=True)
class Reachable:
    finding: Finding
    what: str
    inside: str
    public: str
    since: date
    how: str


@dataclass(frozen=True)
class Reach:
    items: tuple[Reachable, ...]
    #: Some outside evidence exists (a gateway table read or an outside scan): otherwise say so.
    looked: bool
    #: Inside findings an outside view showed closed from the internet.
    not_reachable: int


def _how(f: Finding, e: ReachabilityEvidence) -> str:
    if e.source == "gateway-mapping":
        return "UPnP mapping on the router (a program on the network opened it)"
    if f.details.get("internal_host_unknown") is True:
        return "answers on the public address itself; no inside host matched it (internal host unknown)"
    if f.details.get("vantage") == "internet":
        return "answers on the public address"
    if e.public_ip is not None and e.public_ip != f.ip:
        return "port forward on the router (same certificate or names seen from both sides)"
    return "directly on its own public address"


def reach(report: Report) -> Reach:
    items: list[Reachable] = []
    looked = report.vantage.value == "internet"
    closed = 0
    for f in report.findings:
        if f.internet_evidence:
            looked = True
        if f.verdict is not Verdict.AFFECTED or f.waived:
            continue
        if f.internet_exposed is False:
            closed += 1
        if f.internet_exposed is not True or not f.internet_evidence:
            continue
        e = f.internet_evidence[0]
        public = f"{e.public_ip}:{e.public_port}" if e.public_ip is not None else "the router's public address"
        port = "" if f.port is None else f":{f.port}"
        items.append(Reachable(f, f.title, f"{f.ip}{port}", public, view.first_seen(f, report), _how(f, e)))
    items.sort(key=lambda r: (-r.finding.severity.rank, r.public))
    return Reach(tuple(items), looked, closed)
