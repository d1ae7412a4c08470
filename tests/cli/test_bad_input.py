"""Bad input to any `duecare` command: exit 2, one line on stderr that names the problem, no traceback.

Every case runs the real entry point in a child process. None of them may send a packet: each is
refused before the scan starts. Where root is available they run inside a network namespace that has
only a loopback, so even a regression could not reach anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.collector.factories import AgentKey, make_report, signed_body

DUECARE = [sys.executable, "-m", "duecare.cli"]


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Path], list[str]]
    says: str  # a fragment the one line must contain
    env: Callable[[Path], dict[str, str]] = lambda _tmp: {}
    stdin: str | None = None


def _signed_report(tmp: Path) -> str:
    path = tmp / "signed.json"
    path.write_text(json.dumps(signed_body(AgentKey(), make_report())))
    return str(path)


def _file(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


CASES = [
    # The cases of issue 18 (6), each a traceback before.
    Case("scan-ipv6-privileged", lambda t: ["scan", "::1"], "IPv6 targets are not supported"),
    Case(
        "verify-garbage-key",
        lambda t: ["verify", "--public-key", "garbage!!", _signed_report(t)],
        "--public-key: not a base64 Ed25519 public key",
    ),
    Case(
        "enroll-short-token",
        lambda t: [
            "agent", "enroll", "--collector", "http://127.0.0.1:9", "--token-file", _file(t, "tok", "abc\n"),
            "--state-dir", str(t / "state"),
        ],
        "is 3 characters long",
    ),
    Case("probe-port-out-of-range", lambda t: ["probe", "redis", "127.0.0.1", "70000"], "65535"),
    Case("collector-bad-db-url", lambda t: ["collector", "init", "--db", "notadb://x"], "not a usable database URL"),
    Case(
        "scope-all-excluded",
        lambda t: ["scan", "198.18.0.5", "--exclude", "198.18.0.0/24"],
        "every address of the targets is excluded",
    ),
    Case(
        "post-unenrolled-before-scan",
        lambda t: ["scan", "127.0.0.1", "--post", "--state-dir", str(t / "nostate")],
        "not enrolled",
    ),
    Case(
        "report-dir-missing",
        lambda t: ["scan", "127.0.0.1", "--report", str(t / "no" / "such" / "r.html")],
        "does not exist",
    ),
    # (5): messages that named the wrong problem.
    Case("prefix-33", lambda t: ["scan", "127.0.0.1/33"], "prefix length /33 is out of range for IPv4"),
    Case("no-target", lambda t: ["scan"], "no target given and no [scope] targets"),
    # The rest of the surface a newcomer touches first.
    Case("host-name", lambda t: ["scan", "printer.local"], "host names are not accepted"),
    Case("unknown-option", lambda t: ["scan", "--bogus"], "No such option: --bogus"),
    Case("missing-argument", lambda t: ["probe", "redis"], "Missing argument 'IP'"),
    Case("probe-bad-ip", lambda t: ["probe", "redis", "not-an-ip", "6379"], "is not an IP address"),
    Case("unknown-probe", lambda t: ["probe", "nosuch", "127.0.0.1", "1"], "unknown probe 'nosuch'"),
    Case("collector-pull-is-gone", lambda t: ["collector", "pull"], "No such command 'pull'"),
    Case("unknown-advisory", lambda t: ["advisories", "show", "AA99-999A"], "no advisory 'AA99-999A'"),
    Case(
        "config-misspelt-key",
        lambda t: ["scan", "--config", _file(t, "c.toml", "[limits]\nconcurency = 3\n"), "127.0.0.1"],
        "limits.concurency: unknown key",
    ),
    Case(
        "agent-run-empty-scope",
        lambda t: ["agent", "run", "--config", _file(t, "a.toml", "[scope]\ntargets = []\n"), "--state-dir", str(t)],
        "[scope] targets is empty",
    ),
    Case(
        "enroll-token-file-missing",
        lambda t: ["agent", "enroll", "--collector", "http://127.0.0.1:9", "--token-file", str(t / "none")],
        "cannot read the token file",
    ),
    Case(
        "enroll-no-token-at-all",
        lambda t: ["agent", "enroll", "--collector", "http://127.0.0.1:9", "--state-dir", str(t / "s")],
        "DUECARE_ENROLL_TOKEN",
    ),
    Case(
        "enroll-bad-url",
        lambda t: ["agent", "enroll", "--collector", "collector.example", "--state-dir", str(t / "s")],
        "give the collector's base URL",
        env=lambda t: {"DUECARE_ENROLL_TOKEN": "dce_" + "x" * 40},
    ),
    Case(
        "enroll-state-dir-not-creatable",
        lambda t: [
            "agent", "enroll", "--collector", "http://127.0.0.1:9", "--token-file", "-",
            "--state-dir", _file(t, "plainfile", "") + "/state",
        ],
        "cannot create the state directory",
        stdin="dce_" + "x" * 40 + "\n",
    ),
    Case("verify-no-state-dir", lambda t: ["verify", "--state-dir", str(t / "none")], "no such directory"),
    Case("serve-cert-without-key", lambda t: ["collector", "serve", "--tls-cert", "/etc/hostname"], "go together"),
    Case("serve-bad-listen", lambda t: ["collector", "serve", "--listen", "8443"], "give HOST:PORT"),
    Case(
        "serve-key-not-matching",
        lambda t: ["collector", "serve", "--tls-cert", _file(t, "c.pem", "x"), "--tls-key", _file(t, "k.pem", "y")],
        "not a PEM certificate and its key",
    ),
    Case(
        "collector-config-unknown-key",
        lambda t: ["collector", "init"],
        "databse: unknown key",
        env=lambda t: {"DUECARE_COLLECTOR_CONFIG": _file(t, "collector.toml", 'databse = "sqlite://"\n')},
    ),
    Case(
        "pull-out-dir-missing",
        lambda t: [
            "pull", "--collector", "http://127.0.0.1:9", "--key-file", _file(t, "k", "dcr_x\n"),
            "--out", str(t / "no" / "changes.csv"),
        ],
        "does not exist",
    ),
    Case("pull-no-key-file", lambda t: ["pull", "--collector", "http://x", "--key-file", str(t / "k")], "--key-file"),
    Case("report-two-sources", lambda t: ["report", "x.json", "--collector", "http://x"], "give exactly one of"),
]  # fmt: skip


@pytest.fixture(scope="module")
def isolation() -> Iterator[list[str]]:
    """``ip netns exec NS`` for a namespace with only a loopback, when we may make one; else nothing."""
    from duecare.lab.availability import lab_available

    if os.geteuid() != 0 or not lab_available()[0]:
        yield []
        return
    from duecare.lab import netns

    name = f"dcbad{os.getpid() % 100000}"
    netns.delete(name)
    netns.add(name)
    try:
        yield ["ip", "netns", "exec", name]
    finally:
        netns.delete(name)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case: Case, tmp_path: Path, isolation: list[str]) -> None:
    if case.id == "scan-ipv6-privileged" and not isolation:
        pytest.skip("scan of ::1 only inside a namespace of our own")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("DUECARE_")}
    env = {**inherited, "COLUMNS": "80", **case.env(tmp_path)}
    proc = subprocess.run(
        [*isolation, *DUECARE, *case.argv(tmp_path)],
        input=case.stdin,
        stdin=None if case.stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "", proc.stdout
    assert len(lines) == 1 and proc.stderr == lines[0] + "\n", proc.stderr  # one line, no blank line before it
    assert lines[0].startswith("error: ") and case.says in lines[0], lines[0]


def test_advisories_show_takes_the_id_list_prints() -> None:
    listed = subprocess.run([*DUECARE, "advisories", "list", "--json"], capture_output=True, text=True, timeout=60)
    first = json.loads(listed.stdout)[0]
    shown = subprocess.run(
        [*DUECARE, "advisories", "show", f"{first['publisher']}/{first['id']}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert first["official_id"] in shown.stdout
