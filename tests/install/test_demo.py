"""The README's demo command, as root or through sudo: outputs belong to the invoking user, counts add up."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.lab.fixtures import require_lab

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lab, pytest.mark.timeout(600)]


def test_demo_outputs_belong_to_the_invoking_user_and_counts_add_up() -> None:
    require_lab()
    nobody = pwd.getpwnam("nobody")
    report = REPO / "report.html"
    before = report.stat() if report.exists() else None
    env = {
        **os.environ,
        "SUDO_UID": str(nobody.pw_uid),  # as `sudo bash scripts/demo.sh` run by that user
        "SUDO_GID": str(nobody.pw_gid),
        "DUECARE_DEMO_PREFIX": f"dcdm{os.getpid() % 100000}",
        "DUECARE_DEMO_CONSOLE_PORT": str(_free_port()),
    }
    proc = subprocess.run(["bash", "scripts/demo.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=540)
    work = re.search(r"pulled changes in (/tmp/duecare-demo\.\w+)\)", proc.stdout)
    console_pid = re.search(r"stop it with: kill (\d+)", proc.stdout)
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        out = proc.stdout + proc.stderr
        # Only duecare's own lines: no warning from the install or the tools reaches the person.
        assert "warning" not in out.lower(), [x for x in out.splitlines() if "warning" in x.lower()]
        pulled = int(re.search(r"pulled (\d+) changes", out).group(1))  # type: ignore[union-attr]
        rows = re.search(r"(\d+) CSV rows, one per change: (.*)", out)
        assert rows is not None, out[-2000:]
        per_kind = {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", rows.group(2))}
        assert int(rows.group(1)) == pulled == sum(per_kind.values()) > 0, (pulled, per_kind)
        assert {"finding", "asset", "report"} <= set(per_kind)
        # The person who ran it can open what it wrote.
        assert work is not None
        for path in (report, Path(work.group(1)) / "changes.csv", Path(work.group(1)) / "report.json"):
            assert (path.stat().st_uid, path.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid), path
            opened = subprocess.run(
                ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "head", "-c1",
                 str(path)],
                capture_output=True,
                timeout=10,
            )  # fmt: skip
            assert opened.returncode == 0, (path, opened.stderr)
        check_console(proc.stdout)
    finally:
        if console_pid is not None:
            os.kill(int(console_pid.group(1)), signal.SIGTERM)
        if work is not None:
            shutil.rmtree(work.group(1), ignore_errors=True)
        if before is None:
            report.unlink(missing_ok=True)
        elif report.exists():
            os.chown(report, before.st_uid, before.st_gid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def check_console(out: str) -> None:
    """The demo's last lines: a console URL on loopback and read keys that show the lab's findings."""
    url = re.search(r"console: (http://127\.0\.0\.1:\d+/console/)", out)
    owner = re.search(r"owner's read key \(Example Dental only\): (dcr_\S+)", out)
    msp = re.search(r"MSP's read key \(every client\): +(dcr_\S+)", out)
    assert url and owner and msp, out[-1500:]
    base = url.group(1).removesuffix("/console/")
    for key in (owner.group(1), msp.group(1)):
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as http:
            assert http.post("/console/sign-in", data={"key": key}).status_code == 200  # after the redirect
            clients = http.get("/console/")
            assert clients.status_code == 200 and "Example Dental" in clients.text
            site = re.search(r'href="(/console/sites/st_\w+)"', clients.text)
            assert site is not None
            page = http.get(site.group(1)).text
            api = httpx.get(f"{base}/v1/findings", headers={"authorization": f"Bearer {key}"}, timeout=30).json()
            live = [f for f in api["findings"] if f["status"] != "resolved"]
            assert live, "the lab's findings reached the collector"
            shown = re.search(r"<dt>Open findings</dt><dd[^>]*>(\d+)", page)
            assert shown is not None and int(shown.group(1)) == len(live)
            for f in live[:5]:
                assert f'href="/console/findings/{f["id"]}"' in page
    _screenshot(base, msp.group(1))


def _screenshot(base: str, key: str) -> None:
    """The README's picture of the clients page, from the demo's own data (kept as an artifact)."""
    from tests.agent import chromium

    if not chromium.available():
        return
    with chromium.Browser() as b:
        b.viewport(1366, 600)
        b.goto(f"{base}/console/sign-in")
        b.submit(f"document.getElementById('key').value = {key!r}; document.querySelector('form').submit()")
        assert b.problems() == []
        b.screenshot(REPO / "artifacts" / "console" / "demo-clients.png", width=1366)
