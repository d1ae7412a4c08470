"""The baseline exhibit: new, resolved, still open, and not re-checked (never counted as resolved)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from duecare.cli.main import app
from duecare.report.baseline import diff, key, load_report
from duecare.wire import Exposure as E
from duecare.wire import ObligationStatus, ObligationSummary, Severity, SignedReport, Verdict
from tests.agent.report_factories import finding, rich_report
from tests.agent.test_report_html import Page


def pair() -> tuple:  # type: ignore[type-arg]
    base = rich_report()
    assert base.obligations is not None
    rdp_then = finding("198.18.0.120", E.RDP_NO_NLA, 3389, Severity.HIGH)
    far_away = finding("10.9.9.9", E.TELNET_EXPOSED, 23, Severity.HIGH)
    baseline = base.model_copy(update={"findings": (*base.findings[:3], rdp_then, far_away)})
    exch, _telnet, snmp, rdp_now = base.findings  # telnet fixed, rdp indeterminate this time
    vnc = finding("198.18.0.80", E.VNC_NO_AUTH, 5900, Severity.CRITICAL)
    met = base.obligations.results[1].model_copy(update={"status": ObligationStatus.MET, "findings": ()})
    results = (base.obligations.results[0], met, *base.obligations.results[2:])
    current = base.model_copy(
        update={
            "findings": (exch.model_copy(update={"severity": Severity.HIGH}), snmp, rdp_now, vnc),
            "obligations": ObligationSummary.of(base.obligations.profile, results),
        }
    )
    assert rdp_now.verdict is Verdict.INDETERMINATE
    return baseline, current


def test_diff_classifies_by_address_exposure_and_port() -> None:
    baseline, current = pair()
    d = diff(baseline, current)
    assert [key(f) for f in d.new] == [("198.18.0.80", "vnc-no-auth", 5900)]
    assert [key(f) for f in d.resolved] == [("198.18.0.50", "telnet-exposed", 23)]
    assert sorted(key(s.now) for s in d.still_open) == [
        ("198.18.0.30", "exchange-unpatched", 443),
        ("198.18.0.60", "snmp-default-community", 161),
    ]
    assert [s.severity_changed for s in d.still_open if s.now.exposure is E.EXCHANGE_UNPATCHED] == [True]
    why = {key(n.finding): n.why for n in d.not_rechecked}
    assert "indeterminate" in why[("198.18.0.120", "rdp-no-nla", 3389)]
    assert "outside" in why[("10.9.9.9", "telnet-exposed", 23)]
    assert [(o.requirement, o.before, o.now) for o in d.obligations] == [
        ("164.312(e)(1)", ObligationStatus.NOT_MET, ObligationStatus.MET)
    ]


def test_port_outside_the_current_scan_is_not_rechecked() -> None:
    baseline, current = pair()
    narrow = current.model_copy(update={"scope": current.scope.model_copy(update={"tcp_ports": "443,161,5900"})})
    d = diff(baseline, narrow)
    assert not d.resolved
    assert ("198.18.0.50", "telnet-exposed", 23) in {key(n.finding) for n in d.not_rechecked}


def test_exhibit_from_the_cli_accepts_plain_and_signed_reports(tmp_path: Path) -> None:
    baseline, current = pair()
    b = tmp_path / "baseline.json"
    b.write_text(baseline.model_dump_json())
    c = tmp_path / "current.signed.json"
    envelope = SignedReport(report=json.loads(current.model_dump_json()), signature="A" * 88)
    c.write_text(envelope.model_dump_json())
    assert load_report(c) == current
    out = tmp_path / "exhibit.html"
    result = CliRunner().invoke(app, ["report", "--baseline", str(b), "--current", str(c), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 new, 1 resolved, 2 still open, 2 not re-checked" in result.output
    page = Page(out.read_text(encoding="utf-8"))
    assert "1 new, 1 resolved, 2 still open." in page.visible
    assert "198.18.0.80|vnc-no-auth|5900/tcp" in page.attr_values("data-finding")
    assert "hipaa-security-rule|164.312(e)(1)" in page.attr_values("data-obligation")
    assert str(baseline.report_id) in page.visible and str(current.report_id) in page.visible


def test_not_a_report_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    result = CliRunner().invoke(app, ["report", "--baseline", str(junk), "--current", str(junk)])
    assert result.exit_code == 2 and "not a duecare report" in result.output
    result = CliRunner().invoke(app, ["report", "--baseline", str(junk)])
    assert result.exit_code == 2 and "go together" in result.output
