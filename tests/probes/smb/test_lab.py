"""SMB probes against the namespace lab's Samba hosts, through the CLI, from the scanner namespace,
cross-checked with nmap's smb-protocols and smb2-security-mode run from the same namespace.

.20: SMBv1 (NT1), signing not required, guest share ``public``; .21: SMB3 only, signing mandatory,
no guest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

_lab_fixtures = pytest.importorskip("tests.lab.fixtures")
lab = _lab_fixtures.lab

DUECARE = Path(sys.executable).parent / "duecare"
OPEN_SMB, LOCKED_SMB = "198.18.0.20", "198.18.0.21"
SMB_EXPOSURES = {"smbv1-enabled", "smb-signing-not-required", "smb-guest-access", "smb-ms17-010"}
#: nmap prints SMB2 dialects as their hex code without the dot ("2.1" → "210").
NMAP_DIALECT = {"2.0.2": "202", "2.1": "210", "3.0": "300", "3.0.2": "302", "3.1.1": "311"}
pytestmark = pytest.mark.lab


def _cli(lab: Any, probe: str, ip: str, *extra: str) -> dict[str, Any]:
    """``duecare probe PROBE IP 445 --json`` inside the scanner namespace."""
    if not DUECARE.exists():
        pytest.skip("duecare CLI not installed")
    argv = lab.exec_argv([str(DUECARE), "probe", probe, ip, "445", "--json", *extra])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert done.stdout, f"no JSON from the CLI (rc {done.returncode}): {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _duecare(lab: Any, probe: str, ip: str, *extra: str) -> dict[str, Any]:
    result = _cli(lab, probe, ip, *extra)
    assert result["attempt"]["status"] == "completed", result["attempt"].get("error")
    return result


def _exposures(result: dict[str, Any]) -> dict[str, str]:
    return {f["exposure"]: f["verdict"] for f in result.get("findings", [])}


def _nmap(lab: Any, ip: str) -> dict[str, list[str]]:
    """{script id: elems of its first table} from nmap's XML."""
    argv = lab.exec_argv(["nmap", "-Pn", "-n", "-p445", "--script", "smb-protocols,smb2-security-mode", "-oX", "-", ip])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    scripts: dict[str, list[str]] = {}
    for script in ET.fromstring(done.stdout).iter("script"):
        table = script.find("table")
        scripts[script.get("id", "")] = [] if table is None else [e.text or "" for e in table.iter("elem")]
    return scripts


@pytest.fixture(scope="module")
def open_smb(lab: Any) -> dict[str, Any]:
    return _duecare(lab, "smb", OPEN_SMB)


@pytest.fixture(scope="module")
def locked_smb(lab: Any) -> dict[str, Any]:
    return _duecare(lab, "smb", LOCKED_SMB)


def test_open_samba_facts_and_exposures(open_smb: dict[str, Any]) -> None:
    f = open_smb["attempt"]["facts"]
    assert f["smb1_outcome"] == "accepted"
    assert f["smb1"]["signing_required"] is False
    assert f["smb2"]["dialect_name"] == "3.1.1"
    assert f["smb2"]["security_mode"] == 0x01  # impacket's isSigningRequired() would say True here
    assert f["guest"]["outcome"] == "accepted" and f["guest"]["is_guest"] is True
    listed = f["anonymous"]["shares"] or f["guest"]["shares"] or []
    assert "public" in listed
    assert f["host"]["netbios_name"] == "FILESRV01"
    found = _exposures(open_smb)
    assert found.get("smbv1-enabled") == "affected"
    assert found.get("smb-signing-not-required") == "affected"
    assert found.get("smb-guest-access") == "affected"


def test_locked_samba_has_no_smb_exposure(locked_smb: dict[str, Any]) -> None:
    f = locked_smb["attempt"]["facts"]
    assert f["smb1_outcome"] == "no-common-dialect"  # Samba answers FF SMB with DialectIndex 0xFFFF
    assert f["smb2"]["signing_required"] is True
    assert f["smb2_dialects"] == ["3.1.1"]
    assert f["guest"]["outcome"] == "denied"
    assert f["host"]["netbios_name"] == "FILESRV02"
    assert not set(_exposures(locked_smb)) & SMB_EXPOSURES


@pytest.mark.parametrize(("ip", "fixture"), [(OPEN_SMB, "open_smb"), (LOCKED_SMB, "locked_smb")])
def test_facts_agree_with_nmap(lab: Any, ip: str, fixture: str, request: pytest.FixtureRequest) -> None:
    ours = request.getfixturevalue(fixture)["attempt"]["facts"]
    nmap = _nmap(lab, ip)
    nmap_dialects = set(nmap["smb-protocols"])
    nmap_smb1 = any(d.startswith("NT LM 0.12") for d in nmap_dialects)
    assert nmap_smb1 is (ours["smb1_outcome"] == "accepted")
    assert {d for d in nmap_dialects if not d.startswith("NT LM")} == {NMAP_DIALECT[d] for d in ours["smb2_dialects"]}
    (signing,) = nmap["smb2-security-mode"]
    assert ("required" in signing and "not required" not in signing) is ours["smb2"]["signing_required"]


def test_ms17_010_check_only_when_allowed(lab: Any) -> None:
    skipped = _cli(lab, "smb-ms17-010", OPEN_SMB)
    assert skipped["attempt"]["status"] == "skipped"
    allowed = _duecare(lab, "smb-ms17-010", OPEN_SMB, "--allow-class", "vuln-specific")
    assert allowed["attempt"]["facts"]["outcome"] == "patched"  # Samba: STATUS_INVALID_HANDLE
    assert "smb-ms17-010" not in _exposures(allowed)
    refused = _duecare(lab, "smb-ms17-010", LOCKED_SMB, "--allow-class", "vuln-specific")
    assert refused["attempt"]["facts"]["outcome"] == "smb1-refused"


def test_smb1_native_os_agrees_with_nmap_smb_os_discovery(lab: Any, open_smb: dict[str, Any]) -> None:
    """NativeOS / NativeLanMan from our SMB1 SESSION_SETUP_ANDX, read independently by nmap's
    smb-os-discovery (its "os" and "lanmanager" elements) from the same namespace."""
    setup = open_smb["attempt"]["facts"]["smb1_session_setup"]
    argv = lab.exec_argv(["nmap", "-Pn", "-n", "-p445", "--script", "smb-os-discovery", "-oX", "-", OPEN_SMB])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    elems = {
        e.get("key"): e.text
        for s in ET.fromstring(done.stdout).iter("script")
        if s.get("id") == "smb-os-discovery"
        for e in s.iter("elem")
    }
    assert elems.get("os") == setup["native_os"] == "Windows 6.1"
    assert elems.get("lanmanager") == setup["native_lanman"]
    assert setup["native_lanman"].startswith("Samba 4.")
    assert setup["nt_status"] == 0xC0000016  # our setup stops at the CHALLENGE: no logon, nothing to log off


def test_locked_samba_gets_no_smb1_session_setup(locked_smb: dict[str, Any]) -> None:
    assert locked_smb["attempt"]["facts"]["smb1_session_setup"] is None  # SMB1 refused: nothing sent
