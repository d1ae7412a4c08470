"""FTP, SNMP, Redis, memcached and VNC probes against the namespace lab, through the CLI, run from the
scanner namespace: every expected exposure on the open hosts, none on their locked-down twins.

Written against ``duecare probe PROBE IP PORT [--proto udp] --json`` (agent/cli.py) and the lab
fixture (tests/lab/fixtures.py). VNC .81 is probed exactly once: TigerVNC blacklists a source after
five unauthenticated connections (see tests/probes/vnc/test_xvnc_blacklist.py), and the lab is shared.
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


def probe(lab: Any, probe_id: str, ip: str, port: int, proto: str = "tcp") -> dict[str, Any]:
    if not DUECARE.exists():
        pytest.skip("duecare CLI not installed")
    argv = [str(DUECARE), "probe", probe_id, ip, str(port), "--proto", proto, "--json"]
    done = subprocess.run(lab.exec_argv(argv), capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout, f"no JSON from the CLI (rc {done.returncode}): {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def findings(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["exposure"]: f for f in result.get("findings", [])}


def completed(result: dict[str, Any]) -> dict[str, Any]:
    attempt = result["attempt"]
    assert attempt["status"] == "completed", attempt.get("error")
    facts: dict[str, Any] = attempt["facts"]
    return facts


def assert_affected(result: dict[str, Any], exposure: str) -> None:
    found = findings(result).get(exposure)
    assert found is not None, f"{exposure} not found: {findings(result)}"
    assert found["verdict"] == "affected", found["reason"]
    assert found["evidence"], "an affected finding must carry evidence"


def test_ftp_anonymous_host(lab: Any) -> None:
    result = probe(lab, "ftp", "198.18.0.40", 21)
    facts = completed(result)
    assert facts["anonymous_login"] is True
    assert "README.txt" in [e["name"] for e in facts["listing"]]
    assert_affected(result, "ftp-anonymous")
    assert_affected(result, "ftp-cleartext")


def test_ftp_no_anonymous_twin(lab: Any) -> None:
    result = probe(lab, "ftp", "198.18.0.41", 21)
    facts = completed(result)
    assert facts["anonymous_login"] is False and facts["listing_obtained"] is False
    assert "ftp-anonymous" not in findings(result)
    assert_affected(result, "ftp-cleartext")  # no TLS on either lab vsftpd


def test_snmp_public_host(lab: Any) -> None:
    result = probe(lab, "snmp", "198.18.0.60", 161, "udp")
    facts = completed(result)
    assert ("v2c", "public") in {(a["version"], a["community"]) for a in facts["accepted"]}
    assert facts["accepted"][0]["sys_name"] == "PRINTER01"
    assert facts["write_access"] == "not determined"
    assert_affected(result, "snmp-default-community")


def test_snmp_non_default_twin(lab: Any) -> None:
    result = probe(lab, "snmp", "198.18.0.61", 161, "udp")
    facts = completed(result)  # alive: it answered SNMPv3 engine discovery
    assert facts["accepted"] == [] and facts["v3_answered"] is True
    assert "snmp-default-community" not in findings(result)


def test_silent_udp_port_times_out(lab: Any) -> None:
    result = probe(lab, "snmp", "198.18.0.110", 161, "udp")  # nftables drops everything but 443/tcp
    assert result["attempt"]["status"] == "timed_out"
    assert all(f["verdict"] != "affected" for f in result.get("findings", []))


def test_redis_open_host(lab: Any) -> None:
    result = probe(lab, "redis", "198.18.0.70", 6379)
    facts = completed(result)
    assert facts["auth_required"] is False and facts["version"].startswith("7.0.")
    assert_affected(result, "redis-no-auth")


def test_redis_password_twin(lab: Any) -> None:
    result = probe(lab, "redis", "198.18.0.71", 6379)
    assert completed(result)["auth_required"] is True
    assert "redis-no-auth" not in findings(result)


def test_vnc_open_host(lab: Any) -> None:
    result = probe(lab, "vnc", "198.18.0.80", 5900)
    facts = completed(result)
    assert facts["security_types"] == [1] and facts["none_accepted"] is True
    assert facts["desktop_name"] == "DESK01"
    assert_affected(result, "vnc-no-auth")


def test_vnc_password_twin(lab: Any) -> None:
    result = probe(lab, "vnc", "198.18.0.81", 5900)
    facts = completed(result)
    assert facts["security_types"] == [2]
    assert "vnc-no-auth" not in findings(result)


def test_memcached_host(lab: Any) -> None:
    result = probe(lab, "memcached", "198.18.0.130", 11211)
    assert completed(result)["version"].startswith("1.6.")
    assert_affected(result, "memcached-exposed")


@pytest.mark.parametrize(("probe_id", "port"), [("ftp", 21), ("redis", 6379), ("vnc", 5900)])
def test_tarpit_times_out(lab: Any, probe_id: str, port: int) -> None:
    result = probe(lab, probe_id, "198.18.0.120", port)
    assert result["attempt"]["status"] == "timed_out"
