"""The README's demo command, as root or through sudo: outputs belong to the invoking user, counts add up."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

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
    }
    proc = subprocess.run(["bash", "scripts/demo.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=540)
    work = re.search(r"pulled changes in (/tmp/duecare-demo\.\w+)\)", proc.stdout)
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
    finally:
        if work is not None:
            shutil.rmtree(work.group(1), ignore_errors=True)
        if before is None:
            report.unlink(missing_ok=True)
        elif report.exists():
            os.chown(report, before.st_uid, before.st_gid)
