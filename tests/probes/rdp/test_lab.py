"""RDP probe against the lab's xrdp hosts, through the CLI, cross-checked with nmap.

Both run from the scanner namespace. Known nmap 7.93 behaviour this test accounts for:
* ``rdp-enum-encryption`` prints ``X: SUCCESS`` for any RDP_NEG_RSP, whatever protocol the server
  *selected* (xrdp with security_layer=rdp answers every request by selecting standard RDP, so nmap
  says "CredSSP (NLA): SUCCESS"). We compare on that same ground: nmap SUCCESS ⇔ our outcome
  ``selected``; our facts additionally say *which* protocol was selected.
* on xrdp with security_layer=tls the script throws in ``enum_ciphers`` (rdp.lua parse error after
  the MCS request) and prints no table; then only the lab's host spec can be compared.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

_lab_fixtures = pytest.importorskip("tests.lab.fixtures")
lab = _lab_fixtures.lab

DUECARE = Path(sys.executable).parent / "duecare"
pytestmark = pytest.mark.lab
#: nmap's names for the requested protocol sets it sends (rdp-enum-encryption.nse PROTOCOLS).
NMAP_LAYERS = {"Native RDP": 0, "SSL": 1, "CredSSP (NLA)": 3}
NMAP_VERSIONS = {"RDP 5.x, 6.x, 7.x, or 8.x server": "RDP 5.x-8.x", "RDP 4.0 server": "RDP 4.0"}


def probe_rdp(lab: Any, ip: str) -> dict[str, Any]:
    argv = lab.exec_argv([str(DUECARE), "probe", "rdp", ip, "3389", "--json"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout, f"no JSON from the CLI (rc {done.returncode}): {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def nmap(lab: Any, ip: str, scripts: str) -> str:
    argv = lab.exec_argv(["nmap", "-Pn", "-n", "-p", "3389", "--script", scripts, ip])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def exposures(result: dict[str, Any]) -> dict[str, str]:
    return {f["exposure"]: f["verdict"] for f in result["findings"]}


def by_mask(facts: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {n["requested"]: n for n in facts["negotiations"]}


def agree_with_enum_encryption(facts: dict[str, Any], out: str) -> None:
    ours = by_mask(facts)
    for name, mask in NMAP_LAYERS.items():
        nmap_success = re.search(rf"^\|\s+{re.escape(name)}: SUCCESS$", out, re.MULTILINE) is not None
        assert nmap_success == (ours[mask]["outcome"] == "selected"), f"{name}: nmap vs {ours[mask]}"
    level = re.search(r"RDP Encryption level: (.+)$", out, re.MULTILINE)
    std = facts["standard_security"]
    if level:
        assert std["encryption_level"] == level.group(1).strip()
        methods = re.findall(r"^\|\s+(\d+-bit RC4|FIPS 140-1): SUCCESS$", out, re.MULTILINE)
        assert std["encryption_method"] in methods
    version = re.search(r"RDP Protocol Version:\s+(.+)$", out, re.MULTILINE)
    if version:
        assert std["server_version"] == NMAP_VERSIONS[version.group(1).strip()]


def test_xrdp_standard_security_host(lab: Any) -> None:
    result = probe_rdp(lab, "198.18.0.10")
    attempt = result["attempt"]
    assert attempt["status"] == "completed", attempt["error"]
    f = attempt["facts"]
    assert f["connections"] == 5
    assert f["accepted_protocols"] == ["rdp"]
    assert f["standard_security_allowed"] is True
    assert f["nla_required"] is False
    assert f["tls"] is None
    assert f["ntlm_step"] == "hybrid_not_offered"
    assert f["standard_security"]["status"] == "determined"
    assert exposures(result) == {
        "rdp-exposed": "affected",
        "rdp-no-nla": "affected",
        "rdp-standard-security": "affected",
        "rdp-bluekeep-likely": "indeterminate",  # no OS version without CredSSP
    }
    out = nmap(lab, "198.18.0.10", "rdp-enum-encryption")
    assert "Security layer" in out, out
    agree_with_enum_encryption(f, out)


def test_xrdp_tls_host(lab: Any) -> None:
    result = probe_rdp(lab, "198.18.0.11")
    attempt = result["attempt"]
    assert attempt["status"] == "completed", attempt["error"]
    f = attempt["facts"]
    assert f["connections"] == 4
    assert f["accepted_protocols"] == ["ssl"]
    assert by_mask(f)[0]["failure"] == "SSL_REQUIRED_BY_SERVER"
    assert f["standard_security_allowed"] is False
    assert f["nla_required"] is False
    assert f["standard_security"]["status"] == "not_applicable"
    cert = f["tls"]["certificate"]
    assert cert["subject_cn"] == lab.host("rdp-tls").facts["cert_cn"]
    assert cert["self_signed"] is True
    assert cert["expired"] is False
    assert f["ntlm"] is None
    assert f["ntlm_step"] == "hybrid_not_offered"
    assert exposures(result) == {
        "rdp-exposed": "affected",
        "rdp-no-nla": "affected",
        "rdp-bluekeep-likely": "indeterminate",
    }
    out = nmap(lab, "198.18.0.11", "rdp-enum-encryption,rdp-ntlm-info")
    # rdp-ntlm-info tries CredSSP whatever the server selected: it must find nothing either.
    assert "rdp-ntlm-info" not in out
    if "Security layer" in out:  # a future nmap that no longer throws on xrdp
        agree_with_enum_encryption(f, out)
    else:
        assert "rdp-enum-encryption: ERROR" in out, out


def test_tarpit_times_out_without_findings_passing(lab: Any) -> None:
    result = probe_rdp(lab, "198.18.0.120")
    assert result["attempt"]["status"] == "timed_out"
    assert set(exposures(result).values()) == {"indeterminate"}
