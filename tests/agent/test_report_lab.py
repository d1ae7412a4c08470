"""The report of a real scan of the namespace lab with the ``hipaa`` profile, checked against the
JSON report of the same scan and looked at in headless Chromium at desktop and print widths.

Artefacts (gitignored) under ``artifacts/report/``: the JSON and HTML, screenshots, PDFs, figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from duecare.lab.lab import Lab
from duecare.report.view import finding_id
from duecare.wire import ObligationStatus, Report, Verdict
from tests.agent import chromium
from tests.agent.test_report_html import Page
from tests.env import require
from tests.lab.fixtures import lab  # noqa: F401 - the session-scoped lab fixture

pytestmark = pytest.mark.lab

DUECARE = str(Path(sys.executable).with_name("duecare"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"
AUTHORIZED = "Dr Jane Owner, Acme Dental LLC — engagement letter signed 2026-11-01"


@dataclass(frozen=True)
class LabScan:
    report: Report
    html_path: Path
    html: str
    scan_s: float


@pytest.fixture(scope="module")
def lab_scan(lab: Lab) -> LabScan:  # noqa: F811 - pytest fixture injection
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out, html = ARTIFACTS / "lab-report.json", ARTIFACTS / "lab-report.html"
    argv = [
        DUECARE,
        "scan",
        "198.18.0.0/24",
        "--exclude",
        "198.18.0.2",
        "--profile",
        "hipaa",
        "--json",
        "--json-out",
        str(out),
        "--report",
        str(html),
        "--authorized-by",
        AUTHORIZED,
    ]
    t0 = time.monotonic()
    proc = subprocess.run(lab.exec_argv(argv), capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - t0
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    report = Report.model_validate_json(out.read_bytes())
    assert Report.model_validate_json(proc.stdout) == report
    return LabScan(report, html, html.read_text(encoding="utf-8"), elapsed)


def test_report_lists_every_lab_finding(lab_scan: LabScan) -> None:
    page = Page(lab_scan.html)
    expected = {finding_id(f) for f in lab_scan.report.findings if f.verdict is not Verdict.NOT_AFFECTED}
    assert len(expected) > 20  # the lab has exposures on most of its hosts
    assert set(page.attr_values("data-finding")) == expected
    assert len(page.attr_values("data-finding")) == len(expected)
    for f in lab_scan.report.findings:
        if f.verdict is Verdict.AFFECTED:
            assert f.title in page.visible


def test_report_lists_every_not_met_obligation(lab_scan: LabScan) -> None:
    obligations = lab_scan.report.obligations
    assert obligations is not None, "a --profile hipaa scan must carry obligations"
    assert obligations.profile == "hipaa"
    not_met = {f"{o.framework}|{o.requirement}" for o in obligations.results if o.status is ObligationStatus.NOT_MET}
    assert not_met  # SMBv1, telnet, anonymous FTP … breach HIPAA-relevant requirements
    page = Page(lab_scan.html)
    shown = {
        a["data-obligation"]
        for t, a in page.tags
        if a.get("data-obligation") and a.get("data-status") == ObligationStatus.NOT_MET.value
    }
    assert shown == not_met
    assert f"{obligations.not_met} not met" in page.visible
    assert AUTHORIZED in page.visible


def test_owner_summary_counts_equal_the_json(lab_scan: LabScan) -> None:
    """The numbers an owner reads in the HTML are the JSON report's, counted once."""
    import re

    from duecare.report.view import counts

    report = lab_scan.report
    c = counts(report, report.finished_at.date())
    cards = {m.group(1): int(m.group(2)) for m in re.finditer(r'data-count="(\w+)"><b>(\d+)</b>', lab_scan.html)}
    open_fs = [f for f in report.findings if f.verdict is Verdict.AFFECTED and not f.waived]
    assert cards["devices"] == len(report.assets)
    assert cards["open"] == len(open_fs) == c.open
    assert cards["serious"] == sum(1 for f in open_fs if f.severity.rank >= 3)
    assert cards["kev"] == sum(
        1 for f in open_fs if f.confidence.value != "tentative" and any(k.known_exploited for k in f.cves)
    )
    assert cards["overdue"] == sum(1 for f in open_fs if f.deadline and f.deadline < report.finished_at.date())
    # "checks not settled": every check section 4 lists (indeterminate verdicts and attempts that did
    # not complete), the one count the summary, section 4 and the terminal all show.
    from duecare.report.gaps import open_questions

    unsettled = sum(q.unsettled for q in open_questions(report))
    assert cards["undetermined"] == unsettled >= sum(1 for f in report.findings if f.verdict is Verdict.INDETERMINATE)
    page = Page(lab_scan.html)
    assert page.attr_values("data-kev").count("confirmed") == cards["kev"]
    o = report.obligations
    assert o is not None
    for status in ObligationStatus:
        shown = [a for t, a in page.tags if a.get("data-obligation") and a.get("data-status") == status.value]
        assert len(shown) == getattr(o, status.value), status
    assert f"{o.not_met} not met" in page.visible
    assert f"{o.attestation_required} need a signed attestation" in page.visible
    # No attestation duty is met, and the KEV age is not the owner's worry.
    assert not [r for r in o.results if r.status is ObligationStatus.MET and "attestation" in r.reason]
    owner = page.visible.split("2 Obligations under the standard of care")[0]
    assert "days old" not in owner


@pytest.fixture(scope="module")
def browser() -> Iterator[chromium.Browser]:
    require(chromium.available(), "chromium is not installed (scripts/packages-extra.txt)")
    with chromium.Browser() as b:
        yield b


def test_lab_report_in_chromium_desktop_and_print(lab_scan: LabScan, browser: chromium.Browser) -> None:
    t0 = time.monotonic()
    browser.open(lab_scan.html_path)
    load_s = time.monotonic() - t0
    assert browser.problems() == []
    text = browser.evaluate("document.body.innerText")
    for needle in (
        "Action required",
        "HIPAA covered entity or business associate",
        "most important actions",
        "Known exploited vulnerabilities",
        "What could not be determined",
        "Authorisation record",
        str(lab_scan.report.report_id),
    ):
        assert needle in text, needle
    for sel in ("#headline", "svg.chart", "#actions", "#detail .finding", "#unsettled", "#appendix"):
        assert browser.evaluate(f"document.querySelector({sel!r}).getBoundingClientRect().height") > 0, sel
    desk = browser.screenshot(ARTIFACTS / "lab-desktop.png", width=1366)
    printed = browser.screenshot(ARTIFACTS / "lab-print.png", width=794, media="print")
    assert browser.evaluate("document.documentElement.scrollWidth") <= 794
    pdf_bytes = browser.print_pdf(ARTIFACTS / "lab-chromium.pdf")
    for name in ("lab-desktop.png", "lab-print.png"):
        data = (ARTIFACTS / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 100_000, name
    assert desk[1] > 3000 and printed[1] > 3000
    assert pdf_bytes > 50_000
    figures = {
        "scan_seconds": round(lab_scan.scan_s, 1),
        "html_bytes": len(lab_scan.html.encode()),
        "chromium_load_seconds": round(load_s, 2),
        "desktop_png": desk,
        "print_png": printed,
        "chromium_pdf_bytes": pdf_bytes,
        "findings": len(lab_scan.report.findings),
    }
    (ARTIFACTS / "lab-figures.json").write_text(json.dumps(figures, indent=2))


def test_lab_report_as_pdf_through_weasyprint(lab_scan: LabScan) -> None:
    pytest.importorskip("weasyprint")
    out = ARTIFACTS / "lab-weasyprint.pdf"
    t0 = time.monotonic()
    proc = subprocess.run(
        [DUECARE, "report", str(ARTIFACTS / "lab-report.json"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    assert time.monotonic() - t0 < 120
