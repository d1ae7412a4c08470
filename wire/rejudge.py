"""Verdicts that follow ``internet_exposed``, selected rather than judged. Pure over wire models (issue 14).

The agent judges every verdict that depends on whether the internet reaches a finding for each value
of it: a finding's clock (BOD 26-04 asks "publicly exposed?" first) in ``Finding.by_exposure``, a
requirement's status in ``ObligationResult.by_exposure`` (each finding's stake per value, and the
result when no finding has a stake). Once a join sets ``internet_exposed`` (the collector's, or the
report's site view), these functions pick the matching case: the collector, the console and the
report show re-judged verdicts without the collector importing the judge. ``decide`` is also the
agent's own last step, so both sides derive a status from stakes in one way; counts come from
``ObligationSummary.of``. Reports from before these fields carry none of them and stay as judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from duecare.wire.bounds import REASON
from duecare.wire.models import (
    ClockCase,
    Finding,
    FindingStake,
    ObligationResult,
    ObligationStatus,
    ObligationSummary,
    Report,
    ResultByExposure,
    Stake,
    StakeCase,
    Vantage,
)

#: What settles a requirement about the internet's view while only the inside was seen.
OUTSIDE_VIEW = "an outside view (the site's gateway port mappings, or a scan of its public addresses from outside)"

Exposed = Mapping[str, bool | None]
T = TypeVar("T")


def finding_key(f: Finding) -> str:
    """Stable across scans: address, exposure and port (what ``first_seen`` and stakes are keyed by)."""
    where = "-" if f.port is None else f"{f.port}/{f.proto.value if f.proto else '?'}"
    return f"{f.ip}|{f.exposure.value}|{where}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def case_of(value: bool | None, exposed: T, not_exposed: T, unknown: T) -> T:
    return exposed if value is True else not_exposed if value is False else unknown


#: Which field of ``ClockByExposure`` holds the case of each value.
CASE_SLOT: dict[bool | None, str] = {True: "exposed", False: "not_exposed", None: "unknown"}


def clock_for(f: Finding, value: bool | None) -> ClockCase:
    """The deadline and timeline the agent judged for the finding with ``internet_exposed = value``."""
    cases = f.by_exposure
    if cases is None or value is cases.judged:
        return ClockCase(deadline=f.deadline, timeline=f.timeline)
    case: ClockCase | None = getattr(cases, CASE_SLOT[value])
    assert case is not None  # the model's validator: only the judged slot is empty
    return case


def select_clock(f: Finding) -> Finding:
    """The deadline and timeline the agent judged for the finding's current ``internet_exposed``; the
    clock it held moves into the cases (nothing is lost: selecting back restores it)."""
    cases = f.by_exposure
    value = f.internet_exposed
    if cases is None or value is cases.judged:
        return f
    chosen = clock_for(f, value)
    own = ClockCase(deadline=f.deadline, timeline=f.timeline)
    swapped = cases.model_copy(update={CASE_SLOT[cases.judged]: own, CASE_SLOT[value]: None, "judged": value})
    return f.model_copy(update={"deadline": chosen.deadline, "timeline": chosen.timeline, "by_exposure": swapped})


def stake_case(s: FindingStake, value: bool | None) -> StakeCase:
    return case_of(value, s.exposed, s.not_exposed, s.unknown)


def varies(s: FindingStake) -> bool:
    """Whether the finding's reachability changes anything of the requirement."""
    return not (s.exposed == s.not_exposed == s.unknown)


def _cut(text: str) -> str:
    return text if len(text) <= REASON else text[: REASON - 1] + "…"


def decide(dep: ResultByExposure, exposed: Exposed | None = None) -> ObligationResult:
    """The requirement's result for the findings' reachability (``exposed`` by finding key; a finding
    not named keeps the value the agent judged it with). The most decisive stake wins: any finding
    that makes it not met; else one seen from inside only (needs an outside view); else one undecided;
    else ``otherwise``. The result keeps ``by_exposure`` so it can be re-judged again."""
    values = exposed or {}
    cases = [(s, stake_case(s, values.get(s.finding, s.judged))) for s in dep.stakes]
    base = dep.otherwise

    def of(stake: Stake) -> list[tuple[FindingStake, StakeCase]]:
        return [(s, c) for s, c in cases if c.stake is stake]

    def result(status: ObligationStatus, reason: str, hits: list[tuple[FindingStake, StakeCase]]) -> ObligationResult:
        counted = hits if status is ObligationStatus.NOT_MET else []  # only unmet findings set a deadline
        deadlines = [c.deadline for _s, c in counted if c.deadline is not None]
        inherited = [c.inherited_due for _s, c in counted if c.inherited_due is not None]
        deadline = min(deadlines) if deadlines else None
        return ObligationResult(
            framework=base.framework,
            requirement=base.requirement,
            title=base.title,
            status=status,
            findings=tuple(dict.fromkeys(s.finding for s, _c in hits)),
            deadline=deadline,
            overdue=deadline is not None and deadline < dep.judged_on,
            inherited_due=min(inherited) if inherited else None,
            reason=_cut(reason),
            vantage=base.vantage,
            by_exposure=dep,
        )

    def names(hits: list[tuple[FindingStake, StakeCase]]) -> str:
        return ", ".join(sorted({s.exposure.value for s, _c in hits}))

    if hits := of(Stake.NOT_MET):
        where = " reachable from the internet" if base.vantage is Vantage.INTERNET else ""
        return result(ObligationStatus.NOT_MET, f"{_plural(len(hits), 'finding')}{where}: {names(hits)}", hits)
    if hits := of(Stake.NEEDS_OUTSIDE_VIEW):
        why = (
            f"needs an outside view: {_plural(len(hits), 'finding')} seen from inside ({names(hits)}); "
            f"whether the internet reaches them is not known until {OUTSIDE_VIEW} shows it"
        )
        return result(ObligationStatus.UNKNOWN, why, hits)
    if hits := of(Stake.UNDECIDED):
        why = "; ".join(dict.fromkeys(f"{s.exposure.value}: {s.reason}" for s, _c in hits[:3]))
        return result(ObligationStatus.UNKNOWN, f"could not be decided ({why})", hits)
    return base.model_copy(update={"by_exposure": dep})


def rejudge_result(r: ObligationResult, exposed: Exposed) -> ObligationResult:
    """One stored result re-derived for the findings' reachability; unchanged when it does not depend on it."""
    return r if r.by_exposure is None else decide(r.by_exposure, exposed)


def rejudge_summary(summary: ObligationSummary, exposed: Exposed) -> ObligationSummary:
    """Every result re-derived; the counts recomputed from the results (one source, validated)."""
    results = tuple(rejudge_result(r, exposed) for r in summary.results)
    if results == summary.results:
        return summary
    return ObligationSummary.of(summary.profile, results, summary.engagement_start)


def with_statuses(f: Finding, statuses: Mapping[tuple[str, str], ObligationStatus]) -> Finding:
    """The finding's references to requirements, with the statuses those requirements now have."""
    refs = tuple(
        ref.model_copy(update={"status": statuses[(ref.framework, ref.requirement)]})
        if statuses.get((ref.framework, ref.requirement), ref.status) is not ref.status
        else ref
        for ref in f.obligations
    )
    return f if refs == f.obligations else f.model_copy(update={"obligations": refs})


def statuses_of(results: Iterable[ObligationResult]) -> dict[tuple[str, str], ObligationStatus]:
    return {(r.framework, r.requirement): r.status for r in results}


def exposure_by_key(findings: Iterable[Finding]) -> dict[str, bool | None]:
    return {finding_key(f): f.internet_exposed for f in findings}


def rejudge_report(report: Report) -> Report:
    """A report whose findings' ``internet_exposed`` a join has set: every finding's clock, every
    requirement's result, the summary's counts and the findings' references selected to match."""
    findings = tuple(select_clock(f) for f in report.findings)
    summary = report.obligations
    if summary is not None:
        summary = rejudge_summary(summary, exposure_by_key(findings))
        statuses = statuses_of(summary.results)
        findings = tuple(with_statuses(f, statuses) for f in findings)
    if findings == report.findings and summary is report.obligations:
        return report
    return report.model_copy(update={"findings": findings, "obligations": summary})
