"""TLS probe against the namespace lab, through the CLI, from the scanner namespace.

Written against ``duecare probe PROBE IP PORT --json`` (agent/cli.py, being written by the lead)
and the lab fixture (tests/lab/fixtures.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

_lab_fixtures = pytest.importorskip("tests.lab.fixtures")
lab = _lab_fixtures.lab

DUECARE = Path(sys.executable).parent / "duecare"
pytestmark = pytest.mark.lab


def _probe_tls(scanner_ns: str, ip: str, port: int) -> dict[str, Any]:
    if not DUECARE.exists():
        pytest.skip("duecare CLI not installed yet")
    argv = ["ip", "netns", "exec", scanner_ns, str(DUECARE), "probe", "tls", ip, str(port), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout, f"no JSON from the CLI (rc {done.returncode}): {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _exposures(result: dict[str, Any]) -> dict[str, str]:
    return {f["exposure"]: f["verdict"] for f in result.get("findings", [])}


def test_legacy_nginx_has_both_exposures(lab: Any) -> None:
    result = _probe_tls(lab.scanner_ns, "198.18.0.90", 443)
    attempt = result["attempt"]
    assert attempt["status"] == "completed", attempt.get("error")
    accepted = {v["version"] for v in attempt["facts"]["versions"] if v["result"] == "accepted"}
    assert {"TLSv1.0", "TLSv1.1"} <= accepted
    assert attempt["facts"]["certificate"]["expired"] is True
    found = _exposures(result)
    assert found.get("tls-obsolete-protocol") == "affected"
    assert found.get("tls-certificate-expired") == "affected"


@pytest.mark.parametrize("ip", ["198.18.0.31", "198.18.0.110"])
def test_modern_tls_has_no_tls_exposure(lab: Any, ip: str) -> None:
    result = _probe_tls(lab.scanner_ns, ip, 443)
    attempt = result["attempt"]
    assert attempt["status"] == "completed", attempt.get("error")
    accepted = {v["version"] for v in attempt["facts"]["versions"] if v["result"] == "accepted"}
    assert accepted, "a modern TLS listener accepted nothing"
    assert not accepted & {"SSLv3", "TLSv1.0", "TLSv1.1"}
    found = _exposures(result)
    assert "tls-obsolete-protocol" not in found
    assert "tls-certificate-expired" not in found
