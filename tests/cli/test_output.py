"""The findings table in a terminal: worst first, cut with an ellipsis, "+N more", ids never broken."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from duecare.cli.output import ADVISORIES_SHOWN, WHY_CHARS, render_summary
from duecare.wire import AdvisoryRef, Severity
from duecare.wire import Exposure as E
from tests.agent.report_factories import finding, rich_report

LONG_WHY = "Exchange Server 2016 CU22 (build 15.1.2375.7 from ecp-exporttool-manifest) is at the CU22 release " * 3


def _render(width: int) -> str:
    advisories = tuple(
        AdvisoryRef(id=f"aa2{i}", publisher="CISA", official_id=f"AA2{i}-001A", title="t", url="https://www.cisa.gov/x")
        for i in range(7)
    )
    findings = (
        finding("198.18.0.90", E.TLS_CERTIFICATE_EXPIRED, 443, Severity.LOW),
        finding("198.18.0.20", E.SMB_SIGNING_NOT_REQUIRED, 445, Severity.MEDIUM),
        finding("198.18.0.30", E.EXCHANGE_UNPATCHED, 443, Severity.CRITICAL, reason=LONG_WHY, advisories=advisories),
        finding("198.18.0.10", E.RDP_NO_NLA, 3389, Severity.HIGH),
    )
    out = io.StringIO()
    render_summary(rich_report(findings=findings), Console(file=out, width=width, color_system=None))
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 120, 160])
def test_table_is_sorted_cut_with_ellipsis_and_keeps_ids_whole(width: int) -> None:
    text = _render(width)
    order = [text.index(x) for x in ("exchange-unpatched", "rdp-no-nla", "smb-signing-not-required", "tls-cert")]
    assert order == sorted(order), text  # critical, high, medium, low
    for exposure in ("smb-signing-not-required", "tls-certificate-expired", "exchange-unpatched"):
        assert exposure in text, f"{exposure} broken across lines at {width} columns:\n{text}"
    assert f"+{7 - ADVISORIES_SHOWN} more" in text
    assert "…" in text and LONG_WHY[: WHY_CHARS - 1] not in text.replace("\n", " ")
    assert max(len(line) for line in text.splitlines()) <= width
