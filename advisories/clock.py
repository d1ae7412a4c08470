"""The engagement clock: a finding's deadline under this engagement, and what it inherited. Pure.

The clock starts at max(engagement start, first seen). Candidates for the deadline: the profile's
severity days (findings without a CVE, or whenever BOD 26-04 cannot give a date), BOD 26-04's tier
(only once its Table 1 is verified against the directive), and CISA's KEV dueDate when it falls on or
after the clock start. A published due date before the clock start is *inherited*: overdue before the
engagement began, reported as such and never as "past the agreed deadline".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from duecare.advisories.profiles import Profile
from duecare.wire import Bod2604Tier, Confidence, DeadlineState, Finding, KevStatus, Timeline


@dataclass(frozen=True, slots=True)
class Clock:
    deadline: date | None
    timeline: Timeline


def _sla(f: Finding, profile: Profile, start: date) -> tuple[date, str] | None:
    days = profile.deadlines.days(f.severity)
    if days is None:
        return None
    return start + timedelta(
        days=days
    ), f"{f.severity.value} findings: {days} days from {start} ({profile.deadlines.source})"


def _bod_basis(bod: Bod2604Tier | None) -> str:
    if bod is None:
        return ""
    if bod.tier is None and bod.if_exposed is None:
        return f"BOD 26-04 tier unknown ({bod.note or 'no SSVC values'})"
    if bod.tier is None:
        return (
            f"BOD 26-04 deadline unknown: {bod.if_exposed} if publicly exposed, {bod.if_not_exposed} if not "
            f"({bod.source}); {bod.settle}"
        )
    if not bod.table_verified or bod.days is None:
        why = "no day count" if bod.days is None else "indicative only"
        return f"BOD 26-04 deadline unknown ({why}): {bod.tier} ({bod.source})"
    return ""


def compute(
    f: Finding,
    cves: Sequence[KevStatus],
    profile: Profile,
    first_seen: date,
    today: date,
    bod: Bod2604Tier | None,
) -> Clock:
    engagement = profile.engagement_start
    start = max(engagement, first_seen) if engagement else first_seen
    confirmed = f.confidence is not Confidence.TENTATIVE
    has_cve = confirmed and bool(cves)
    candidates: list[tuple[date, str]] = []
    notes: list[str] = []
    if has_cve and profile.cve_timeline == "bod-26-04":
        if bod is not None and bod.table_verified and bod.tier is not None and bod.days is not None:
            candidates.append((start + timedelta(days=bod.days), f"BOD 26-04 Table 1: {bod.tier} from {start}"))
        else:
            notes.append(_bod_basis(bod) or "BOD 26-04 tier unknown")
            sla = _sla(f, profile, start)
            if sla is not None:
                candidates.append((sla[0], f"meanwhile the profile's days for {sla[1]}"))
    else:
        sla = _sla(f, profile, start)
        if sla is not None:
            candidates.append(sla)
    inherited: list[date] = []
    if profile.kev_due_dates and confirmed:
        for c in cves:
            if c.known_exploited and c.kev_due_date is not None:
                if c.kev_due_date < start:
                    inherited.append(c.kev_due_date)
                else:
                    candidates.append((c.kev_due_date, f"CISA KEV dueDate for {c.cve}"))
    deadline, basis = min(candidates) if candidates else (None, "")
    if deadline is not None and deadline < today:
        state = DeadlineState.OVERDUE
    elif inherited:
        state = DeadlineState.INHERITED
    elif deadline is not None:
        state = DeadlineState.DUE
    elif notes:
        state = DeadlineState.UNKNOWN
    else:
        state = DeadlineState.NONE
    if not basis:
        basis = "no deadline: the profile sets no days for this severity" if not notes else ""
    text = "; ".join(p for p in (basis, *notes) if p)
    triage = _forensic(cves, bod)
    return Clock(
        deadline,
        Timeline(
            first_seen=first_seen,
            engagement_start=engagement,
            clock_start=start,
            state=state,
            basis=text,
            inherited_due=min(inherited) if inherited else None,
            bod_26_04=bod,
            forensic_triage=triage,
        ),
    )


def _forensic(cves: Sequence[KevStatus], bod: Bod2604Tier | None) -> bool | None:
    """KEV's own forensicTriage "Yes" decides; otherwise the BOD 26-04 tier, None while it depends."""
    if any((c.forensic_triage or "").strip().lower() == "yes" for c in cves):
        return True
    if bod is None:
        return None
    return bod.forensic_triage
