"""The shipped units are valid and keep their hardening (systemd-analyze verify, as shipped)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.env import require

UNITS = Path(__file__).resolve().parents[2] / "systemd"


@pytest.fixture
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    require(tool is not None, "systemd-analyze not installed (apt-get install systemd)")
    assert tool is not None
    return tool


@pytest.mark.parametrize("unit", ["duecare-agent.service", "duecare-collector.service"])
def test_units_verify(unit: str, analyze: str, tmp_path: Path) -> None:
    duecare = str(Path(sys.executable).with_name("duecare"))
    text = (UNITS / unit).read_text().replace("/opt/duecare/bin/duecare", duecare)
    (tmp_path / unit).write_text(text)
    r = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr


def test_agent_unit_least_privilege() -> None:
    text = (UNITS / "duecare-agent.service").read_text()
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=duecare",
        "Environment=NMAP_PRIVILEGED=1",
        "User=duecare",
    ]:
        assert line in text, line
    families = next(x for x in text.splitlines() if x.startswith("RestrictAddressFamilies="))
    assert {"AF_PACKET", "AF_NETLINK"} <= set(families.split("=", 1)[1].split())
