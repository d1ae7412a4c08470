"""Exports carry the engagement clock and forensic triage as the report judged them, and the new
obligation statuses map to OCSF "Other" with our words (pure: no collector needed)."""

from __future__ import annotations

import csv
import io
from datetime import date

from duecare.collector.exports import Names
from duecare.collector.exports.csv import FINDING_COLUMNS, OBLIGATION_COLUMNS, findings_csv, obligations_csv
from duecare.collector.exports.ocsf import finding_event, obligation_event
from duecare.wire import DeadlineState, Exposure, ObligationStatus, Timeline
from duecare.wire.api import FindingOut, ObligationOut
from tests.collector.factories import BASE_TIME, finding
from tests.collector.test_ocsf import _assert_valid

TIMELINE = Timeline(
    first_seen=date(2026, 5, 1),
    engagement_start=date(2026, 11, 1),
    clock_start=date(2026, 11, 1),
    state=DeadlineState.INHERITED,
    basis="critical findings: 15 days",
    inherited_due=date(2022, 4, 15),
    forensic_triage=True,
)


def _finding_out() -> FindingOut:
    w = finding("198.18.0.30", Exposure.SMB_MS17_010, 445, kev_cves=["CVE-2017-0143"])
    w = w.model_copy(update={"deadline": date(2026, 11, 16), "timeline": TIMELINE})
    return FindingOut(
        id="6f1c0e2a9b8d7c6e5f4a3b2c1d0e9f8a", client_id="c", site_id="s", ip="198.18.0.30", exposure=w.exposure.value,
        port=445, proto=w.proto,
        status="open", severity=w.severity, title=w.title, kev=True, first_seen_at=BASE_TIME, last_seen_at=BASE_TIME,
        status_changed_at=BASE_TIME, last_report_id="r", changed_by_report_id="r", finding=w,
    )  # fmt: skip


def _obligation_out(status: ObligationStatus, **kw: object) -> ObligationOut:
    return ObligationOut.model_validate(
        {
            "id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "client_id": "c", "site_id": "s",
            "framework": "hipaa-security-rule", "requirement": "164.308(b)(1)", "title": "t", "status": status,
            "profile": "hipaa", "deadline": None,
            "overdue": False, "reason": "r", "findings": [], "first_seen_at": BASE_TIME, "last_seen_at": BASE_TIME,
            "status_changed_at": BASE_TIME, "last_report_id": "r", "changed_by_report_id": "r", **kw,
        }
    )  # fmt: skip


def test_ocsf_finding_carries_clock_and_forensic_triage() -> None:
    event = finding_event(_finding_out(), Names(), product_version="0")
    _assert_valid([event])
    d = event["unmapped"]["duecare"]
    assert d["deadline_state"] == "inherited" and d["inherited_due"] == "2022-04-15"
    assert d["deadline"] == "2026-11-16" and d["forensic_triage"] is True and d["internet_exposed"] is None


def test_ocsf_new_statuses_are_other_with_our_words() -> None:
    for status, words in (
        (ObligationStatus.ATTESTATION_REQUIRED, "Attestation required"),
        (ObligationStatus.NO_CONTRARY_EVIDENCE, "No contrary evidence"),
    ):
        event = obligation_event(_obligation_out(status), Names(), product_version="0")
        _assert_valid([event])
        assert event["compliance"]["status_id"] == 99 and event["compliance"]["status"] == words
    met = obligation_event(_obligation_out(ObligationStatus.MET), Names(), product_version="0")
    assert met["compliance"]["status_id"] == 1 and "status" not in met["compliance"]
    inherited = obligation_event(
        _obligation_out(ObligationStatus.NOT_MET, inherited_due="2022-04-15"), Names(), product_version="0"
    )
    assert inherited["unmapped"]["duecare"]["inherited_due"] == "2022-04-15"
    assert inherited["unmapped"]["duecare"]["overdue"] is False


def test_csv_columns_for_the_clock() -> None:
    rows = list(csv.DictReader(io.StringIO(b"".join(findings_csv([_finding_out()], Names())).decode())))
    assert list(rows[0]) == list(FINDING_COLUMNS)
    assert (rows[0]["deadline_state"], rows[0]["inherited_due"], rows[0]["forensic_triage"]) == (
        "inherited",
        "2022-04-15",
        "yes",
    )
    obl = _obligation_out(ObligationStatus.ATTESTATION_REQUIRED, inherited_due=None)
    rows = list(csv.DictReader(io.StringIO(b"".join(obligations_csv([obl], Names())).decode())))
    assert list(rows[0]) == list(OBLIGATION_COLUMNS) and rows[0]["status"] == "attestation_required"
