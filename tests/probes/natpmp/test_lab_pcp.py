"""NAT-PMP and PCP against the lab router's miniupnpd, from the scanner namespace: PCP answers
ANNOUNCE (version 2, success, an epoch), NAT-PMP gives the WAN address, and neither read changes
the router's ruleset (no mapping is created)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from duecare.lab import netns
from duecare.lab.lab import Lab
from duecare.lab.router import LAN_IP, WAN_IP
from tests.agent.live import DUECARE
from tests.env import require
from tests.lab.fixtures import require_lab

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_lab()
    require(shutil.which("miniupnpd") is not None, "the lab router needs miniupnpd (lab/packages.txt)")
    lab = Lab(f"dcp{os.getpid() % 10000}", hosts=["ssh"], router=True).up()
    try:
        yield lab
    finally:
        lab.down()


def _probe(lab: Lab, probe_id: str) -> dict[str, Any]:
    argv = [DUECARE, "probe", probe_id, LAN_IP, "5351", "--proto", "udp", "--json"]
    out = subprocess.run(lab.exec_argv(argv), capture_output=True, text=True, timeout=60, check=False)
    assert out.stdout, out.stderr[-2000:]
    attempt: dict[str, Any] = json.loads(out.stdout)["attempt"]
    assert attempt["status"] == "completed", attempt["error"]
    return attempt


def _ruleset(lab: Lab) -> str:
    assert lab.router is not None
    argv = [*netns.exec_prefix(lab.router.ns), "nft", "list", "ruleset"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_pcp_answers_announce_and_nothing_is_mapped(lab: Lab) -> None:
    before = _ruleset(lab)
    pcp = _probe(lab, "pcp")["facts"]
    assert (pcp["speaks_pcp"], pcp["version"], pcp["result"]) == (True, 2, "success")
    assert pcp["epoch_seconds"] > 0 and "MAP response" in pcp["note"]
    natpmp = _probe(lab, "natpmp")["facts"]
    assert natpmp["external_ip"] == WAN_IP
    assert _ruleset(lab) == before
