"""Against a real Xvnc (TigerVNC 1.12) on loopback: what repeated probes do to its blacklist.

TigerVNC counts *every* connection from a source that has not authenticated: Blacklist::isBlackmarked
adds a mark each time a socket is accepted, and only a successful authentication clears the marks
(TigerVNC common/rfb/Blacklist.cxx, VNCSConnectionST::queryConnection). With the default
BlacklistThreshold=5 the sixth connection in a row is refused with "Too many security failures",
for 10 s, doubling on each retry. Hanging up before choosing a security type (what the probe does)
does not avoid that; nothing short of authenticating does. So the probe's promise is narrower:
exactly one connection per run, never a failed authentication, and a blacklisted scanner is
reported as such (indeterminate), never as "not affected".
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.lab.services import XVNC_LAB_BLACKLIST
from duecare.probes.base import Target
from duecare.probes.context import ProbeContext
from duecare.probes.runner import run_probe
from duecare.probes.vnc.facts import VncFacts
from duecare.probes.vnc.probe import VncProbe
from duecare.wire import ProbeStatus, Proto, Verdict

pytestmark = pytest.mark.skipif(
    shutil.which("Xvnc") is None or shutil.which("vncpasswd") is None, reason="TigerVNC (Xvnc) not installed"
)
CHECK = default_registry().get("vnc.no_auth").fn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def xvnc(workdir: Path, security: str, extra: tuple[str, ...] = ()) -> Iterator[int]:
    """Xvnc on 127.0.0.1 with no X listeners and no lock file; readiness read from its log, because
    even a bare TCP connect would count against the blacklist we are measuring."""
    port = _free_port()
    argv = [
        "Xvnc",
        f":{random.randint(300, 899)}",
        "-rfbport",
        str(port),
        "-interface",
        "127.0.0.1",
        "-nolock",
        "-nolisten",
        "tcp",
        "-nolisten",
        "unix",
        "-desktop",
        "blacklist-test",
        "-geometry",
        "320x200",
        "-SecurityTypes",
        security,
        "-BlacklistThreshold",
        "5",
        *extra,
    ]
    if security == "VncAuth":
        pw = workdir / "passwd"
        pw.write_bytes(subprocess.run(["vncpasswd", "-f"], input=b"t3st-pw\n", capture_output=True, check=True).stdout)
        argv += ["-PasswordFile", str(pw)]
    log = workdir / f"xvnc-{security}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={"HOME": str(workdir)})
    try:
        deadline = time.monotonic() + 15
        while b"Listening for VNC connections" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"Xvnc did not start: {log.read_text(errors='replace')[-500:]}")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def probe_n_times(port: int, n: int) -> list[Any]:
    async def go() -> list[Any]:
        ctx = ProbeContext()
        try:
            target = Target(ip_address("127.0.0.1"), port, Proto.TCP)
            return [await run_probe(VncProbe(), target, ctx) for _ in range(n)]
        finally:
            await ctx.aclose()

    return asyncio.run(go())


def test_ten_probes_against_a_password_server(tmp_path: Path) -> None:
    with xvnc(tmp_path, "VncAuth") as port:
        outcomes = probe_n_times(port, 10)
    assert all(o.attempt.status is ProbeStatus.COMPLETED for o in outcomes)
    facts = [o.observation.facts for o in outcomes]
    listed = [f for f in facts if f.security_types]
    refused = [f for f in facts if not f.security_types]
    assert [f.security_types for f in listed] == [(2,)] * 5  # BlacklistThreshold connections get through
    assert [f.failure_reason for f in refused] == ["Too many security failures"] * 5
    verdicts = [CHECK(f, NoParams()).verdict for f in facts]
    assert verdicts == [Verdict.NOT_AFFECTED] * 5 + [Verdict.INDETERMINATE] * 5


def test_ten_probes_against_an_open_server_never_accumulate_marks(tmp_path: Path) -> None:
    with xvnc(tmp_path, "None") as port:
        outcomes = probe_n_times(port, 10)
    facts: list[VncFacts] = [o.observation.facts for o in outcomes]
    assert all(f.none_accepted for f in facts)  # entering through None authenticates: marks cleared
    assert {f.desktop_name for f in facts} == {"blacklist-test"}


def test_the_lab_setting_lets_a_session_of_scans_through(tmp_path: Path) -> None:
    """The namespace lab is scanned dozens of times per test session: its password host must keep
    answering with its security list, or the suite would flake on the blacklist's timing."""
    with xvnc(tmp_path, "VncAuth", XVNC_LAB_BLACKLIST) as port:
        outcomes = probe_n_times(port, 12)
    assert [o.observation.facts.security_types for o in outcomes] == [(2,)] * 12
