"""Findings + profile → obligations. Pure: the same inputs always give the same statuses.

Per requirement of every framework in the profile that is in force on the day judged (a requirement
resting only on revoked or not-yet-published advisories is left out: a report cites the directive of
its own period):

* ``attestation_required`` for process duties no scan can judge, whatever was found; a signed
  attestation, when supplied, is attached verbatim;
* ``not_met`` when a firm or certain affected finding at or above the profile's threshold is not
  waived (KEV requirements count every KEV-listed finding, whatever its severity), seen from the
  view the requirement needs: an internet requirement counts only findings known to be reachable
  from the internet;
* ``unknown`` when such a finding is only seen from the LAN and the requirement needs the internet's
  view, when a relevant finding is indeterminate or tentative, or when no rule can detect its exposures;
* ``waived`` when every relevant finding is covered by an active waiver (an expired one re-opens it);
* ``met`` only with positive evidence: every probe that could see a relevant exposure ran to
  completion on every service it applies to, across the hosts found in the declared scope (recorded
  in the result), for a requirement a scan can fully see from where it stood;
* ``no_contrary_evidence`` when nothing relevant was seen but that evidence falls short of ``met``
  (coverage incomplete, a weak check, a requirement wider than a scan, or no outside view).

Deadlines follow the engagement clock (``clock.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from pydantic import JsonValue

from duecare.advisories.bod2604 import finding_tier
from duecare.advisories.catalog import Catalog
from duecare.advisories.clock import compute
from duecare.advisories.coverage import ScanCoverage, coverage
from duecare.advisories.frameworks import Framework, Requirement
from duecare.advisories.kev import DEFAULT_MAX_AGE, kev_status
from duecare.advisories.lifecycle.hosts import FACTS_READ
from duecare.advisories.profiles import Profile, Waiver
from duecare.probes.base import Facts
from duecare.wire import (
    AdvisoryRef,
    Attestation,
    Confidence,
    Coverage,
    Exposure,
    Finding,
    KevStatus,
    ObligationRef,
    ObligationResult,
    ObligationStatus,
    ObligationSummary,
    Vantage,
    Verdict,
)
from duecare.wire.models import ClockByExposure, ClockCase, FindingStake, ResultByExposure, Stake, StakeCase
from duecare.wire.rejudge import CASE_SLOT, OUTSIDE_VIEW, clock_for, decide, finding_key, varies

__all__ = ["OUTSIDE_VIEW", "apply_profile", "finding_key"]

#: Checks whose silence proves nothing: a banner that names no KEV product may still be vulnerable.
WEAK = {
    Exposure.KEV_VERSION_DISCLOSED: (
        "version banners cannot show a product is patched, nor that one they do not name is not vulnerable"
    ),
    Exposure.OS_END_OF_LIFE: (
        "only hosts that announce a Windows version (NTLM over RDP, SMB or Exchange) are judged; the others' "
        "support status is not seen"
    ),
    Exposure.PRODUCT_END_OF_LIFE: "only IIS versions are judged against a lifecycle table; other products are not",
}


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
        status = prior if prior and prior.known_exploited else kev_status(cve, catalog.kev, now, max_age)
        row = catalog.ssvc.get(cve)
        out.append(status.model_copy(update={"ssvc": row.ssvc}) if row is not None else status)
    return tuple(out)


def _advisories(f: Finding, catalog: Catalog, day: date) -> tuple[AdvisoryRef, ...]:
    """Advisories in force on ``day`` that flag the exposure; by missing CVE where the rule says so."""
    rule = catalog.rule(f.exposure)
    by_cve = rule is not None and rule[0].advisories_by_cve
    lacking = {c.cve for c in f.cves}
    refs = []
    for adv in catalog.advisories_flagging(f.exposure):
        if not adv.in_force(day):
            continue
        missing = tuple(c for c in adv.cves if c in lacking)
        if by_cve and adv.cves and not missing:
            continue  # the build has every fix this advisory is about
        refs.append(adv.ref(missing))
    return tuple(sorted(refs, key=lambda r: r.id))


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
    update: dict[str, object] = {
        "advisories": _advisories(f.model_copy(update={"cves": cves}), catalog, now.date()),
        "cves": cves,
        "waived": waived,
        "details": details,
        "deadline": None,
        "timeline": None,
        "by_exposure": None,
    }
    if f.verdict is Verdict.AFFECTED and not waived:
        firm = f.confidence is not Confidence.TENTATIVE
        seen = first_seen.get(finding_key(f), now).date()

        def clock(exposed: bool | None) -> ClockCase:
            bod = finding_tier(catalog.table1, cves, exposed) if catalog.table1 and firm else None
            c = compute(f, cves, profile, seen, now.date(), bod)
            return ClockCase(deadline=c.deadline, timeline=c.timeline)

        # BOD 26-04 asks "publicly exposed?" first: every case is judged here, so that a later join
        # (the collector's) only selects one (``wire/rejudge.py``).
        cases = {value: clock(value) for value in (True, False, None)}
        own = cases.pop(f.internet_exposed)
        update["deadline"], update["timeline"] = own.deadline, own.timeline
        if any(c != own for c in cases.values()):
            others = {CASE_SLOT[value]: c for value, c in cases.items()}
            update["by_exposure"] = ClockByExposure(judged=f.internet_exposed, **others)
    return f.model_copy(update=update)


def _relevant(req: Requirement, f: Finding) -> bool:
    """The finding's exposure is the requirement's, through an advisory both share."""
    if f.exposure not in req.exposures or f.verdict is Verdict.NOT_AFFECTED:
        return False
    if not {a.id for a in f.advisories} & set(req.advisories):
        return False  # e.g. an Exchange build with every fix an advisory is about
    return not req.kev_only or any(c.known_exploited is not False for c in f.cves)


def _confirms(req: Requirement, f: Finding) -> bool:
    """An affected finding that is not a guess (and, for KEV requirements, confirms a KEV CVE)."""
    return (
        f.verdict is Verdict.AFFECTED
        and f.confidence is not Confidence.TENTATIVE
        and (not req.kev_only or any(c.known_exploited for c in f.cves))
    )


def _in_force(req: Requirement, catalog: Catalog, day: date) -> bool:
    """False when every advisory the requirement rests on was revoked by, or published after, ``day``."""
    advs = [catalog.advisories[a] for a in req.advisories if a in catalog.advisories]
    return not advs or any(a.in_force(day) for a in advs)


def _coverage_key(req: Requirement, catalog: Catalog) -> tuple[tuple[type[Facts], ...], str | None]:
    models: list[type[Facts]] = []
    for e in req.exposures:
        rule = catalog.rule(e)
        if rule is not None:
            models.extend(c.spec.facts for c in rule[1])
        models.extend(FACTS_READ.get(e, ()))
    weak = "; ".join(dict.fromkeys(WEAK[e] for e in req.exposures if e in WEAK))
    return tuple(dict.fromkeys(models)), weak or None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _met_reason(cov: Coverage, threshold: str) -> str:
    swept = f"the port scan swept {cov.ports} on {_plural(cov.hosts_swept, 'host')} found in scope"
    if not cov.services:
        probes = ", ".join(cov.probes)
        return f"no relevant finding at or above {threshold}: no service answered where {probes} apply; {swept}"
    return (
        f"no relevant finding at or above {threshold}: {', '.join(cov.probes)} completed on "
        f"{_plural(cov.services, 'service')} on {_plural(len(cov.hosts), 'host')}; {swept}"
    )


class _Judge:
    def __init__(
        self,
        profile: Profile,
        catalog: Catalog,
        scan: ScanCoverage | None,
        attestations: Mapping[tuple[str, str], Attestation],
        today: date,
    ) -> None:
        self.profile, self.catalog, self.scan, self.attestations, self.today = (
            profile,
            catalog,
            scan,
            attestations,
            today,
        )
        #: Requirements resting on the same facts share one coverage computation.
        self._covered: dict[tuple[tuple[type[Facts], ...], str | None], Coverage] = {}

    def coverage(self, req: Requirement) -> Coverage:
        key = _coverage_key(req, self.catalog)
        if key not in self._covered:
            self._covered[key] = coverage(self.scan, key[0], weak=key[1])
        return self._covered[key]

    def __call__(
        self, fw: Framework, req: Requirement, by_exposure: Mapping[Exposure, Sequence[Finding]]
    ) -> ObligationResult:
        def result(
            status: ObligationStatus,
            reason: str,
            hits: Iterable[Finding] = (),
            cov: Coverage | None = None,
            attestation: Attestation | None = None,
        ) -> ObligationResult:
            return ObligationResult(
                framework=fw.id,
                requirement=req.id,
                title=req.title,
                status=status,
                findings=tuple(dict.fromkeys(finding_key(f) for f in hits)),
                reason=reason,
                vantage=req.vantage,
                coverage=cov,
                attestation=attestation,
            )

        if req.attestation:
            att = self.attestations.get((fw.id, req.id))
            if att is not None:
                why = f"attested by {att.attested_by} ({att.role}) on {att.signed_on}: {att.document}"
            else:
                why = f"a duty no network scan can judge; needs a signed attestation: {req.what_would_settle_it}"
            return result(ObligationStatus.ATTESTATION_REQUIRED, why, attestation=att)
        threshold = self.profile.severity_threshold
        relevant = [f for e in req.exposures for f in by_exposure.get(e, ()) if _relevant(req, f)]
        if not req.kev_only:  # KEV due dates bind whatever the severity
            relevant = [f for f in relevant if f.severity.rank >= threshold.rank]
        stakes = tuple(_stake(req, f) for f in relevant if not f.waived)
        dep = ResultByExposure(judged_on=self.today, stakes=stakes, otherwise=self._otherwise(req, relevant, result))
        # The stakes decide as in the README: a finding that is not met, then one seen from inside only
        # (internet requirements), then one undecided; else ``otherwise``. One function for the agent
        # and for the collector's re-judging after its join (``wire/rejudge.py``).
        out = decide(dep)
        return out if any(varies(st) for st in stakes) else out.model_copy(update={"by_exposure": None})

    def _otherwise(
        self, req: Requirement, relevant: Sequence[Finding], result: Callable[..., ObligationResult]
    ) -> ObligationResult:
        """The result when no finding has a stake: undetectable, waived, or what coverage shows."""
        threshold = self.profile.severity_threshold
        undetectable = sorted(e.value for e in set(req.exposures) - self.catalog.detectable())
        if undetectable:
            return result(ObligationStatus.UNKNOWN, f"no detection rule loaded for {', '.join(undetectable)}")
        if relevant and all(f.waived for f in relevant):
            ids = ", ".join(sorted({str(_waiver_id(f)) for f in relevant}))
            return result(ObligationStatus.WAIVED, f"accepted risk under waiver {ids}", relevant)
        cov = self.coverage(req)
        nothing = f"no relevant finding at or above {threshold.value}"
        if req.vantage is Vantage.INTERNET:
            why = f"{nothing} from inside; what the internet reaches needs {OUTSIDE_VIEW}"
            return result(ObligationStatus.NO_CONTRARY_EVIDENCE, why, cov=cov)
        if req.partial:
            why = f"{nothing}; a network scan sees only part of this requirement"
            return result(ObligationStatus.NO_CONTRARY_EVIDENCE, why, cov=cov)
        if not cov.complete:
            why = f"{nothing}, but coverage is incomplete: {'; '.join(cov.gaps[:3])}"
            return result(ObligationStatus.NO_CONTRARY_EVIDENCE, why, cov=cov)
        return result(ObligationStatus.MET, _met_reason(cov, threshold.value), cov=cov)


def _stake(req: Requirement, f: Finding) -> FindingStake:
    """What one live relevant finding makes of the requirement, for each value of ``internet_exposed``."""

    def case(exposed: bool | None) -> StakeCase:
        if not _confirms(req, f):
            # A finding known unreachable cannot leave the requirement undecided.
            return StakeCase(stake=Stake.NONE if exposed is False else Stake.UNDECIDED)
        if req.vantage is Vantage.INTERNET and exposed is not True:
            return StakeCase(stake=Stake.NONE if exposed is False else Stake.NEEDS_OUTSIDE_VIEW)
        clock = clock_for(f, exposed)
        inherited = clock.timeline.inherited_due if clock.timeline else None
        return StakeCase(stake=Stake.NOT_MET, deadline=clock.deadline, inherited_due=inherited)

    return FindingStake(
        finding=finding_key(f),
        exposure=f.exposure,
        reason=f.reason,
        judged=f.internet_exposed,
        exposed=case(True),
        not_exposed=case(False),
        unknown=case(None),
    )


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
    scan: ScanCoverage | None = None,
    attestations: Iterable[Attestation] = (),
) -> tuple[list[Finding], ObligationSummary]:
    """Fill advisories, KEV/SSVC-enriched CVEs, waivers, the clock and obligations; summarise per requirement.

    ``profile`` is a ``Profile``, a built-in name (``"hipaa"``) or a path to an MSP's profile file;
    ``waivers`` and ``attestations`` add to the profile's own; ``first_seen`` maps ``finding_key`` →
    first sighting; ``scan`` describes what the scan covered (without it nothing can be ``met``).
    """
    prof = profile if isinstance(profile, Profile) else catalog.profile(profile)
    all_waivers = (*prof.waivers, *waivers)
    signed = {(a.framework, a.requirement): a for a in (*prof.attestations, *attestations)}
    enriched = [_enrich(f, catalog, prof, now, all_waivers, first_seen or {}, kev_max_age) for f in findings]
    by_exposure: dict[Exposure, list[Finding]] = {}
    for f in enriched:
        by_exposure.setdefault(f.exposure, []).append(f)
    judge = _Judge(prof, catalog, scan, signed, now.date())
    pairs = [
        (fw, req)
        for fw in (catalog.frameworks[i] for i in prof.frameworks)
        for req in fw.requirements
        if _in_force(req, catalog, now.date())
    ]
    results = [judge(fw, req, by_exposure) for fw, req in pairs]
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
    return out, ObligationSummary.of(prof.id, tuple(results), prof.engagement_start)
