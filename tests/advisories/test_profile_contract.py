"""The shipped example of a contract-defined profile loads, validates and judges as its comments say."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from duecare.advisories.catalog import Catalog
from duecare.advisories.errors import CatalogError
from duecare.advisories.obligations import apply_profile, finding_key
from duecare.wire import DeadlineState, Exposure, ObligationStatus, Severity
from tests.advisories import scans
from tests.advisories.conftest import NOW, finding

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "profile-contract.toml"


def test_example_contract_profile_validates(packaged: Catalog) -> None:
    p = packaged.profile(EXAMPLE)
    assert p.id == "acme-dental-msa-2026" and p.engagement_start == date(2026, 11, 1)
    assert p.deadlines.days(Severity.MEDIUM) == 45 and "Schedule B" in (p.deadlines.source or "")
    assert [w.id for w in p.waivers] == ["W-2026-01"]
    assert {(a.framework, a.requirement) for a in p.attestations} == {
        ("hipaa-security-rule", "164.308(b)(1)"),
        ("hipaa-security-rule", "164.308(a)(1)(ii)(A)"),
        ("ftc-safeguards-314.4", "314.4(f)"),
    }


def test_example_contract_profile_judges_with_its_clock_waiver_and_attestations(packaged: Catalog) -> None:
    kev = finding(Exposure.SMB_MS17_010, "192.0.2.40", 445, severity=Severity.CRITICAL)
    waived = finding(Exposure.RDP_NO_NLA, "192.0.2.40", 3389)
    seen_before = {finding_key(kev): NOW - timedelta(days=300)}
    out, summary = apply_profile(
        [kev, waived], packaged, EXAMPLE, NOW, first_seen=seen_before, scan=scans.full_coverage()
    )
    ms17 = next(f for f in out if f.exposure is Exposure.SMB_MS17_010)
    assert ms17.timeline is not None and ms17.timeline.clock_start == date(2026, 11, 1)
    assert ms17.deadline == date(2026, 11, 8)  # critical: 7 days from the engagement start
    assert ms17.timeline.state is DeadlineState.OVERDUE and ms17.timeline.inherited_due is not None
    assert next(f for f in out if f.exposure is Exposure.RDP_NO_NLA).waived
    by = {(r.framework, r.requirement): r for r in summary.results}
    baa = by[("hipaa-security-rule", "164.308(b)(1)")]
    assert baa.status is ObligationStatus.ATTESTATION_REQUIRED and baa.attestation is not None
    assert baa.attestation.document.startswith("BAA-2026-001")
    assert by[("ftc-safeguards-314.4", "314.4(f)")].attestation is not None
    assert by[("hipaa-security-rule", "164.312(d)")].status is ObligationStatus.WAIVED


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('requirement = "164.308(b)(1)"', 'requirement = "164.308(b)(9)"', "unknown requirement"),
        ('requirement = "164.308(b)(1)"', 'requirement = "164.312(d)"', "judged by the scan"),
        ("signed_on = 2026-11-03", 'signed_on = "last week"', "date"),
        ('source = "Acme', 'sauce = "Acme', "sauce"),
    ],
)
def test_a_mistake_in_the_contract_profile_is_one_clear_error(
    packaged: Catalog, tmp_path: Path, old: str, new: str, needle: str
) -> None:
    bad = tmp_path / "contract.toml"
    text = EXAMPLE.read_text()
    assert old in text
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogError, match=needle) as info:
        packaged.profile(bad)
    assert info.value.path == bad
