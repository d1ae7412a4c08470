"""The README's install-as-a-service blocks, run word for word in fresh roots, end to end.

Two boxes (tests/install/box.py) in a namespace lab: the MSP's, where the collector blocks install and
start a TLS collector as `collector.msp.example`, and a small office's, where the agent blocks install
the agent, enroll it with the token the collector printed, run one cycle that scans a lab host, deliver
the signed report and verify the chain; then the MSP's pull fetches it. The only liberty taken: the
example scope (a documentation range) becomes the lab's telnet host. The release is what a reader
builds: `python -m build` (sdist, then the wheel from the sdist); the box installs dependencies from a
wheelhouse, as its namespace has no network.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from duecare.lab import Host, Lab
from duecare.lab.certs import self_signed
from tests.install.box import Box
from tests.lab.fixtures import require_lab

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SCOPE_EXAMPLE = "192.0.2.0/24"
MSP = Host(name="msp", octet=250, role="the MSP's collector box", hostname="collector")
CACHE = REPO / "build" / "readme-wheelhouse"

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1200)]


def readme_blocks(lang: str = "sh") -> dict[str, str]:
    """``<!-- readme-test: NAME -->`` followed by a fenced block: NAME → the block, verbatim."""
    found = re.findall(rf"<!-- readme-test: ([\w-]+) -->\n```{lang}\n(.*?)```", README.read_text(), flags=re.S)
    return dict(found)


def first_command(block: str) -> str:
    """The block's first command, its continuation lines included."""
    lines = []
    for line in block.splitlines():
        lines.append(line)
        if not line.rstrip().endswith("\\"):
            break
    return "\n".join(lines)


@dataclass(frozen=True)
class Release:
    version: str
    sdist: Path
    wheel: Path
    wheelhouse: Path


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """sdist and wheel as the README builds them, and the wheels of every dependency (cached per set)."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (sdist,) = out.glob("duecare-*.tar.gz")
    (wheel,) = out.glob("duecare-*-py3-none-any.whl")
    version = sdist.name.removeprefix("duecare-").removesuffix(".tar.gz")
    deps = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    wheelhouse = CACHE / deps
    if not wheelhouse.is_dir():
        tmp = CACHE / f".{deps}.{os.getpid()}"
        got = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(tmp), str(wheel)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert got.returncode == 0, got.stderr[-3000:]
        for w in tmp.glob("duecare-*.whl"):
            w.unlink()
        tmp.rename(wheelhouse)
    return Release(version, sdist, wheel, wheelhouse)


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_lab()
    instance = Lab(prefix=f"dcrm{os.getpid() % 100000}", hosts=["telnet", MSP]).up()
    try:
        yield instance
    finally:
        instance.down()


def _box(name: str, netns: str, tmp: Path, rel: Release, ca: bytes, msp_ip: str) -> Box:
    box = Box(name, netns, tmp / name, rel.wheelhouse).start()
    for path in ("/opt/duecare", "/etc/duecare", "/var/lib/duecare", "/etc/systemd/system/duecare-agent.service"):
        assert not box.path(path).exists(), f"{path} exists on this machine: the box would not be fresh"
    hosts = box.read("/etc/hosts")
    box.put("/etc/hosts", hosts + f"{msp_ip} collector.msp.example\n")
    box.put("/run/msp-ca.pem", ca)
    box.copy_in(rel.sdist, f"/root/{rel.sdist.name}")
    box.copy_in(rel.wheel, f"/root/{rel.wheel.name}")
    return box


def _run(box: Box, block: str, *, cwd: str) -> str:
    env = {
        "SSL_CERT_FILE": "/run/msp-ca.pem",  # the MSP's certificate, as a private CA would be given
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "/run/wheelhouse",
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    done = box.sh(block, cwd=cwd, env=env)
    assert done.returncode == 0, f"{box.name} block failed ({done.returncode}):\n{block}\n--- stdout\n" + (
        done.stdout[-4000:] + "\n--- stderr\n" + done.stderr[-4000:]
    )
    return done.stdout + done.stderr


def test_readme_blocks_exist_and_name_this_release() -> None:
    blocks = readme_blocks()
    assert set(blocks) == {"install", "agent", "collector", "pull"}
    version = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), flags=re.M)
    assert version is not None and f"duecare-{version.group(1)}.tar.gz" in blocks["install"]
    assert SCOPE_EXAMPLE in blocks["agent"]
    assert "sudo" not in "".join(blocks.values())


def test_readme_install_as_a_service_end_to_end(lab: Lab, release: Release, tmp_path: Path) -> None:
    blocks = readme_blocks()
    telnet, msp_host = lab.host("telnet"), lab.host("msp")
    tls = self_signed(tmp_path / "tls", "collector.msp.example", dns_names=("collector.msp.example",))
    ca = tls.cert.read_bytes()
    release_dir = f"/root/duecare-{release.version}"
    msp = _box("msp", msp_host.namespace, tmp_path, release, ca, msp_host.ip)
    office = _box("office", lab.scanner_ns, tmp_path, release, ca, msp_host.ip)
    try:
        # The MSP: install, collector with its own TLS, a client, a site (token), a read key.
        msp.put("/root/collector.crt", ca)
        msp.put("/root/collector.key", tls.key.read_bytes(), mode=0o600)
        _run(msp, blocks["install"], cwd="/root")
        _run(msp, blocks["collector"], cwd=release_dir)
        assert "enable --now duecare-collector" in msp.read("/run/systemctl.calls")
        _wait_serving(msp)
        token = msp.read(f"{release_dir}/enroll-token")
        assert token.startswith("dce_")

        # The office box: install, enroll with that token, one cycle of the lab's telnet host, service, verify.
        office.put("/root/enroll-token", token, mode=0o600)
        _run(office, blocks["install"], cwd="/root")
        agent_block = blocks["agent"].replace(SCOPE_EXAMPLE, telnet.ip)
        out = _run(office, agent_block, cwd=release_dir)
        assert "signatures valid, chain unbroken" in out
        calls = office.read("/run/systemctl.calls")
        assert "enable --now duecare-agent" in calls
        status = json.loads(office.sh("duecare agent status --json").stdout)
        assert status["enrolled"]["collector"] == "https://collector.msp.example:8443"
        assert status["running"] is True, office.read("/run/duecare-agent.log")
        outbox = status["outbox"]
        assert outbox["pending"] == outbox["refused"] == 0 and outbox["last_delivery"], outbox
        modes = office.sh("stat -c '%n %a %U:%G' /etc/duecare /etc/duecare/agent.toml /var/lib/duecare").stdout
        assert modes.split("\n")[:3] == [
            "/etc/duecare 755 root:root",
            "/etc/duecare/agent.toml 640 root:duecare",
            "/var/lib/duecare 700 duecare:duecare",
        ], modes

        # The MSP's nightly pull over TLS: the office's report and its telnet finding, one row per change.
        _run(msp, blocks["pull"], cwd=release_dir)
        rows = list(csv.DictReader(io.StringIO(msp.read(f"{release_dir}/changes.csv"))))
        kinds = {r["kind"] for r in rows}
        assert {"report", "finding", "asset"} <= kinds, kinds
        found = {(r["ip"], r["exposure"]) for r in rows if r["kind"] == "finding"}
        assert (telnet.ip, "telnet-exposed") in found, found

        # Both install scripts again: nothing changes, nothing breaks.
        again = _run(office, first_command(agent_block), cwd=release_dir)
        assert "kept /etc/duecare/agent.toml" in again and "already enrolled" in again
        again = _run(msp, first_command(blocks["collector"]), cwd=release_dir)
        assert "kept /etc/duecare/collector.toml" in again
    finally:
        for box in (office, msp):
            logs = [box.path(f"/run/{u}.log") for u in ("duecare-agent", "duecare-collector")]
            for log in logs:
                if log.exists():
                    shutil.copyfile(log, tmp_path / f"{box.name}-{log.name}")
            box.stop()


def _wait_serving(msp: Box) -> None:
    check = (
        "for i in $(seq 1 100); do "
        "python3 -c \"import ssl, urllib.request; urllib.request.urlopen('https://collector.msp.example:8443/healthz',"
        " context=ssl.create_default_context(cafile='/run/msp-ca.pem'), timeout=1)\" 2>/dev/null && exit 0; sleep 0.2; "
        "done; exit 1"
    )
    ok = msp.sh(check)
    assert ok.returncode == 0, msp.read("/run/duecare-collector.log")[-3000:]
