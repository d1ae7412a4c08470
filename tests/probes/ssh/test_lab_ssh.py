"""The SSH probe against the lab's OpenSSH, from the scanner namespace: the fingerprint it reads is
the one ``ssh-keyscan | ssh-keygen -lf -`` prints for the same server, and a filtered port is not a
service."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.probes.test_lab_services import completed, findings, probe

_lab_fixtures = pytest.importorskip("tests.lab.fixtures")
lab = _lab_fixtures.lab

pytestmark = pytest.mark.lab


def _keygen(lab: Any, ip: str) -> tuple[str, str]:
    scan = subprocess.run(
        lab.exec_argv(["ssh-keyscan", "-T", "5", "-t", "ed25519", ip]), capture_output=True, text=True, check=True
    )
    out = subprocess.run(["ssh-keygen", "-lf", "-"], input=scan.stdout, capture_output=True, text=True, check=True)
    _bits, fp, _host, kind = out.stdout.split()
    return fp, kind


def test_fingerprint_equals_ssh_keygen(lab: Any) -> None:
    ip = lab.host("ssh").ip
    result = probe(lab, "ssh", ip, 22)
    facts = completed(result)
    fp, kind = _keygen(lab, ip)
    assert facts["host_key_fingerprint"] == fp and kind == "(ED25519)"
    spec = lab.host("ssh").facts
    assert facts["host_key_type"] == spec["ssh_host_key_type"] and facts["kex_used"] == "curve25519-sha256"
    assert facts["software"] == spec["ssh_software"]
    assert findings(result) == {}  # no advisory names an SSH exposure: the probe only collects facts


def test_filtered_ssh_is_no_service(lab: Any) -> None:
    result = probe(lab, "ssh", lab.host("firewalled").ip, 22)
    assert result["attempt"]["status"] != "completed"
