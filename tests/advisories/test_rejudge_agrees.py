"""Selecting the case the agent judged equals judging afresh with the join's values (issue 14, point 4).

The agent judges with ``internet_exposed`` as it knows it (mostly unknown from inside); the collector's
join sets it later and selects (``wire/rejudge.py``). For any values, the selection must give what the
agent would have judged had it known them: statuses, reasons, findings, deadlines, clocks, references.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from duecare.advisories.catalog import Catalog, collect
from duecare.advisories.obligations import apply_profile
from duecare.wire import Confidence, Exposure, Finding, ObligationSummary, Proto, Severity, Verdict
from duecare.wire.rejudge import exposure_by_key, rejudge_summary, select_clock, statuses_of, with_statuses
from tests.advisories.conftest import NOW

CATALOG: Catalog = collect()[0]
#: Exposures that internet-only requirements and BOD 26-04 tiers turn on, on a few hosts.
SHAPES = [
    (Exposure.RDP_NO_NLA, 3389, Severity.HIGH),
    (Exposure.RDP_BLUEKEEP_LIKELY, 3389, Severity.CRITICAL),
    (Exposure.SMB_MS17_010, 445, Severity.CRITICAL),
    (Exposure.VNC_NO_AUTH, 5900, Severity.HIGH),
    (Exposure.IPMI_EXPOSED, 623, Severity.HIGH),
    (Exposure.UPNP_IGD_PORT_MAPPINGS, 1900, Severity.MEDIUM),
]


@st.composite
def findings(draw: st.DrawFn) -> list[tuple[Finding, bool | None]]:
    out = []
    for host in draw(st.lists(st.integers(2, 6), min_size=1, max_size=4, unique=True)):
        exposure, port, severity = draw(st.sampled_from(SHAPES))
        f = Finding(
            exposure=exposure,
            ip=ip_address(f"10.0.0.{host}"),
            port=port,
            proto=Proto.UDP if port in (623, 1900) else Proto.TCP,
            severity=severity,
            verdict=draw(st.sampled_from([Verdict.AFFECTED, Verdict.AFFECTED, Verdict.INDETERMINATE])),
            title=exposure.value,
            reason="seen",
            confidence=draw(st.sampled_from(list(Confidence))),
        )
        out.append((f, draw(st.sampled_from([True, False, None]))))
    return out


def _result_view(summary: ObligationSummary) -> list[tuple[Any, ...]]:
    return [
        (r.framework, r.requirement, r.status, r.findings, r.deadline, r.overdue, r.inherited_due, r.reason)
        for r in summary.results
    ]


def _finding_view(f: Finding) -> tuple[Any, ...]:
    return (f.internet_exposed, f.deadline, f.timeline, f.obligations)


@settings(deadline=None)
@given(findings(), st.sampled_from(["government", "pci", "hipaa", "baseline"]))
def test_selecting_equals_judging_afresh(drawn: list[tuple[Finding, bool | None]], profile: str) -> None:
    fresh, fresh_summary = apply_profile(
        [f.model_copy(update={"internet_exposed": v}) for f, v in drawn], CATALOG, profile, NOW
    )
    inside, summary = apply_profile([f for f, _v in drawn], CATALOG, profile, NOW)
    joined = [
        select_clock(f.model_copy(update={"internet_exposed": v})) for f, (_f, v) in zip(inside, drawn, strict=True)
    ]
    selected = rejudge_summary(summary, exposure_by_key(joined))
    statuses = statuses_of(selected.results)
    joined = [with_statuses(f, statuses) for f in joined]
    assert _result_view(selected) == _result_view(fresh_summary)
    assert [selected.met, selected.not_met, selected.unknown, selected.no_contrary_evidence] == [
        fresh_summary.met,
        fresh_summary.not_met,
        fresh_summary.unknown,
        fresh_summary.no_contrary_evidence,
    ]
    assert [_finding_view(f) for f in joined] == [_finding_view(f) for f in fresh]
