"""The Exchange probe against the lab's nginx OWA surfaces, through the CLI, from the scanner namespace.

Given the lab (198.18.0.30: Exchange 2016 CU22 as released, 15.1.2375.7; 198.18.0.31: the newest SE
build of the table), when ``duecare probe exchange <ip> 443 --json`` runs inside the scanner
namespace, then the build comes from the export-tool manifest and the findings follow the decision.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from duecare.lab.lab import Lab

pytestmark = pytest.mark.lab

DUECARE = str(Path(sys.executable).with_name("duecare"))
#: Requests per host the probe may make (the brief's budget is "about six").
MAX_REQUESTS = 6


def probe(lab: Lab, ip: str, port: int) -> dict[str, Any]:
    argv = lab.exec_argv([DUECARE, "probe", "exchange", ip, str(port), "--json"])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def exposures(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["exposure"]: f for f in result["findings"]}


def test_2016_cu22_is_unpatched_and_unsupported(lab: Lab) -> None:
    host = lab.host("exch2016")
    result = probe(lab, host.ip, 443)
    attempt = result["attempt"]
    assert attempt["status"] == "completed", attempt["error"]
    facts = attempt["facts"]
    assert facts["build"] == {
        "version": host.facts["exchange_build"],
        "source": "ecp-exporttool-manifest",
        "precision": "full",
        "path": "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application",
    }
    seen = {(b["source"], b["version"]) for b in facts["builds_seen"]}
    assert ("x-owa-version-header", host.facts["exchange_build"]) in seen
    assert ("owa-logon-path", host.facts["owa_path_build"]) in seen
    assert facts["fe_servers"] == [host.facts["fe_server"]]
    assert facts["be_targets"] == [host.facts["be_target"]]
    assert facts["ntlm"]["netbios_domain_name"] == host.facts["ntlm_netbios_domain"]
    assert facts["ntlm"]["dns_domain_name"] == host.facts["ntlm_dns_domain"]
    assert 1 <= facts["requests_sent"] <= MAX_REQUESTS and not facts["incomplete"]

    found = exposures(result)
    assert set(found) == {"exchange-unpatched", "exchange-unsupported"}
    unpatched = found["exchange-unpatched"]
    assert unpatched["verdict"] == "affected" and unpatched["severity"] == "critical"
    assert unpatched["details"]["latest_su"]["name"] == "Exchange Server 2016 CU22 Nov22SU"
    assert {"CVE-2022-41040", "CVE-2022-41082"} <= {c["cve"] for c in unpatched["cves"]}
    assert unpatched["evidence"], "an affected finding carries its evidence"
    assert found["exchange-unsupported"]["verdict"] == "affected"


def test_newest_se_has_no_finding(lab: Lab) -> None:
    host = lab.host("exchse")
    result = probe(lab, host.ip, 443)
    facts = result["attempt"]["facts"]
    assert facts["build"]["version"] == host.facts["exchange_build"]
    assert facts["build"]["source"] == "ecp-exporttool-manifest"
    assert facts["requests_sent"] <= MAX_REQUESTS
    assert result["findings"] == []


def test_port_80_redirect_to_https_is_left_to_443(lab: Lab) -> None:
    """The lab's port 80 only redirects to HTTPS: one request, nothing judged there."""
    result = probe(lab, lab.host("exch2016").ip, 80)
    facts = result["attempt"]["facts"]
    assert facts["scheme"] == "http" and facts["redirects_to_https"]
    assert facts["requests_sent"] == 1
    assert result["findings"] == []


def test_plain_https_site_is_not_exchange(lab: Lab) -> None:
    result = probe(lab, lab.host("tls-legacy").ip, 443)
    assert result["attempt"]["status"] == "completed"
    assert not result["attempt"]["facts"]["exchange_detected"]
    assert result["findings"] == []
