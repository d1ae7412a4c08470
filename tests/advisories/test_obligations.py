"""apply_profile: obligations, deadlines (incl. KEV due dates), thresholds, waivers and their expiry."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest

from duecare.advisories.catalog import Catalog
from duecare.advisories.errors import CatalogError
from duecare.advisories.kev_versions import version_disclosure_findings
from duecare.advisories.obligations import apply_profile, finding_key
from duecare.advisories.profiles import Waiver, load_waivers
from duecare.wire import (
    DeadlineState,
    Exposure,
    Finding,
    KevStatus,
    ObligationResult,
    ObligationStatus,
    ObligationSummary,
    PortState,
    Proto,
    Service,
    Severity,
    Verdict,
)
from tests.advisories.conftest import NOW

Make = Callable[..., Finding]


def result(summary: ObligationSummary, framework: str, requirement: str) -> ObligationResult:
    return next(r for r in summary.results if (r.framework, r.requirement) == (framework, requirement))


def waiver(**kw: object) -> Waiver:
    base: dict[str, object] = {
        "id": "w-rdp-10.0.0.5",
        "scope": "10.0.0.5",
        "exposure": "rdp-no-nla",
        "port": 3389,
        "owner": "client",
        "approved_by": "Dr. Example, practice owner",
        "reason": "Vendor support for the imaging system needs RDP",
        "compensating_control": "NLA required; source restricted to the vendor VPN",
        "expires": NOW.date() + timedelta(days=30),
    }
    return Waiver.model_validate(base | kw)


def test_nothing_observed_without_a_scan_record_meets_nothing(catalog: Catalog) -> None:
    findings, summary = apply_profile([], catalog, "hipaa", NOW)
    assert findings == []
    assert summary.not_met == summary.waived == summary.met == 0
    assert summary.no_contrary_evidence + summary.attestation_required == len(summary.results)
    by_status = {r.requirement: r.status for r in summary.results if r.framework == "hipaa-security-rule"}
    assert by_status["164.312(e)(1)"] is ObligationStatus.NO_CONTRARY_EVIDENCE
    # A process duty: attestation required, with what it rests on — never "met".
    backup = result(summary, "hipaa-security-rule", "164.308(a)(7)(ii)(A)")
    assert backup.status is ObligationStatus.ATTESTATION_REQUIRED and "backup plan" in backup.reason


def test_exposure_without_a_detection_rule_is_unknown_not_met(packaged: Catalog) -> None:
    lean = dataclasses.replace(packaged, rules=())
    _, summary = apply_profile([], lean, "baseline", NOW)
    r = result(summary, "advisories-baseline", "TA17-156A")
    assert r.status is ObligationStatus.UNKNOWN
    assert "snmp-default-community" in r.reason
    # The KEV version rule is built in, so BOD 26-04 still has something to stand on.
    assert "kev-version-disclosed" not in result(summary, "advisories-baseline", "BOD 26-04").reason


def test_affected_finding_breaks_requirements_with_a_severity_deadline(catalog: Catalog, make_finding: Make) -> None:
    f = make_finding(Exposure.RDP_NO_NLA)
    (out,), summary = apply_profile([f], catalog, "hipaa", NOW)
    assert out.deadline == date(2026, 12, 30)  # high → 30 days from first seen (now), BOD 19-02's benchmark
    assert out.timeline is not None and out.timeline.state is DeadlineState.DUE and "BOD 19-02" in out.timeline.basis
    assert {a.id for a in out.advisories} >= {"i-092718-psa", "aa22-137a"}
    assert "aa20-073a" not in {a.id for a in out.advisories}  # a VPN alert that never mentions RDP
    assert all(a.official_id and a.published for a in out.advisories)
    r = result(summary, "hipaa-security-rule", "164.312(d)")
    assert r.status is ObligationStatus.NOT_MET
    assert r.findings == (finding_key(out),) == ("10.0.0.5|rdp-no-nla|3389/tcp",)
    assert r.deadline == date(2026, 12, 30) and not r.overdue and r.inherited_due is None
    refs = {(o.framework, o.requirement): o.status for o in out.obligations}
    assert refs[("hipaa-security-rule", "164.312(d)")] is ObligationStatus.NOT_MET
    assert refs[("advisories-baseline", "I-092718-PSA")] is ObligationStatus.NOT_MET
    assert ("hipaa-security-rule", "164.312(e)(2)(ii)") not in refs  # not relevant to NLA


def test_deadline_counts_from_first_seen_and_goes_overdue(catalog: Catalog, make_finding: Make) -> None:
    f = make_finding(Exposure.RDP_NO_NLA)
    seen = {finding_key(f): NOW - timedelta(days=40)}
    (out,), summary = apply_profile([f], catalog, "hipaa", NOW, first_seen=seen)
    assert out.deadline == (NOW - timedelta(days=40)).date() + timedelta(days=30)
    assert out.timeline is not None and out.timeline.state is DeadlineState.OVERDUE
    r = result(summary, "hipaa-security-rule", "164.312(d)")
    assert r.overdue and r.deadline == out.deadline


def test_kev_due_date_before_the_clock_is_inherited_not_a_deadline(catalog: Catalog, make_finding: Make) -> None:
    f = make_finding(Exposure.SMB_MS17_010, port=445, severity=Severity.CRITICAL)
    (out,), summary = apply_profile([f], catalog, "hipaa", NOW)
    cves = {c.cve: c for c in out.cves}
    assert set(cves) == {f"CVE-2017-014{n}" for n in range(3, 9)}  # from MS17-010 (flag_cves)
    assert all(c.known_exploited for c in cves.values())
    assert cves["CVE-2017-0146"].kev_due_date == date(2022, 4, 15)
    # CISA's 2022 due date fell before duecare first saw it: inherited, not "past the agreed deadline".
    assert out.timeline is not None and out.timeline.state is DeadlineState.INHERITED
    assert out.timeline.inherited_due == date(2022, 4, 15)
    assert out.deadline == NOW.date() + timedelta(days=15)  # the profile's days while BOD 26-04 is unverified
    bod = result(summary, "advisories-baseline", "BOD 26-04")
    assert bod.status is ObligationStatus.NOT_MET and not bod.overdue
    assert bod.inherited_due == date(2022, 4, 15) and bod.deadline == out.deadline


def test_kev_due_dates_can_be_switched_off_by_the_contract(catalog: Catalog, make_finding: Make) -> None:
    f = make_finding(Exposure.SMB_MS17_010, port=445, severity=Severity.CRITICAL)
    profile = catalog.profiles["hipaa"].model_copy(update={"kev_due_dates": False})
    (out,), _ = apply_profile([f], catalog, profile, NOW)
    assert out.deadline == NOW.date() + timedelta(days=15)
    assert out.timeline is not None and out.timeline.inherited_due is None


def test_kev_unknown_is_not_not_listed(catalog: Catalog, make_finding: Make) -> None:
    pending = (KevStatus(cve="CVE-2019-1181", known_exploited=None, note="KEV not consulted yet"),)
    f = make_finding(Exposure.RDP_BLUEKEEP_LIKELY, severity=Severity.CRITICAL, cves=pending)
    (stale,), _ = apply_profile([f], catalog, "baseline", NOW)
    dejablue = next(c for c in stale.cves if c.cve == "CVE-2019-1181")
    assert dejablue.known_exploited is None and dejablue.note and "stale" in dejablue.note
    fresh_now = catalog.kev.catalog.date_released + timedelta(days=1)  # type: ignore[union-attr]
    (fresh,), _ = apply_profile([f], catalog, "baseline", fresh_now)
    assert next(c for c in fresh.cves if c.cve == "CVE-2019-1181").known_exploited is False
    assert next(c for c in fresh.cves if c.cve == "CVE-2019-0708").known_exploited is True


def test_missing_kev_leaves_bod_22_01_unknown(catalog: Catalog, make_finding: Make) -> None:
    no_kev = dataclasses.replace(catalog, kev=None)
    f = make_finding(Exposure.SMB_MS17_010, port=445, severity=Severity.CRITICAL)
    (out,), summary = apply_profile([f], no_kev, "baseline", NOW)
    assert all(c.known_exploited is None for c in out.cves)
    assert out.deadline == NOW.date() + timedelta(days=15)
    assert result(summary, "advisories-baseline", "BOD 26-04").status is ObligationStatus.UNKNOWN
    assert result(summary, "advisories-baseline", "TA17-132A").status is ObligationStatus.NOT_MET


def test_tentative_version_match_asks_for_verification(catalog: Catalog) -> None:
    svc = Service(port=80, proto=Proto.TCP, state=PortState.OPEN, product="Apache httpd", version="2.4.49")
    found = version_disclosure_findings([], [(ip_address("10.0.0.9"), svc)], catalog.kev, catalog.product_aliases, NOW)
    (out,), summary = apply_profile(found, catalog, "hipaa", NOW)
    assert out.deadline is None  # medium: the profile sets no days; KEV dates do not bind a guess
    assert out.timeline is not None and out.timeline.state is DeadlineState.NONE
    assert "bod-26-04" in {a.id for a in out.advisories} and "bod-22-01" not in {a.id for a in out.advisories}
    bod = result(summary, "advisories-baseline", "BOD 26-04")
    assert bod.status is ObligationStatus.UNKNOWN and "verify the patch level" in bod.reason


def test_indeterminate_findings_make_requirements_unknown(catalog: Catalog, make_finding: Make) -> None:
    f = make_finding(Exposure.SMB_SIGNING_NOT_REQUIRED, port=445, verdict=Verdict.INDETERMINATE, confidence="tentative")
    (out,), summary = apply_profile([f], catalog, "hipaa", NOW)
    assert out.deadline is None
    r = result(summary, "hipaa-security-rule", "164.312(c)(1)")
    assert r.status is ObligationStatus.UNKNOWN and r.findings == (finding_key(out),)
    assert summary.not_met == 0


def test_severity_threshold_is_the_profiles(catalog: Catalog, make_finding: Make) -> None:
    f = make_finding(Exposure.SMB_SIGNING_NOT_REQUIRED, port=445, severity=Severity.LOW)
    _, hipaa = apply_profile([f], catalog, "hipaa", NOW)  # threshold medium
    below = result(hipaa, "nist-csf-2.0", "PR.DS-02")
    assert below.status is ObligationStatus.NO_CONTRARY_EVIDENCE and not below.findings
    (out,), gov = apply_profile([f], catalog, "government", NOW)  # threshold low
    r = result(gov, "nist-csf-2.0", "PR.DS-02")
    assert r.status is ObligationStatus.NOT_MET and r.deadline is None  # no cited days for low findings
    assert out.deadline == r.deadline


def test_active_waiver_waives_and_stays_visible(catalog: Catalog, make_finding: Make) -> None:
    f = make_finding(Exposure.RDP_NO_NLA)
    (out,), summary = apply_profile([f], catalog, "hipaa", NOW, waivers=[waiver()])
    assert out.waived and out.deadline is None and out.verdict is Verdict.AFFECTED
    assert out.details["waiver"]["active"] is True  # type: ignore[index,call-overload]
    r = result(summary, "hipaa-security-rule", "164.312(d)")
    assert r.status is ObligationStatus.WAIVED and "w-rdp-10.0.0.5" in r.reason
    assert r.findings == (finding_key(out),)


def test_waiver_does_not_cover_the_compensating_control_it_relies_on(catalog: Catalog, make_finding: Make) -> None:
    """ "RDP without NLA accepted on 10.0.0.5, TLS required": without TLS it is still breached."""
    findings = [make_finding(Exposure.RDP_NO_NLA), make_finding(Exposure.RDP_STANDARD_SECURITY)]
    out, summary = apply_profile(findings, catalog, "hipaa", NOW, waivers=[waiver()])
    assert [f.waived for f in out] == [True, False]
    r = result(summary, "hipaa-security-rule", "164.308(a)(1)(ii)(B)")
    assert r.status is ObligationStatus.NOT_MET and r.findings == ("10.0.0.5|rdp-standard-security|3389/tcp",)


@pytest.mark.parametrize(("days", "waived"), [(0, True), (-1, False)])
def test_expired_waiver_reopens_the_obligation(catalog: Catalog, make_finding: Make, days: int, waived: bool) -> None:
    w = waiver(expires=NOW.date() + timedelta(days=days))
    (out,), summary = apply_profile([make_finding(Exposure.RDP_NO_NLA)], catalog, "hipaa", NOW, waivers=[w])
    assert out.waived is waived
    assert out.details["waiver"]["active"] is waived  # type: ignore[index,call-overload]
    expected = ObligationStatus.WAIVED if waived else ObligationStatus.NOT_MET
    assert result(summary, "hipaa-security-rule", "164.312(d)").status is expected


@pytest.mark.parametrize(
    ("changes", "covers"),
    [
        ({"scope": "10.0.0.0/24", "port": None}, True),
        ({"scope": "10.0.1.0/24"}, False),
        ({"port": 3390}, False),
        ({"exposure": "vnc-no-auth"}, False),
    ],
)
def test_waiver_scope(make_finding: Make, changes: dict[str, object], covers: bool) -> None:
    assert waiver(**changes).covers(make_finding(Exposure.RDP_NO_NLA)) is covers


def test_waiver_scope_must_be_an_address_or_network() -> None:
    with pytest.raises(ValueError, match="scope"):
        waiver(scope="10.0.0.5/24")  # host bits set: ambiguous


def test_custom_profile_file_with_waivers(catalog: Catalog, make_finding: Make, tmp_path: Path) -> None:
    path = tmp_path / "acme-dental.toml"
    path.write_text(
        """
id = "acme-dental"
title = "Acme Dental, MSA of 2026-01-15"
description = "HIPAA safeguards plus KEV, tighter than the default."
frameworks = ["hipaa-security-rule", "advisories-baseline"]
severity_threshold = "high"

[deadlines]
critical = 7
high = 21
source = "MSA of 2026-01-15, schedule B"

[[waivers]]
id = "rdp-imaging"
scope = "10.0.0.5"
exposure = "rdp-no-nla"
port = 3389
owner = "msp"
approved_by = "J. Doe (MSP), countersigned by the practice owner"
reason = "Imaging vendor support"
compensating_control = "NLA required"
expires = 2027-03-31
"""
    )
    findings = [make_finding(Exposure.RDP_NO_NLA), make_finding(Exposure.VNC_NO_AUTH, port=5900)]
    out, summary = apply_profile(findings, catalog, path, NOW)
    assert summary.profile == "acme-dental"
    assert {r.framework for r in summary.results} == {"hipaa-security-rule", "advisories-baseline"}
    assert [f.waived for f in out] == [True, False]
    assert out[1].deadline == NOW.date() + timedelta(days=21)
    assert out[1].timeline is not None and "MSA of 2026-01-15" in out[1].timeline.basis
    assert sum(getattr(summary, s.value) for s in ObligationStatus) == len(summary.results)


def test_profile_naming_an_unknown_framework_is_a_clear_error(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'id = "bad"\ntitle = "t"\ndescription = "d"\nseverity_threshold = "high"\n'
        'frameworks = ["hipaa-security-rule", "iso-27001"]\n'
    )
    with pytest.raises(CatalogError) as info:
        catalog.profile(path)
    assert info.value.path == path and info.value.line == 5 and info.value.field == "frameworks.1"
    assert "iso-27001" in str(info.value)


def test_unknown_profile_name_lists_the_built_ins(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match="baseline, government, hipaa, pci"):
        apply_profile([], catalog, "sox", NOW)


def test_waiver_register_file(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(
        '[[waivers]]\nid = "a"\nscope = "192.168.1.0/24"\nexposure = "upnp-exposed"\nowner = "client"\n'
        'approved_by = "x"\nreason = "y"\ncompensating_control = "z"\nexpires = 2027-01-01\n'
    )
    (w,) = load_waivers(path)
    assert w.expires == date(2027, 1, 1) and w.port is None
