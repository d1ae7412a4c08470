"""The resolve rule, case by case (collector/lifecycle.py docstring)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from duecare.collector import lifecycle
from duecare.collector.coverage import Coverage
from duecare.collector.rows import AssetRow, FindingRow, ObligationRow
from duecare.wire import Exposure, ObligationStatus, Report, Severity, Verdict
from tests.collector.factories import BASE_TIME, asset, finding, make_report, obligations

TELNET = finding("198.18.0.50")


def _ctx(report: Report, agent: str = "ag_1") -> lifecycle.ReportContext:
    return lifecycle.ReportContext(report, "cl_1", "st_1", agent, Coverage.of(report))


def _run(rows: dict[str, FindingRow], agent: str = "ag_1", hour: int = 0, **kw: Any) -> list[str]:
    report = make_report(started_at=BASE_TIME + timedelta(hours=hour), **kw)
    return [t.transition for t in lifecycle.apply_findings(_ctx(report, agent), rows)]


def _status(rows: dict[str, FindingRow]) -> str:
    (row,) = rows.values()
    return row.status


def _opened() -> dict[str, FindingRow]:
    rows: dict[str, FindingRow] = {}
    assert _run(rows, findings=[TELNET]) == ["new"]
    return rows


def test_full_cycle_new_open_resolved_reopened_open() -> None:
    rows = _opened()
    assert _run(rows, hour=1, findings=[TELNET]) == ["open"]
    assert _run(rows, hour=2, findings=[TELNET]) == []
    assert _run(rows, hour=3, findings=[]) == ["resolved"]
    assert _run(rows, hour=4, findings=[]) == []
    assert _run(rows, hour=5, findings=[TELNET]) == ["reopened"]
    assert _run(rows, hour=6, findings=[TELNET]) == ["open"]
    row = rows[lifecycle.finding_ident(TELNET)]
    assert row.first_seen_at == BASE_TIME + timedelta(minutes=5)
    assert row.last_seen_at == BASE_TIME + timedelta(hours=6, minutes=5)


def test_only_affected_opens_a_finding() -> None:
    rows: dict[str, FindingRow] = {}
    other = [
        finding("198.18.0.50", verdict=Verdict.NOT_AFFECTED),
        finding("198.18.0.51", verdict=Verdict.INDETERMINATE),
    ]
    assert _run(rows, findings=other) == []
    assert rows == {}


def test_absent_outside_scope_is_not_resolved() -> None:
    rows = _opened()
    assert _run(rows, hour=1, targets=["198.18.0.0/28"], assets=[], findings=[]) == []
    assert _status(rows) == "new"


def test_absent_but_excluded_is_not_resolved() -> None:
    rows = _opened()
    assert _run(rows, hour=1, exclusions=["198.18.0.50"], assets=[], findings=[]) == []


def test_absent_but_port_not_scanned_is_not_resolved() -> None:
    rows = _opened()
    assert _run(rows, hour=1, tcp_ports="80,443", assets=[asset("198.18.0.50")], findings=[]) == []


def test_absent_from_another_agents_report_is_not_resolved() -> None:
    rows = _opened()
    assert _run(rows, agent="ag_2", hour=1, findings=[]) == []


def test_indeterminate_is_not_fixed() -> None:
    rows = _opened()
    unsure = finding("198.18.0.50", verdict=Verdict.INDETERMINATE)
    assert _run(rows, hour=1, findings=[unsure]) == []


def test_explicit_not_affected_resolves() -> None:
    rows = _opened()
    fixed = finding("198.18.0.50", verdict=Verdict.NOT_AFFECTED)
    assert _run(rows, hour=1, findings=[fixed]) == ["resolved"]


def test_late_older_report_never_resolves() -> None:
    rows = _opened()
    assert _run(rows, hour=2, findings=[TELNET]) == ["open"]
    assert _run(rows, hour=1, findings=[]) == []


def test_listed_asset_outside_targets_counts_as_covered() -> None:
    rows = _opened()
    assert _run(rows, hour=1, targets=["198.18.0.0/30"], assets=[asset("198.18.0.50")], findings=[]) == ["resolved"]


def test_severity_or_kev_change_is_an_update() -> None:
    rows = _opened()
    _run(rows, hour=1, findings=[TELNET])
    kev = finding("198.18.0.50", severity=Severity.CRITICAL, kev_cves=["CVE-2020-0001"])
    assert _run(rows, hour=2, findings=[kev]) == ["updated"]
    row = rows[lifecycle.finding_ident(kev)]
    assert row.kev and row.severity == "critical" and row.status == "open"


def test_duplicates_in_one_report_keep_the_worst() -> None:
    rows: dict[str, FindingRow] = {}
    _run(rows, findings=[finding("198.18.0.50", severity=Severity.LOW), finding("198.18.0.50", severity=Severity.HIGH)])
    assert _status(rows) == "new" and next(iter(rows.values())).severity == "high"


def test_alerts_only_for_new_or_reopened_critical_or_kev() -> None:
    crit = finding("198.18.0.60", Exposure.SMB_MS17_010, 445, severity=Severity.CRITICAL)
    kev = finding("198.18.0.61", Exposure.EXCHANGE_UNPATCHED, 443, severity=Severity.HIGH, kev_cves=["CVE-2021-34473"])
    rows: dict[str, FindingRow] = {}
    report = make_report(findings=[crit, kev, TELNET])
    alerts = lifecycle.alerts(lifecycle.apply_findings(_ctx(report), rows))
    assert sorted(a.row.ip for a in alerts) == ["198.18.0.60", "198.18.0.61"]  # type: ignore[union-attr]
    again = make_report(findings=[crit, kev, TELNET], started_at=BASE_TIME + timedelta(hours=1))
    assert lifecycle.alerts(lifecycle.apply_findings(_ctx(again), rows)) == []


def test_assets_new_present_vanished_returned() -> None:
    rows: dict[str, AssetRow] = {}

    def run(hour: int, ips: list[str], **kw: Any) -> list[str]:
        report = make_report(started_at=BASE_TIME + timedelta(hours=hour), assets=[asset(i) for i in ips], **kw)
        return [f"{t.row.ip}:{t.transition}" for t in lifecycle.apply_assets(_ctx(report), rows)]  # type: ignore[union-attr]

    assert run(0, ["198.18.0.1", "198.18.0.2"]) == ["198.18.0.1:new", "198.18.0.2:new"]
    assert run(1, ["198.18.0.1", "198.18.0.2"]) == ["198.18.0.1:present", "198.18.0.2:present"]
    assert run(2, ["198.18.0.1"], targets=["198.18.0.1"]) == []  # .2 not in this scan
    assert run(3, ["198.18.0.1"]) == ["198.18.0.2:vanished"]
    assert run(4, ["198.18.0.1", "198.18.0.2"]) == ["198.18.0.2:returned"]


def test_obligation_status_changes_are_transitions() -> None:
    rows: dict[tuple[str, str], ObligationRow] = {}

    def run(hour: int, status: ObligationStatus) -> list[str]:
        report = make_report(
            started_at=BASE_TIME + timedelta(hours=hour), obligation_summary=obligations(("CIS", "4.8", status))
        )
        return [t.transition for t in lifecycle.apply_obligations(_ctx(report), rows)]

    assert run(0, ObligationStatus.NOT_MET) == ["not_met"]
    assert run(1, ObligationStatus.NOT_MET) == []
    assert run(2, ObligationStatus.MET) == ["met"]
