"""Findings + profile → obligations. Pure: the same inputs always give the same statuses.

Per requirement of every framework in the profile:

* ``unknown`` when the requirement is not network-observable, when a relevant finding is
  indeterminate or only a tentative match (banner versions), or when no rule can detect its exposures;
* ``not_met`` when a firm or certain affected finding at or above the profile's threshold is not
  waived (KEV requirements count every KEV-listed finding, whatever its severity);
* ``waived`` when every such finding is covered by an active waiver (an expired waiver re-opens it);
* ``met`` otherwise: nothing relevant was observed.

Deadlines are counted from when a finding was first seen (the scan time for a one-shot scan; the
collector or agent passes its history as ``first_seen``): the profile's days for the severity, and
no later than a KEV ``dueDate`` when the finding confirms a KEV-listed CVE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from pydantic import JsonValue

from duecare.advisories.catalog import Catalog
from duecare.advisories.frameworks import Framework, Requirement
from duecare.advisories.kev import DEFAULT_MAX_AGE, kev_status
from duecare.advisories.profiles import Profile, Waiver
from duecare.wire import (
    Exposure,
    Finding,
    KevStatus,
    ObligationRef,
    ObligationResult,
    ObligationStatus,
    ObligationSummary,
    Verdict,
)


def finding_key(f: Finding) -> str:
    """Stable across scans: address, exposure and port (what ``first_seen`` is keyed by)."""
    where = "-" if f.port is None else f"{f.port}/{f.proto.value if f.proto else '?'}"
    return f"{f.ip}|{f.exposure.value}|{where}"


def _cves(f: Finding, catalog: Catalog, now: datetime, max_age: timedelta) -> tuple[KevStatus, ...]:
    wanted = [c.cve for c in f.cves]
    for adv in catalog.advisories_flagging(f.exposure):
        if adv.flag_cves:
            wanted.extend(adv.cves)
    given = {c.cve: c for c in f.cves}
    out = []
    for cve in dict.fromkeys(wanted):
        prior = given.get(cve)
        # The KEV version rule already looked its CVEs up, with a note that the version is unconfirmed.
        out.append(prior if prior and prior.known_exploited else kev_status(cve, catalog.kev, now, max_age))
    return tuple(out)


def _waiver_for(f: Finding, waivers: Sequence[Waiver]) -> Waiver | None:
    covering = [w for w in waivers if w.covers(f)]
    return max(covering, key=lambda w: w.expires) if covering else None


def _waiver_details(w: Waiver, active: bool) -> dict[str, JsonValue]:
    return {
        "id": w.id,
        "owner": w.owner,
        "approved_by": w.approved_by,
        "reason": w.reason,
        "compensating_control": w.compensating_control,
        "expires": w.expires.isoformat(),
        "active": active,
    }


def _deadline(f: Finding, cves: Sequence[KevStatus], profile: Profile, first: datetime) -> date | None:
    candidates: list[date] = []
    days = profile.deadlines.days(f.severity)
    if days is not None:
        candidates.append(first.date() + timedelta(days=days))
    # A tentative match has not confirmed the CVE, so its KEV due date does not bind (yet).
    if profile.kev_due_dates and f.confidence != "tentative":
        candidates.extend(c.kev_due_date for c in cves if c.known_exploited and c.kev_due_date)
    return min(candidates) if candidates else None


def _enrich(
    f: Finding,
    catalog: Catalog,
    profile: Profile,
    now: datetime,
    waivers: Sequence[Waiver],
    first_seen: Mapping[str, datetime],
    max_age: timedelta,
) -> Finding:
    cves = _cves(f, catalog, now, max_age)
    details = dict(f.details)
    waiver = _waiver_for(f, waivers)
    waived = waiver is not None and waiver.active(now)
    if waiver is not None:
        details["waiver"] = _waiver_details(waiver, waived)
    deadline = None
    if f.verdict is Verdict.AFFECTED and not waived:
        deadline = _deadline(f, cves, profile, first_seen.get(finding_key(f), now))
    refs = tuple(sorted((a.ref() for a in catalog.advisories_flagging(f.exposure)), key=lambda r: r.id))
    return f.model_copy(
        update={"advisories": refs, "cves": cves, "waived": waived, "deadline": deadline, "details": details}
    )


def _relevant(req: Requirement, f: Finding) -> bool:
    if f.exposure not in req.exposures or f.verdict is Verdict.NOT_AFFECTED:
        return False
    return not req.kev_only or any(c.known_exploited is not False for c in f.cves)


def _confirms(req: Requirement, f: Finding) -> bool:
    """An affected finding that is not a guess (and, for KEV requirements, confirms a KEV CVE)."""
    return (
        f.verdict is Verdict.AFFECTED
        and f.confidence != "tentative"
        and (not req.kev_only or any(c.known_exploited for c in f.cves))
    )


def _judge(
    fw: Framework,
    req: Requirement,
    by_exposure: Mapping[Exposure, Sequence[Finding]],
    profile: Profile,
    catalog: Catalog,
    today: date,
) -> ObligationResult:
    def result(
        status: ObligationStatus, reason: str, hits: Iterable[Finding] = (), deadline: date | None = None
    ) -> ObligationResult:
        return ObligationResult(
            framework=fw.id,
            requirement=req.id,
            title=req.title,
            status=status,
            findings=tuple(dict.fromkeys(finding_key(f) for f in hits)),
            deadline=deadline,
            overdue=deadline is not None and deadline < today,
            reason=reason,
        )

    if not req.observable:
        return result(ObligationStatus.UNKNOWN, f"not observable from the network: {req.what_would_settle_it}")
    relevant = [f for e in req.exposures for f in by_exposure.get(e, ()) if _relevant(req, f)]
    if not req.kev_only:  # KEV due dates bind whatever the severity (BOD 22-01)
        relevant = [f for f in relevant if f.severity.rank >= profile.severity_threshold.rank]
    live = [f for f in relevant if not f.waived]
    confirmed = [f for f in live if _confirms(req, f)]
    if confirmed:
        deadlines = [f.deadline for f in confirmed if f.deadline is not None]
        deadline = min(deadlines) if deadlines else None
        exposures = ", ".join(sorted({f.exposure.value for f in confirmed}))
        return result(
            ObligationStatus.NOT_MET,
            f"{len(confirmed)} finding(s): {exposures}",
            confirmed,
            deadline,
        )
    open_questions = [f for f in live if not _confirms(req, f)]
    if open_questions:
        why = "; ".join(dict.fromkeys(f"{f.exposure.value}: {f.reason}" for f in open_questions[:3]))
        return result(ObligationStatus.UNKNOWN, f"could not be decided ({why})", open_questions)
    undetectable = sorted(e.value for e in set(req.exposures) - catalog.detectable())
    if undetectable:
        return result(ObligationStatus.UNKNOWN, f"no detection rule loaded for {', '.join(undetectable)}")
    if relevant:
        ids = ", ".join(sorted({str(_waiver_id(f)) for f in relevant}))
        return result(ObligationStatus.WAIVED, f"accepted risk under waiver {ids}", relevant)
    return result(ObligationStatus.MET, f"no relevant finding at or above {profile.severity_threshold.value}")


def _waiver_id(f: Finding) -> JsonValue:
    waiver = f.details.get("waiver")
    return waiver.get("id") if isinstance(waiver, dict) else None


def apply_profile(
    findings: Iterable[Finding],
    catalog: Catalog,
    profile: Profile | str | Path,
    now: datetime,
    waivers: Iterable[Waiver] = (),
    first_seen: Mapping[str, datetime] | None = None,
    *,
    kev_max_age: timedelta = DEFAULT_MAX_AGE,
) -> tuple[list[Finding], ObligationSummary]:
    """Fill advisories, KEV-enriched CVEs, waivers, deadlines and obligations; summarise per requirement.

    ``profile`` is a ``Profile``, a built-in name (``"hipaa"``) or a path to an MSP's profile file;
    ``waivers`` add to the profile's own; ``first_seen`` maps ``finding_key`` → first sighting.
    """
    prof = profile if isinstance(profile, Profile) else catalog.profile(profile)
    all_waivers = (*prof.waivers, *waivers)
    enriched = [_enrich(f, catalog, prof, now, all_waivers, first_seen or {}, kev_max_age) for f in findings]
    by_exposure: dict[Exposure, list[Finding]] = {}
    for f in enriched:
        by_exposure.setdefault(f.exposure, []).append(f)
    pairs = [(fw, req) for fw in (catalog.frameworks[i] for i in prof.frameworks) for req in fw.requirements]
    results = [_judge(fw, req, by_exposure, prof, catalog, now.date()) for fw, req in pairs]
    reqs_of: dict[Exposure, list[tuple[Framework, Requirement, ObligationStatus]]] = {}
    for (fw, req), res in zip(pairs, results, strict=True):
        for e in req.exposures:
            reqs_of.setdefault(e, []).append((fw, req, res.status))
    out = []
    for f in enriched:
        refs = tuple(
            ObligationRef(framework=fw.id, requirement=req.id, title=req.title, status=status)
            for fw, req, status in reqs_of.get(f.exposure, ())
            if _relevant(req, f)
        )
        out.append(f.model_copy(update={"obligations": refs}))
    counts = {s: sum(1 for r in results if r.status is s) for s in ObligationStatus}
    summary = ObligationSummary(
        profile=prof.id,
        met=counts[ObligationStatus.MET],
        not_met=counts[ObligationStatus.NOT_MET],
        unknown=counts[ObligationStatus.UNKNOWN],
        waived=counts[ObligationStatus.WAIVED],
        results=tuple(results),
    )
    return out, summary
