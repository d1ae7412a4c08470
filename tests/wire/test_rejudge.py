"""wire/rejudge.py: the case the agent judged, selected for each value of ``internet_exposed``."""

from __future__ import annotations

from datetime import date
from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from duecare.wire import (
    DeadlineState,
    Exposure,
    Finding,
    ObligationRef,
    ObligationResult,
    ObligationStatus,
    ObligationSummary,
    Proto,
    Severity,
    Timeline,
    Vantage,
    Verdict,
)
from duecare.wire.models import ClockByExposure, ClockCase, FindingStake, ResultByExposure, Stake, StakeCase
from duecare.wire.rejudge import (
    clock_for,
    decide,
    finding_key,
    rejudge_result,
    rejudge_summary,
    select_clock,
    stake_case,
    with_statuses,
)

DAY = date(2026, 11, 30)
VALUES = (True, False, None)


def _timeline(tier: str) -> Timeline:
    return Timeline(first_seen=DAY, clock_start=DAY, state=DeadlineState.DUE, basis=tier)


def _finding(exposed: bool | None, port: int = 3389) -> Finding:
    """As the agent judges it from inside (reachability unknown), then marked by a join."""
    return Finding(
        exposure=Exposure.RDP_NO_NLA,
        ip=ip_address("10.0.0.5"),
        port=port,
        proto=Proto.TCP,
        severity=Severity.HIGH,
        verdict=Verdict.AFFECTED,
        title="RDP",
        reason="no NLA",
        deadline=date(2026, 12, 30),
        timeline=_timeline("unknown"),
        internet_exposed=exposed,
        by_exposure=ClockByExposure(
            judged=None,
            exposed=ClockCase(deadline=date(2026, 12, 3), timeline=_timeline("exposed tier")),
            not_exposed=ClockCase(deadline=date(2027, 1, 29), timeline=_timeline("not exposed tier")),
        ),
    )


EXPECTED = {
    True: (date(2026, 12, 3), "exposed tier"),
    False: (date(2027, 1, 29), "not exposed tier"),
    None: (date(2026, 12, 30), "unknown"),
}


def test_select_clock_for_each_value() -> None:
    for value in VALUES:
        f = select_clock(_finding(value))
        assert f.timeline is not None and (f.deadline, f.timeline.basis) == EXPECTED[value]
        assert f.by_exposure is not None and f.by_exposure.judged is value
        # The clock it held is kept: selecting any other value from here gives that value's case.
        for other in VALUES:
            g = select_clock(f.model_copy(update={"internet_exposed": other}))
            assert g.timeline is not None and (g.deadline, g.timeline.basis) == EXPECTED[other]
            assert clock_for(g, value).deadline == EXPECTED[value][0]
    unchanged = _finding(None)
    assert select_clock(unchanged) is unchanged


def test_the_judged_case_is_carried_once() -> None:
    with pytest.raises(ValidationError, match="only the judged one is empty"):
        ClockByExposure(judged=None, exposed=ClockCase(), not_exposed=ClockCase(), unknown=ClockCase())
    with pytest.raises(ValidationError, match="internet_exposed=False is empty"):
        ClockByExposure(judged=True, unknown=ClockCase())


def test_a_finding_from_before_the_cases_keeps_its_clock() -> None:
    old = _finding(True).model_copy(update={"by_exposure": None, "deadline": date(2027, 3, 1)})
    assert select_clock(old) is old


def _otherwise(vantage: Vantage = Vantage.INTERNET) -> ObligationResult:
    return ObligationResult(
        framework="cis",
        requirement="12.7",
        title="Remote access",
        status=ObligationStatus.NO_CONTRARY_EVIDENCE,
        reason="nothing from inside",
        vantage=vantage,
    )


def _internet_stake(key: str = "10.0.0.5|rdp-no-nla|3389/tcp", deadline: date = date(2026, 12, 3)) -> FindingStake:
    return FindingStake(
        finding=key,
        exposure=Exposure.RDP_NO_NLA,
        reason="no NLA",
        judged=None,
        exposed=StakeCase(stake=Stake.NOT_MET, deadline=deadline),
        not_exposed=StakeCase(stake=Stake.NONE),
        unknown=StakeCase(stake=Stake.NEEDS_OUTSIDE_VIEW),
    )


def test_an_internet_requirement_for_each_value() -> None:
    dep = ResultByExposure(judged_on=DAY, stakes=(_internet_stake(),), otherwise=_otherwise())
    key = "10.0.0.5|rdp-no-nla|3389/tcp"
    met = decide(dep, {key: True})
    assert met.status is ObligationStatus.NOT_MET and met.findings == (key,)
    assert met.deadline == date(2026, 12, 3) and not met.overdue
    assert met.reason == "1 finding reachable from the internet: rdp-no-nla"
    closed = decide(dep, {key: False})
    assert closed.status is ObligationStatus.NO_CONTRARY_EVIDENCE and closed.reason == "nothing from inside"
    unknown = decide(dep, {key: None})
    assert unknown.status is ObligationStatus.UNKNOWN and "needs an outside view" in unknown.reason
    assert unknown.deadline is None and unknown.findings == (key,)
    # A finding the join does not name keeps the value the agent judged it with.
    assert decide(dep, {}).status is ObligationStatus.UNKNOWN
    # Each result can be re-judged again.
    assert rejudge_result(met, {key: False}) == closed.model_copy(update={"by_exposure": dep})


def test_an_undecided_finding_known_unreachable_decides_nothing() -> None:
    stake = FindingStake(
        finding="k",
        exposure=Exposure.VNC_NO_AUTH,
        reason="tentative",
        exposed=StakeCase(stake=Stake.UNDECIDED),
        not_exposed=StakeCase(stake=Stake.NONE),
        unknown=StakeCase(stake=Stake.UNDECIDED),
    )
    dep = ResultByExposure(judged_on=DAY, stakes=(stake,), otherwise=_otherwise(Vantage.EITHER))
    assert decide(dep, {"k": True}).reason == "could not be decided (vnc-no-auth: tentative)"
    assert decide(dep, {"k": None}).status is ObligationStatus.UNKNOWN
    assert decide(dep, {"k": False}).status is ObligationStatus.NO_CONTRARY_EVIDENCE


def test_a_past_deadline_is_overdue_on_the_day_judged() -> None:
    dep = ResultByExposure(judged_on=DAY, stakes=(_internet_stake(deadline=date(2026, 11, 1)),), otherwise=_otherwise())
    assert decide(dep, {"10.0.0.5|rdp-no-nla|3389/tcp": True}).overdue


def test_references_follow_the_statuses() -> None:
    ref = ObligationRef(framework="cis", requirement="12.7", title="t", status=ObligationStatus.UNKNOWN)
    f = _finding(True).model_copy(update={"obligations": (ref,)})
    out = with_statuses(f, {("cis", "12.7"): ObligationStatus.NOT_MET})
    assert out.obligations[0].status is ObligationStatus.NOT_MET
    assert with_statuses(f, {}) is f


# -- properties -------------------------------------------------------------------------------------

stakes = st.sampled_from(list(Stake))
dates = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def stake_cases(draw: st.DrawFn) -> StakeCase:
    stake = draw(stakes)
    if stake is Stake.NOT_MET:
        return StakeCase(stake=stake, deadline=draw(st.none() | dates), inherited_due=draw(st.none() | dates))
    return StakeCase(stake=stake)


@st.composite
def results(draw: st.DrawFn, n: int) -> ObligationResult:
    keys = draw(st.lists(st.sampled_from([f"10.0.0.{i}|rdp-no-nla|3389/tcp" for i in range(6)]), max_size=5))
    stake_list = tuple(
        FindingStake(
            finding=k,
            exposure=Exposure.RDP_NO_NLA,
            reason="r",
            judged=draw(st.sampled_from(VALUES)),
            exposed=draw(stake_cases()),
            not_exposed=draw(stake_cases()),
            unknown=draw(stake_cases()),
        )
        for k in keys
    )
    # What the agent decides when no finding has a stake: never "not met" (that needs a finding).
    otherwise = draw(st.sampled_from([s for s in ObligationStatus if s is not ObligationStatus.NOT_MET]))
    base = ObligationResult(framework="f", requirement=f"r{n}", title="t", status=otherwise, vantage=Vantage.INTERNET)
    dep = ResultByExposure(judged_on=DAY, stakes=stake_list, otherwise=base)
    return decide(dep) if draw(st.booleans()) else base  # some results from before the cases existed


@st.composite
def summaries(draw: st.DrawFn) -> ObligationSummary:
    items = tuple(draw(results(i)) for i in range(draw(st.integers(0, 6))))
    return ObligationSummary.of("p", items)


exposures = st.dictionaries(
    st.sampled_from([f"10.0.0.{i}|rdp-no-nla|3389/tcp" for i in range(6)]), st.sampled_from(VALUES)
)


@given(summaries(), exposures)
def test_counts_stay_equal_to_the_results(summary: ObligationSummary, exposed: dict[str, bool | None]) -> None:
    out = rejudge_summary(summary, exposed)  # validates: every count equals the results'
    for status in ObligationStatus:
        assert getattr(out, status.value) == sum(1 for r in out.results if r.status is status)
    assert len(out.results) == len(summary.results)
    for before, after in zip(summary.results, out.results, strict=True):
        if before.by_exposure is None:
            assert after is before  # judged as before
            continue
        chosen = [stake_case(s, exposed.get(s.finding, s.judged)) for s in before.by_exposure.stakes]
        assert (after.status is ObligationStatus.NOT_MET) == any(c.stake is Stake.NOT_MET for c in chosen)
        assert set(after.findings) <= {s.finding for s in before.by_exposure.stakes}
        if after.status is not ObligationStatus.NOT_MET:
            assert after.deadline is None
    # Selecting again for the same values changes nothing.
    assert rejudge_summary(out, exposed) == out


@given(summaries())
def test_the_values_judged_give_the_results_judged(summary: ObligationSummary) -> None:
    assert rejudge_summary(summary, {}) == summary


def test_finding_key_is_the_agents() -> None:
    assert finding_key(_finding(None)) == "10.0.0.5|rdp-no-nla|3389/tcp"
