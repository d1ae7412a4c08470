"""os-end-of-life on the lab's Windows-announcing hosts, from a full one-shot scan in the scanner namespace.

What the lab announces over NTLM (seen in a scan on 2026-12-05): the nginx OWA hosts LAB/EXCH01
(198.18.0.30) 10.0.14393 and EXCH02 (198.18.0.31) 10.0.20348, both with Exchange answering; the samba
hosts (198.18.0.20/.21) Samba's fixed "Windows 6.1 Build 0"; xrdp offers no CredSSP, so no NTLM.
The scan judges on its own date; the same collected facts are then re-judged on other days (the
clock is a parameter) to show where each host's verdict turns.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path

import pytest

from duecare.advisories.catalog import load_catalog
from duecare.advisories.engine import FactsRecord
from duecare.advisories.lifecycle import end_of_life_findings
from duecare.lab.lab import Lab
from duecare.probes.registry import all_probes
from duecare.wire import Confidence, Exposure, Finding, Report, Verdict

pytestmark = pytest.mark.lab

DUECARE = str(Path(sys.executable).with_name("duecare"))
FAST = """
[timeouts]
connect = 2.0
read = 3.0
probe = 12.0
"""
EOL_OS = Exposure.OS_END_OF_LIFE
EOL = {EOL_OS, Exposure.PRODUCT_END_OF_LIFE}


@pytest.fixture(scope="module")
def report(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Report:
    cfg = tmp_path_factory.mktemp("eol") / "fast.toml"
    cfg.write_text(FAST)
    argv = [DUECARE, "scan", "198.18.0.0/24", "--exclude", "198.18.0.2", "--config", str(cfg), "--json"]
    proc = subprocess.run(lab.exec_argv(argv), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    return Report.model_validate_json(proc.stdout)


def _records(report: Report) -> list[FactsRecord]:
    """The report's probe attempts back as the engine's records (facts re-validated by their models;
    evidence lives on the report's findings, not its attempts, so it is not carried here)."""
    models = {p.id: p.facts_model for p in all_probes()}
    out = []
    for a in report.attempts:
        model = models[a.probe]
        facts = None if a.facts is None else model.model_validate(a.facts)
        out.append(FactsRecord(a.probe, model, a.ip, a.port, a.proto, a.status, a.error, facts))
    return out


def _rejudge(report: Report, when: datetime) -> dict[str, list[Finding]]:
    lifecycle = load_catalog().lifecycle
    assert lifecycle is not None
    found = end_of_life_findings(_records(report), [], lifecycle, when)
    out: dict[str, list[Finding]] = {}
    for f in found:
        out.setdefault(str(f.ip), []).append(f)
    return out


def test_what_the_lab_announces(lab: Lab, report: Report) -> None:
    versions: dict[str, set[str]] = {}
    for rec in _records(report):
        ntlm = getattr(rec.facts, "ntlm", None)
        host = getattr(rec.facts, "host", None)
        v = ntlm.product_version if ntlm is not None else getattr(host, "os_version", None)
        if v is not None:
            versions.setdefault(str(rec.ip), set()).add(str(v))
    exch2016, exchse = lab.host("exch2016").ip, lab.host("exchse").ip
    smb1, smb3 = lab.host("smb1").ip, lab.host("smb3").ip
    assert versions[exch2016] == {"10.0.14393"} and versions[exchse] == {"10.0.20348"}
    assert versions[smb1] == {"6.1.0"} and versions[smb3] == {"6.1.0"}
    for name in ("rdp-std", "rdp-tls"):  # xrdp: no CredSSP, no NTLM
        assert lab.host(name).ip not in versions


def test_the_scan_judges_on_its_own_date(report: Report) -> None:
    """The report's end-of-life findings are the lifecycle rule over its facts on the scan's start date."""
    mine = sorted((str(f.ip), f.exposure, f.verdict) for f in report.findings if f.exposure in EOL)
    again = _rejudge(report, report.started_at)
    assert mine == sorted((ip, f.exposure, f.verdict) for ip, fs in again.items() for f in fs)


def test_no_end_of_life_finding_on_2026_12_05(report: Report) -> None:
    """EXCH01 is Server 2016 (Exchange ⇒ server; supported to 2027-01-12), EXCH02 Server 2022; the
    samba hosts are not Windows at all."""
    assert _rejudge(report, datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) == {}


def test_server_2016_ends_on_2027_01_12(lab: Lab, report: Report) -> None:
    exch2016 = lab.host("exch2016").ip
    assert exch2016 not in _rejudge(report, datetime(2027, 1, 12, 23, 0, tzinfo=UTC))
    after = _rejudge(report, datetime(2027, 1, 13, 9, 0, tzinfo=UTC))
    (f,) = after[exch2016]
    # Ended, but Server 2016's paid ESU (up to three years) may cover it: tentative until ESU ends too.
    assert (f.exposure, f.verdict, f.confidence, f.port) == (EOL_OS, Verdict.AFFECTED, Confidence.TENTATIVE, 443)
    assert "Windows Server 2016" in f.reason and f.details["narrowed_by"]
    (g,) = _rejudge(report, datetime(2030, 1, 9, 9, 0, tzinfo=UTC))[exch2016]
    assert (g.verdict, g.confidence) == (Verdict.AFFECTED, Confidence.FIRM)
    # Server 2022 (EXCH02) and the samba hosts stay clear even then.
    assert set(after) == {exch2016}


def test_samba_is_never_judged_as_windows(lab: Lab, report: Report) -> None:
    far = _rejudge(report, datetime(2040, 1, 1, tzinfo=UTC))
    assert ip_address(lab.host("smb1").ip) not in {f.ip for fs in far.values() for f in fs}
    assert lab.host("smb3").ip not in far
    # By 2040 Server 2022 has ended too: both Exchange hosts, never the samba ones.
    assert set(far) == {lab.host("exch2016").ip, lab.host("exchse").ip}
