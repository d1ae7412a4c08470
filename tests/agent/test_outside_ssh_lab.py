"""The SSH host key links the two views across the lab router (issue 14): OpenSSH on the office's
``ssh`` host, forwarded WAN:2222 → 22 by a static DNAT rule. The inside one-shot scan reads the key on
198.18.0.100:22, the outside one (``duecare scan --public`` from the lab internet) on the router's WAN
address, port 2222, which only the identification stage names SSH (its greeting). Both give the same
fingerprint, the one ``ssh-keyscan | ssh-keygen -lf -`` prints, and the join links by it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from ipaddress import ip_address
from typing import Any

import pytest

from duecare.lab.lab import Lab
from duecare.lab.router import WAN_IP
from duecare.wire import Exposure, Finding, Proto, Severity, Verdict
from duecare.wire.reachability import fingerprints, join_outside, outside_view
from tests.agent.live import DUECARE
from tests.env import require
from tests.lab.fixtures import require_lab

pytestmark = [pytest.mark.lab, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_lab()
    require(shutil.which("miniupnpd") is not None, "the lab router needs miniupnpd (lab/packages.txt)")
    lab = Lab(f"dcs{os.getpid() % 10000}", hosts=["ssh"], router=True).up()
    try:
        lab.set_static_forwards([(2222, "ssh", 22)])
        yield lab
    finally:
        lab.down()


def _scan(argv: list[str]) -> dict[str, Any]:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode in (0, 3), out.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def test_the_ssh_host_key_links_inside_and_outside(lab: Lab) -> None:
    ssh_ip = lab.host("ssh").ip
    inside = _scan(lab.exec_argv([DUECARE, "scan", ssh_ip, "--json", "--profile", "baseline"]))
    outside = _scan(lab.internet_argv([DUECARE, "scan", "--public", WAN_IP, "--json", "--profile", "baseline"]))
    ours = fingerprints(inside)[(ssh_ip, 22, "tcp")]["ssh_host_key"]
    theirs = fingerprints(outside)[(WAN_IP, 2222, "tcp")]["ssh_host_key"]
    assert ours == theirs
    # Port 2222 was named by its greeting, then probed by the SSH probe on that one connection.
    wan = next(a for a in outside["assets"] if a["ip"] == WAN_IP)
    svc = next(s for s in wan["services"] if s["port"] == 2222)
    assert (svc["name"], svc["identified_by"]) == ("ssh", "greeting")
    facts = next(a["facts"] for a in outside["attempts"] if a["probe"] == "ssh" and a["port"] == 2222)
    keyscan = subprocess.run(
        lab.exec_argv(["ssh-keyscan", "-T", "5", "-t", "ed25519", ssh_ip]), capture_output=True, text=True, check=True
    ).stdout
    keygen = subprocess.run(["ssh-keygen", "-lf", "-"], input=keyscan, capture_output=True, text=True, check=True)
    assert facts["host_key_fingerprint"] == keygen.stdout.split()[1]
    # The join: a finding on the inside SSH service is reachable through WAN:2222, by that key.
    finding = Finding(
        exposure=Exposure.PRODUCT_END_OF_LIFE,
        ip=ip_address(ssh_ip),
        port=22,
        proto=Proto.TCP,
        severity=Severity.HIGH,
        verdict=Verdict.AFFECTED,
        title="a finding on the SSH service",
        reason="test",
    )
    (joined,) = join_outside([finding], outside_view(outside, [WAN_IP]), fingerprints(inside))
    assert joined.internet_exposed is True
    assert joined.internet_evidence[0].public_port == 2222
    assert "ssh_host_key" in joined.internet_evidence[0].summary
