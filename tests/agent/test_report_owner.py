"""The owner summary reads one set of numbers: banner, cards, tables and the standard of care agree,
"past the agreed deadline" is only this engagement's, the plain-language summary comes first, and the
KEV catalog's age is the appendix's concern. Also: attestations printed verbatim, advisory provenance."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from duecare.report.html import render
from duecare.report.view import counts
from duecare.wire import (
    AdvisoryRef,
    Attestation,
    Bod2604Tier,
    Coverage,
    DeadlineState,
    KevStatus,
    ObligationStatus,
    ObligationSummary,
    Severity,
    Timeline,
    Vantage,
)
from duecare.wire import Exposure as E
from tests.agent.report_factories import WHEN, finding, obligation, rich_report
from tests.agent.test_report_html import Page

TODAY = (WHEN + timedelta(minutes=2)).date()
SUMMARY = "Anyone on the network can read the database without a password."
ATTESTED = Attestation(
    framework="hipaa-security-rule",
    requirement="164.308(b)(1)",
    statement="A business associate agreement with Example MSP LLC is in force <since 2026>.",
    attested_by="Dr Jane Owner",
    role="Practice owner",
    signed_on=date(2026, 11, 2),
    document="BAA-2026-001",
)


def _kev(cve: str, due: date) -> KevStatus:
    return KevStatus(cve=cve, known_exploited=True, kev_date_added=date(2021, 11, 3), kev_due_date=due)


def clocked_report(**over: Any) -> Any:
    """KEV findings: one inherited (due 2022, engagement began 2026-11-01), one past this engagement's
    own deadline, one banner match not confirmed; plus obligations in every status and an attestation."""
    base = rich_report()
    engaged = date(2026, 11, 1)
    inherited = finding(
        "198.18.0.30",
        E.SMB_MS17_010,
        445,
        Severity.CRITICAL,
        cves=tuple(_kev(f"CVE-2017-014{n}", date(2022, 4, 15)) for n in (3, 4, 5)),
        deadline=engaged + timedelta(days=30),
        summary="Windows file sharing with a flaw worms use to spread (WannaCry).",
        timeline=Timeline(
            first_seen=date(2026, 5, 1),
            engagement_start=engaged,
            clock_start=engaged,
            state=DeadlineState.INHERITED,
            basis="critical findings: 30 days from 2026-11-01 (contract)",
            inherited_due=date(2022, 4, 15),
            bod_26_04=Bod2604Tier(
                cve="CVE-2017-0143",
                in_kev=True,
                automatable=False,
                technical_impact="total",
                publicly_exposed=None,
                if_exposed="3 days & forensic investigation",
                if_not_exposed="14 days",
                settle="an outside view",
                table_verified=False,
                source="CERT/CC's encoding of BOD 26-04 Table 1 gives this tier; the directive's text was not verified",
            ),
        ),
        advisories=(
            AdvisoryRef(
                id="ms17-010",
                publisher="Microsoft",
                official_id="MS17-010",
                title="Security Update for Microsoft Windows SMB Server (4013389)",
                url="https://learn.microsoft.com/en-us/security-updates/securitybulletins/2017/ms17-010",
                published=date(2017, 3, 14),
            ),
            AdvisoryRef(
                id="bod-23-02",
                publisher="CISA",
                official_id="BOD 23-02",
                title="Mitigating the Risk from Internet-Exposed Management Interfaces",
                url="https://www.cisa.gov/x",
                published=date(2023, 6, 13),
                vantage=Vantage.INTERNET,
            ),
        ),
    )
    late = finding(
        "198.18.0.40",
        E.REDIS_NO_AUTH,
        6379,
        Severity.HIGH,
        cves=(_kev("CVE-2022-0543", date(2026, 11, 20)),),
        deadline=date(2026, 11, 15),
        summary=SUMMARY,
        remediation="Set requirepass in redis.conf. Restrict the listener.",
        timeline=Timeline(
            first_seen=date(2026, 11, 1),
            engagement_start=engaged,
            clock_start=engaged,
            state=DeadlineState.OVERDUE,
            basis="high findings: 14 days",
            forensic_triage=True,
        ),
    )
    banner = finding(
        "198.18.0.41",
        E.KEV_VERSION_DISCLOSED,
        80,
        Severity.MEDIUM,
        confidence="tentative",
        cves=(_kev("CVE-2021-41773", date(2021, 11, 17)),),
    )
    results = (
        obligation(
            "hipaa-security-rule",
            "164.312(d)",
            ObligationStatus.NOT_MET,
            "198.18.0.40|redis-no-auth|6379/tcp",
            deadline=date(2026, 11, 15),
            overdue=True,
            reason="1 finding",
        ),
        obligation(
            "hipaa-security-rule",
            "164.308(a)(1)(ii)(B)",
            ObligationStatus.NOT_MET,
            "198.18.0.30|smb-ms17-010|445/tcp",
            deadline=engaged + timedelta(days=30),
            inherited_due=date(2022, 4, 15),
            reason="1 finding",
        ),
        obligation(
            "hipaa-security-rule",
            "164.312(e)(1)",
            ObligationStatus.NO_CONTRARY_EVIDENCE,
            reason="no relevant finding at or above medium; a network scan sees only part of this requirement",
        ),
        obligation(
            "hipaa-security-rule",
            "164.308(b)(1)",
            ObligationStatus.ATTESTATION_REQUIRED,
            reason="attested by Dr Jane Owner",
            attestation=ATTESTED,
        ),
        obligation(
            "hipaa-security-rule",
            "164.308(a)(6)(ii)",
            ObligationStatus.ATTESTATION_REQUIRED,
            reason="a duty no network scan can judge",
        ),
        obligation(
            "advisories-baseline",
            "TA17-156A",
            ObligationStatus.MET,
            reason="no relevant finding at or above medium: snmp completed on 1 service on 1 host",
            coverage=Coverage(probes=("snmp",), services=1, hosts_swept=5, complete=True),
        ),
        obligation(
            "advisories-baseline",
            "BOD 23-02",
            ObligationStatus.UNKNOWN,
            vantage=Vantage.INTERNET,
            reason="needs an outside view",
        ),
    )
    fields: dict[str, Any] = {
        "findings": (*base.findings[1:], inherited, late, banner),
        "obligations": ObligationSummary.of("hipaa", results, engaged),
        "kev_catalog_version": "2026.08.07",
        "kev_catalog_released": WHEN - timedelta(days=105),
    }
    fields.update(over)
    return base.model_copy(update=fields)


def test_every_owner_count_comes_from_one_source() -> None:
    report = clocked_report()
    html = render(report)
    page = Page(html)
    c = counts(report, TODAY)
    cards = {m.group(1): int(m.group(2)) for m in re.finditer(r'data-count="(\w+)"><b>(\d+)</b>', html)}
    assert cards == {
        "devices": c.devices,
        "open": c.open,
        "serious": c.serious,
        "kev": c.kev,
        "overdue": c.overdue,
        "undetermined": c.undetermined,
    }
    # KEV: the card counts the confirmed rows of the KEV table; unconfirmed rows are labelled as such.
    kev_rows = page.attr_values("data-kev")
    assert kev_rows.count("confirmed") == c.kev == 2 and kev_rows.count("unconfirmed") == c.kev_unconfirmed == 1
    # Past the deadline: the card counts the rows of that table, and only this engagement's deadlines.
    overdue_rows = re.search(r'<table id="overdue-table">(.*?)</table>', html, re.S)
    assert overdue_rows and overdue_rows.group(1).count("<tr>") - 1 == c.overdue == 1
    inherited_rows = re.search(r'<table id="inherited-table">(.*?)</table>', html, re.S)
    assert inherited_rows and inherited_rows.group(1).count("<tr>") - 1 == c.inherited == 1
    # The banner says the same numbers.
    headline = page.visible.split("Action required.")[1][:200]
    assert f"{c.kev} known-exploited (KEV) exposures" in headline
    assert f"{c.overdue} exposure past the agreed deadline" in headline
    # The standard of care's sentence and the chart read the summary's counts.
    o = report.obligations
    assert (
        f"{o.not_met} not met" in page.visible and f"{o.attestation_required} need a signed attestation" in page.visible
    )
    assert (
        f"{o.no_contrary_evidence} showed no contrary evidence" in page.visible
        and f"{o.met} met on recorded evidence" in page.visible
    )
    assert f"bear on {c.requirements_overdue} requirement:" in page.visible


def test_inherited_is_never_past_the_agreed_deadline() -> None:
    text = Page(render(clocked_report())).visible
    assert "inherited: overdue before the engagement began (due 2022-04-15)" in text
    assert "Deadlines run from the engagement start (2026-11-01)" in text
    assert "when this engagement began on 2026-11-01" in text
    overdue = text.split("Past the agreed deadline")[1].split("Inherited: overdue before the engagement began")[0]
    assert "198.18.0.40" in overdue and "198.18.0.30" not in overdue


def test_owner_reads_the_plain_summary_before_the_fix() -> None:
    text = Page(render(clocked_report())).visible
    actions = text.split("most important actions")[1].split("Known exploited vulnerabilities")[0]
    assert SUMMARY in actions
    assert actions.index(SUMMARY) < actions.index("requirepass")
    assert "Check for compromise first" in actions  # the forensic-triage finding


def test_kev_age_is_one_calm_line_for_the_owner_and_a_fact_in_the_appendix() -> None:
    text = Page(render(clocked_report())).visible
    owner = text.split("1 Summary for the owner")[-1].split("2 Obligations under the standard of care")[0]
    assert "days old" not in owner and "stale" not in owner
    assert "comes from CISA's catalog of 7 August 2026" in owner
    appendix = text.split("Appendix: method")[-1]
    assert "105 days old at the scan" in appendix and "update-kev" in appendix


def test_attestations_are_printed_verbatim_with_a_place_for_the_missing_ones() -> None:
    page = Page(render(clocked_report()))
    text = page.visible
    section = text.split("Duties that need a signed attestation")[1]
    assert "“A business associate agreement with Example MSP LLC is in force <since 2026>.”" in section
    assert "Dr Jane Owner, Practice owner, signed 2026-11-02; document: BAA-2026-001" in section
    assert "No attestation supplied" in section and "Attested by: ____" in section
    assert ("hipaa-security-rule|164.308(b)(1)") in page.attr_values("data-obligation")


def test_advisory_provenance_and_bod_tiers_in_the_detail() -> None:
    text = Page(render(clocked_report())).visible
    assert "public since 2017-03-14, 3335 days before first seen" in text
    assert "about internet-facing systems" in text
    assert "indicative tiers: 3 days & forensic investigation if publicly exposed, 14 days if not" in text
    assert "the directive's text was not verified" in text


def test_new_statuses_are_charted_and_badged() -> None:
    html = render(clocked_report())
    assert ">No contrary evidence<" in html and ">Attestation required<" in html
    assert 'class="badge st-no_contrary_evidence"' in html
