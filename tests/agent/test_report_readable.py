"""The engineer's detail a person can read (issue 18, outputs): details as words and tables, one copy of a
capture per service, the scanned ports summarised, and one honest count of checks not settled."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from ipaddress import ip_address

from duecare.report.gaps import settle_hint
from duecare.report.html import render
from duecare.wire import Asset, Evidence, EvidenceKind, ProbeAttempt, ProbeStatus, Proto, Severity
from duecare.wire import Exposure as E
from duecare.wire.models import SKIP_CLASS_NOT_ALLOWED, SKIP_HOST_SILENT
from tests.agent.report_factories import WHEN, finding, rich_report


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start : html.index("</section>", start)]


def test_details_read_as_words_and_a_table_not_json() -> None:
    fixes = [{"id": f"CVE-2023-{n}", "su": "Feb23SU", "on_this_cu": n % 2 == 0} for n in range(21700, 21730)]
    details = {
        "product": "Exchange Server 2016",
        "cu_serviced": False,
        "latest_su": {"name": "Exchange Server 2016 CU22 Nov22SU", "date": "2022-11-08"},
        "missing_fixes": fixes,
    }
    exch = finding("198.18.0.30", E.EXCHANGE_UNPATCHED, 443, Severity.CRITICAL, details=details)
    html = render(rich_report(findings=(exch,)))
    dd = html[html.index('<dd class="small details">') :]
    dd = dd[: dd.index("</dd>")]
    assert "{" not in dd and '"id"' not in dd and "[" not in dd  # no raw dump
    text = _text(dd)
    assert "Cu serviced: no" in text and "Product: Exchange Server 2016" in text
    assert "Latest su: name Exchange Server 2016 CU22 Nov22SU · date 2022-11-08" in text
    assert "Missing fixes (30):" in text
    assert re.findall(r"<th>([^<]+)</th>", dd) == ["id", "su", "on this cu"]
    assert "<td>CVE-2023-21700</td><td>Feb23SU</td><td>yes</td>" in dd
    assert "5 more in the JSON report" in text  # 30 rows, 25 shown


def test_a_capture_behind_several_findings_of_one_port_is_shown_once() -> None:
    cert = Evidence(
        kind=EvidenceKind.CERTIFICATE,
        summary="certificate presented by 198.18.0.90:443",
        excerpt="subject: CN=intranet01\nnotAfter: 2021-01-01 (expired)",
        observed_at=WHEN,
        probe="tls",
    )
    old = finding("198.18.0.90", E.TLS_OBSOLETE_PROTOCOL, 443, Severity.MEDIUM, evidence=(cert,), title="Old TLS")
    expired = finding("198.18.0.90", E.TLS_CERTIFICATE_EXPIRED, 443, Severity.LOW, evidence=(cert,))
    html = render(rich_report(findings=(old, expired)))
    assert html.count("notAfter: 2021-01-01 (expired)") == 1
    assert _text(html).count("certificate presented by 198.18.0.90:443") == 2  # named under both
    assert "the same capture as shown above under Old TLS" in _text(html)


def test_appendix_summarises_a_long_port_list_and_keeps_a_short_one() -> None:
    ports = sorted({*range(1, 1025, 3), *range(1025, 65536, 97)})
    ranges = ",".join(str(p) for p in ports)
    r = rich_report()
    long = render(r.model_copy(update={"scope": r.scope.model_copy(update={"tcp_ports": ranges})}))
    row = _text(_section(long, "appendix"))
    below = sum(1 for p in ports if p < 1024)
    assert f"{len(ports)} ports from 1 to {ports[-1]} ({below} below 1024), in {len(ports)} ranges" in row
    assert "1, 4, 7, 10" not in row and "scope.tcp_ports in the JSON report" in row
    short = _text(_section(render(r), "appendix"))
    assert "1025 ports: 1-1024, 3389" in short


def _tarpit_report(attempts: tuple[ProbeAttempt, ...]):  # type: ignore[no-untyped-def]
    r = rich_report()
    tarpit = Asset(ip=ip_address("198.18.0.120"), discovered_by="arp")
    return r.model_copy(
        update={
            "findings": tuple(f for f in r.findings if f.verdict.value == "affected"),  # no indeterminate finding
            "assets": (*[a for a in r.assets if str(a.ip) != "198.18.0.120"], tarpit),
            "attempts": attempts,
        }
    )


def _attempt(probe: str, port: int, status: ProbeStatus, error: str) -> ProbeAttempt:
    return ProbeAttempt(
        probe=probe,
        ip=ip_address("198.18.0.120"),
        port=port,
        proto=Proto.TCP,
        status=status,
        started_at=WHEN,
        duration_ms=timedelta(seconds=5).total_seconds() * 1000,
        error=error,
    )


def test_checks_not_settled_are_counted_once_and_the_same_everywhere() -> None:
    silent = f"{SKIP_HOST_SILENT}: 4 TCP services accepted and never answered"
    attempts = (
        _attempt("ftp", 21, ProbeStatus.TIMED_OUT, "no FTP greeting within 5.0s"),
        _attempt("telnet", 23, ProbeStatus.TIMED_OUT, "no telnet greeting within 5.0s"),
        _attempt("tls", 443, ProbeStatus.SKIPPED, silent),
        _attempt("exchange", 443, ProbeStatus.SKIPPED, silent),
        _attempt("redis", 6379, ProbeStatus.PROTOCOL_ERROR, "not RESP"),
    )
    html = render(_tarpit_report(attempts))
    kpi = re.search(r'<div class="kpi"[^>]*><b>(\d+)</b><span>checks not settled', html)
    assert kpi is not None and kpi.group(1) == "5"
    assert "5 checks could not be settled from the network (section 4)" in _text(_section(html, "summary"))
    devices = _text(html[html.index('id="devices"') :])
    row = devices[devices.index("198.18.0.120") :][:200]
    assert "none found; 5 checks not settled" in row and "none observed" not in row


def test_a_protocol_error_alone_is_not_zero_checks_not_settled() -> None:
    html = render(_tarpit_report((_attempt("ftp", 21, ProbeStatus.PROTOCOL_ERROR, "not FTP"),)))
    kpi = re.search(r'<div class="kpi"[^>]*><b>(\d+)</b><span>checks not settled', html)
    assert kpi is not None and kpi.group(1) == "1"
    assert "Every check that was started completed" not in html


def test_what_would_settle_a_skip_depends_on_why_it_was_skipped() -> None:
    silent = settle_hint(ProbeStatus.SKIPPED, "tcp", f"{SKIP_HOST_SILENT}: 4 TCP services accepted and never answered")
    assert "silent_host_timeouts" in silent and "probe class" not in silent and "consent" not in silent
    by_config = settle_hint(ProbeStatus.SKIPPED, "tcp", f"{SKIP_CLASS_NOT_ALLOWED} vuln-specific not allowed by config")
    assert "[probes] classes" in by_config and "written consent" in by_config
