"""A real FreeRDP server is not an end-of-life Windows: freerdp-shadow-cli (FreeRDP 2) with NLA, in a
namespace of its own small lab, announces NTLM 6.1.7601 like Windows 7 SP1 / Server 2008 R2 SP1.

The probe runs from the lab's scanner namespace; the finding must stay an open question naming
FreeRDP (never affected), on the scan's day and on any later one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from duecare.advisories.catalog import load_catalog
from duecare.advisories.engine import FactsRecord
from duecare.advisories.lifecycle import end_of_life_findings
from duecare.advisories.lifecycle.windows import FREERDP_NOTE
from duecare.lab.lab import Lab
from duecare.probes.rdp.facts import RdpFacts
from duecare.wire import ProbeStatus, Proto, Verdict
from tests.env import require
from tests.lab.fixtures import require_lab

pytestmark = pytest.mark.lab

DUECARE = str(Path(sys.executable).with_name("duecare"))
SHADOW = shutil.which("freerdp-shadow-cli")
XVNC = shutil.which("Xvnc")
#: One NLA account for the SAM file (NT hash of "Password1"); no client ever logs on with it.
SAM_LINE = "probe::aad3b435b51404eeaad3b435b51404ee:64f12cddaa88057e06a81b54e73b949b:::\n"


def _free_display() -> int:
    for n in range(40 + os.getpid() % 200, 400):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


def _wait_listening(ns: str, port: int, procs: list[subprocess.Popen[bytes]]) -> None:
    for _ in range(100):
        out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-ltn"], capture_output=True, text=True, check=True)
        if f":{port} " in out.stdout:
            return
        assert all(p.poll() is None for p in procs), "the FreeRDP server or its X server exited"
        time.sleep(0.1)
    raise AssertionError(f"nothing listening on {port} in {ns}")


@pytest.fixture(scope="module")
def freerdp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, str]]:
    require_lab()
    require(SHADOW is not None and XVNC is not None, "freerdp-shadow-cli (freerdp2-shadow-x11) or Xvnc missing")
    assert SHADOW is not None and XVNC is not None
    lab = Lab(prefix=f"fr{os.getpid() % 100000}", hosts=["idle1"]).up()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        host = lab.host("idle1")
        work = tmp_path_factory.mktemp("freerdp")
        (work / "sam").write_text(SAM_LINE)
        display = _free_display()
        ns = ["ip", "netns", "exec", host.namespace]
        xvnc = [XVNC, f":{display}", "-SecurityTypes", "None", "-localhost", "-geometry", "320x240"]
        procs.append(
            subprocess.Popen([*ns, *xvnc], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        )
        time.sleep(1.0)
        shadow = [*ns, "env", f"DISPLAY=:{display}", SHADOW, "/port:3389", "/sec:nla", f"/sam-file:{work / 'sam'}"]
        procs.append(
            subprocess.Popen(shadow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        )
        _wait_listening(host.namespace, 3389, procs)
        yield lab, host.ip
    finally:
        for p in reversed(procs):  # only what this fixture started, by process group
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        lab.down()


def _probe(lab: Lab, ip: str) -> dict[str, Any]:
    argv = lab.exec_argv([DUECARE, "probe", "rdp", ip, "3389", "--json"])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def test_freerdp_announces_7601_and_is_not_called_end_of_life(freerdp: tuple[Lab, str]) -> None:
    lab, ip = freerdp
    result = _probe(lab, ip)
    attempt = result["attempt"]
    assert attempt["status"] == "completed", attempt["error"]
    facts = attempt["facts"]
    assert facts["ntlm_step"] == "collected"
    assert facts["ntlm"]["product_version"] == {"major": 6, "minor": 1, "build": 7601}

    eol = [f for f in result["findings"] if f["exposure"] == "os-end-of-life"]
    assert len(eol) == 1, result["findings"]
    assert eol[0]["verdict"] == "indeterminate" and eol[0]["confidence"] == "tentative"
    assert "FreeRDP" in eol[0]["reason"]

    # Whatever the day, 6.1.7601 from RDP alone is never a firm end-of-life Windows.
    lifecycle = load_catalog().lifecycle
    assert lifecycle is not None
    rec = FactsRecord(
        "rdp", RdpFacts, attempt["ip"], 3389, Proto.TCP, ProbeStatus.COMPLETED, None, RdpFacts.model_validate(facts)
    )
    for when in (datetime(2026, 12, 5, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)):
        (f,) = end_of_life_findings([rec], [], lifecycle, when)
        assert f.verdict is Verdict.INDETERMINATE and FREERDP_NOTE in f.reason
