"""BOD 26-04 Table 1: every row through the tier function, the data file's provenance, and what an
unverified table may and may not do.

The expected rows below are typed from CERT/CC's encoding (CERTCC/SSVC ``cisa_bod_26_04_1_0_0.csv``,
commit 396ade55), the same source the data file cites; the directive's own Table 1 could not be read
(cisa.gov publishes it as an image). If the shipped rows change, this table must change with them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from duecare.advisories.bod2604 import SETTLE_EXPOSURE, Inputs, Table1, finding_tier, load_table1
from duecare.advisories.catalog import PACKAGED_DATA_DIR
from duecare.advisories.clock import compute
from duecare.advisories.errors import CatalogError
from duecare.advisories.profiles import Profile
from duecare.wire import DeadlineState, Exposure, KevStatus, Severity, Ssvc
from tests.advisories.conftest import finding

DIR = PACKAGED_DATA_DIR / "bod-26-04"
T3F, T3, T14, T60, FSU = "3 days & forensic investigation", "3 days", "14 days", "60 days", "fix on system upgrade"

#: (in KEV, publicly exposed, automatable, technical impact) → timeline, all sixteen combinations.
ROWS = [
    (False, False, False, "partial", FSU),
    (True, False, False, "partial", T14),
    (False, True, False, "partial", T60),
    (False, False, True, "partial", T60),
    (False, False, False, "total", FSU),
    (True, True, False, "partial", T14),
    (True, False, True, "partial", T14),
    (False, True, True, "partial", T14),
    (True, False, False, "total", T14),
    (False, True, False, "total", T14),
    (False, False, True, "total", T60),
    (True, True, True, "partial", T3),
    (True, True, False, "total", T3F),
    (True, False, True, "total", T3F),
    (False, True, True, "total", T3),
    (True, True, True, "total", T3F),
]
DAYS = {T3F: 3, T3: 3, T14: 14, T60: 60, FSU: None}


@pytest.fixture(scope="module")
def table() -> Table1:
    return load_table1(DIR)


def test_the_table_has_every_combination_once() -> None:
    assert len({r[:4] for r in ROWS}) == 16


@pytest.mark.parametrize(("kev", "exposed", "automatable", "impact", "expected"), ROWS)
def test_every_row_through_the_tier_function(
    table: Table1, kev: bool, exposed: bool, automatable: bool, impact: str, expected: str
) -> None:
    out = table.tier(Inputs(kev, exposed, automatable, "total" if impact == "total" else "partial"))
    assert out.label == expected
    assert out.days == DAYS[expected]
    assert out.forensic_triage is (expected == T3F)
    # The same row through a finding: the tier, its days, triage, and the source it is shown with.
    ssvc = Ssvc(exploitation="active" if kev else "none", automatable=automatable, technical_impact=impact)  # type: ignore[arg-type]
    cve = KevStatus(cve="CVE-2030-0001", known_exploited=kev, ssvc=ssvc)
    tier = finding_tier(table, [cve], exposed)
    assert tier is not None and tier.tier == expected and tier.days == DAYS[expected]
    assert tier.publicly_exposed is exposed and tier.forensic_triage is (expected == T3F)
    assert tier.if_exposed is None and tier.settle is None


def test_the_shipped_table_is_marked_unverified_with_its_real_source(table: Table1) -> None:
    assert table.verified is False
    assert "CERT/CC" in table.source and "396ade55" in table.source
    assert table.provenance.endswith("the directive's text was not verified")
    assert "image" in table.note
    raw = (DIR / "cisa_bod_26_04_1_0_0.csv").read_bytes()
    assert hashlib.sha256(raw).hexdigest() in (DIR / "SOURCE.md").read_text()


@pytest.mark.parametrize(
    ("automatable", "impact", "if_exposed", "if_not"), [(False, "total", T3F, T14), (True, "partial", T3, T14)]
)
def test_unknown_exposure_shows_both_tiers_and_what_settles_it(
    table: Table1, automatable: bool, impact: str, if_exposed: str, if_not: str
) -> None:
    ssvc = Ssvc(exploitation="active", automatable=automatable, technical_impact=impact)  # type: ignore[arg-type]
    tier = finding_tier(table, [KevStatus(cve="CVE-2030-0002", known_exploited=True, ssvc=ssvc)], None)
    assert tier is not None and tier.tier is None and tier.days is None
    assert (tier.if_exposed, tier.if_not_exposed) == (if_exposed, if_not)
    assert tier.settle == SETTLE_EXPOSURE
    assert tier.forensic_triage is (None if if_exposed == T3F else False)


def test_the_most_urgent_cve_decides_and_missing_ssvc_is_named(table: Table1) -> None:
    mild = KevStatus(
        cve="CVE-2030-0003",
        known_exploited=False,
        ssvc=Ssvc(exploitation="none", automatable=False, technical_impact="partial"),
    )
    worst = KevStatus(
        cve="CVE-2030-0004",
        known_exploited=True,
        ssvc=Ssvc(exploitation="active", automatable=True, technical_impact="total"),
    )
    blank = KevStatus(cve="CVE-2030-0005", known_exploited=False)
    tier = finding_tier(table, [mild, worst, blank], False)
    assert tier is not None and tier.cve == "CVE-2030-0004" and tier.tier == T3F
    assert "CVE-2030-0005" in tier.note
    none = finding_tier(table, [blank], True)
    assert none is not None and none.tier is None and none.if_exposed is None and "update-ssvc" in (none.settle or "")
    assert finding_tier(table, [], True) is None


PROFILE = Profile.model_validate(
    {
        "id": "p",
        "title": "t",
        "description": "d",
        "frameworks": ["advisories-baseline"],
        "severity_threshold": "medium",
        "deadlines": {"critical": 15, "source": "contract"},
    }
)


def test_an_unverified_tier_never_becomes_a_deadline(table: Table1) -> None:
    f = finding(Exposure.SMB_MS17_010, port=445, severity=Severity.CRITICAL)
    cve = KevStatus(
        cve="CVE-2030-0006",
        known_exploited=True,
        ssvc=Ssvc(exploitation="active", automatable=True, technical_impact="total"),
    )
    bod = finding_tier(table, [cve], True)
    clock = compute(f, [cve], PROFILE, date(2026, 12, 1), date(2026, 12, 1), bod)
    assert clock.deadline == date(2026, 12, 16)  # the contract's 15 days, not the tier's 3
    assert "BOD 26-04 deadline unknown (indicative only)" in clock.timeline.basis
    assert clock.timeline.state is DeadlineState.DUE and clock.timeline.forensic_triage is True
    # Once someone verifies the rows against the directive, the tier's days bind.
    verified = dataclasses.replace(table, verified=True)
    clock = compute(f, [cve], PROFILE, date(2026, 12, 1), date(2026, 12, 1), finding_tier(verified, [cve], True))
    assert clock.deadline == date(2026, 12, 4) and clock.timeline.basis.startswith("BOD 26-04 Table 1: 3 days")


def test_forensic_triage_from_kev_wins_over_the_tier(table: Table1) -> None:
    f = finding(Exposure.SMB_MS17_010, port=445, severity=Severity.CRITICAL)
    cve = KevStatus(
        cve="CVE-2030-0007",
        known_exploited=True,
        forensic_triage="Yes",
        ssvc=Ssvc(exploitation="active", automatable=False, technical_impact="partial"),
    )
    clock = compute(f, [cve], PROFILE, date(2026, 12, 1), date(2026, 12, 1), finding_tier(table, [cve], False))
    assert clock.timeline.forensic_triage is True


def test_changed_rows_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "bod"
    shutil.copytree(DIR, copy)
    rows = copy / "cisa_bod_26_04_1_0_0.csv"
    rows.write_text(rows.read_text().replace("3 days & forensic investigation", "3 days", 1))
    with pytest.raises(CatalogError, match="sha256"):
        load_table1(copy)


def test_published_and_revocation_dates(table: Table1) -> None:
    from duecare.advisories.catalog import collect

    catalog = collect()[0]
    bod2604, bod2201, bod1902 = (catalog.advisories[a] for a in ("bod-26-04", "bod-22-01", "bod-19-02"))
    assert bod2604.published == date(2026, 6, 10)
    for old in (bod2201, bod1902):
        assert old.revoked_on == date(2026, 6, 10) and old.superseded_by == "bod-26-04"
        assert old.in_force(date(2026, 6, 9)) and not old.in_force(date(2026, 6, 10))
    assert bod2201.published == date(2021, 11, 3) and bod1902.published == date(2019, 4, 29)
    assert not bod2604.in_force(datetime(2026, 6, 9).date()) and bod2604.in_force(date(2026, 6, 10))
