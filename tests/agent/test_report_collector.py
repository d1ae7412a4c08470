"""`duecare report --collector`: a real collector process on 127.0.0.1, three signed reports of one
site, and the report rendered from its API with history, tracking and a verified signature."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from duecare.wire import Exposure, Report
from tests.agent.test_report_html import Page
from tests.collector.factories import AgentChain, finding
from tests.collector.processes import Server, cli

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]
DUECARE = str(Path(sys.executable).with_name("duecare"))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Server, Path, list[dict[str, object]]]]:
    db = f"sqlite:///{tmp_path / 'collector.db'}"
    cli("init", db=db)
    cli("add-client", "Acme Dental", db=db)
    token = cli("add-site", "Acme Dental", "Main office", "--ttl", "1h", db=db)[-1]
    key_file = tmp_path / "read.key"
    key_file.write_text("\n".join(cli("add-reader", "--all-clients", db=db)) + "\n")  # the key is the last line
    server = Server(db, tmp_path / "collector.log").start()
    try:
        chain = AgentChain()
        resp = httpx.post(f"{server.url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64})
        assert resp.status_code == 201, resp.text
        auth = {"authorization": f"Bearer {resp.json()['credential']}"}
        telnet = finding("198.18.0.10")
        ftp = finding("198.18.0.11", Exposure.FTP_ANONYMOUS, 21, kev_cves=["CVE-2099-0001"])
        vnc = finding("198.18.0.12", Exposure.VNC_NO_AUTH, 5900)
        bodies = [chain.next(findings=fs) for fs in ([telnet, ftp], [telnet, ftp, vnc], [telnet, vnc])]
        for body in bodies:
            r = httpx.post(f"{server.url}/v1/reports", json=body, headers=auth, timeout=30)
            assert r.status_code == 201, r.text
        yield server, key_file, bodies
    finally:
        server.stop()


def run_report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DUECARE, "report", *args], capture_output=True, text=True, timeout=120, check=False)


def test_report_from_collector_has_history_tracking_and_signature(
    site: tuple[Server, Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    server, key_file, bodies = site
    out = tmp_path / "site.html"
    proc = run_report(
        "--collector", server.url, "--key-file", str(key_file), "--site", "Main office", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 report(s) of history" in proc.stderr
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    text = page.visible
    latest = Report.model_validate(bodies[-1]["report"])
    assert str(latest.report_id) in text
    assert "Acme Dental — Main office" in text
    # the trend: open 2 → 3 → 2, with one new in the second report and one resolved in the third
    assert "Trend since the first report" in text and "3 reports" in text
    assert re.search(r"Report finished Open New Resolved \S+ \S+ UTC 2 2 0 \S+ \S+ UTC 3 1 0 \S+ \S+ UTC 2 0 1 ", text)
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert [("Open findings over time" in s) for s in svgs] == [False, True]  # severity bars, then the trend
    # per finding, the collector's tracking: telnet seen three times is open, vnc new in report 2 is open
    assert "open · first seen" in text
    assert "Ed25519 signature verified" in text
    # proof of notice: the collector's signed receipt for this report
    assert re.search(r"received by \S+ at \S+ \S+ UTC, receipt signature valid", text)
    # the FTP finding resolved in the last report is not shown as open anywhere
    assert "198.18.0.11|ftp-anonymous|21/tcp" not in page.attr_values("data-finding")


def test_unknown_site_and_bad_key_are_clear_errors(
    site: tuple[Server, Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    server, key_file, _ = site
    proc = run_report("--collector", server.url, "--key-file", str(key_file), "--site", "nowhere")
    assert proc.returncode == 1 and "no site 'nowhere'" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.key"
    bad.write_text("not-a-key\n")
    proc = run_report("--collector", server.url, "--key-file", str(bad), "--site", "Main office")
    assert proc.returncode == 1 and "401" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_report("--collector", server.url, "--site", "Main office")
    assert proc.returncode == 2 and "--key-file" in proc.stderr
