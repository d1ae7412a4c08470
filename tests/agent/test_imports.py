"""What each entry point imports (issue 19): the idle daemon, the help screens.

Modules loaded are memory held and start-up time paid; these guards keep the heavy ones from
creeping back. Each entry point runs as a real process whose ``sys.modules`` is written at exit
(modules are never unloaded, so that is everything the process ever imported): the daemon through
a real cycle and a real delivery (the cycle's own child process is another interpreter).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.live import REPO, AgentProcess, LiveCollector, wait_for

pytestmark = pytest.mark.timeout(180)

#: Never in the daemon: the scan stack, the renderers, the collector's stack, the signing
#: library (the cycle's child signs) and rich (nothing is printed).
DAEMON_NEVER = (
    "impacket",
    "scapy",
    "nmap",
    "jinja2",
    "weasyprint",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "alembic",
    "cryptography",
    "rich",
    "pygments",
    "click",
    "duecare.agent.run",
    "duecare.agent.scan",
    "duecare.probes",
    "duecare.advisories",
    "duecare.report",
    "duecare.collector",
    "duecare.lab",
)
#: Never in `duecare --help`: it is answered from the dispatch table alone.
HELP_NEVER = ("typer", "click", "rich", "pydantic", "httpx", "duecare.agent", "duecare.wire")
#: Never in `duecare scan --help`: the scan stack loads when a scan runs.
SCAN_HELP_NEVER = ("duecare.agent.run", "duecare.probes", "duecare.advisories", "scapy", "impacket", "nmap", "httpx")


#: ``duecare ARGS…`` as the entry point runs it, writing its sys.modules at exit.
_TRACE = """
import atexit, json, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(k for k, v in sys.modules.items() if v))))
sys.argv = ["duecare", *args]
from duecare.cli.dispatch import main
main()
"""


def _traced(*args: str, out: Path) -> list[str]:
    return [sys.executable, "-c", _TRACE, str(out), *args]


def _loaded(out: Path) -> set[str]:
    return set(json.loads(out.read_text()))


def _hits(modules: set[str], never: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in never))


def _help_imports(tmp: Path, *args: str) -> set[str]:
    trace = tmp / "modules.json"
    out = subprocess.run(_traced(*args, out=trace), cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Usage:" in out.stdout
    return _loaded(trace)


def test_help_imports_nothing_but_the_dispatch_table(tmp_path: Path) -> None:
    modules = _help_imports(tmp_path, "--help")
    assert "duecare.cli.dispatch" in modules  # the trace is real
    assert _hits(modules, HELP_NEVER) == []


def test_scan_help_does_not_import_the_scan_stack(tmp_path: Path) -> None:
    modules = _help_imports(tmp_path, "scan", "--help")
    assert "duecare.cli.main" in modules
    assert _hits(modules, SCAN_HELP_NEVER) == []


def test_daemon_through_a_cycle_and_a_delivery_never_imports_the_scan_stack(
    live_agent: AgentProcess, live_collector: LiveCollector, tmp_path: Path
) -> None:
    live_collector.start()
    live_agent.enroll(live_collector.url, live_collector.token)
    live_agent.write_config(cron="*/5 * * * * *")  # a cycle within five seconds of the start
    log, trace = tmp_path / "daemon.stderr", tmp_path / "daemon-modules.json"
    argv = ["agent", "run", "--config", str(live_agent.config), "--state-dir", str(live_agent.state_dir)]
    with log.open("w") as err:
        daemon = subprocess.Popen(_traced(*argv, out=trace), cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    live_agent.logs.append(log)  # the secrets check at teardown reads it too
    try:
        wait_for("a cycle's report at the collector", lambda: len(live_collector.reports()) >= 1, timeout=90)
        wait_for("its receipt", lambda: live_agent.outbox_count() == 0, timeout=30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=90) == 0
    modules = _loaded(trace)
    assert {"duecare.agent.daemon", "apscheduler", "httpx", "duecare.agent.scan_process"} <= modules
    assert _hits(modules, DAEMON_NEVER) == []
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    assert any(x["msg"].startswith("cycle stored report") for x in logged)
    assert live_agent.status()["last_cycle"]["result"] == "ok"


def test_the_scan_stack_loads_impacket_and_cryptography_only_when_a_probe_needs_them() -> None:
    """Before nmap runs, the scan holds the probes and the application, not the libraries only
    the SMB and certificate probes use (they load in the probe stage)."""
    code = "import json, sys, duecare.agent.run; print(json.dumps(sorted(k for k, v in sys.modules.items() if v)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    modules = set(json.loads(out.stdout))
    assert "duecare.probes.smb.probe" in modules
    assert "duecare.probes.x509" in modules
    assert _hits(modules, ("impacket", "Cryptodome", "cryptography", "scapy", "jinja2", "rich")) == []
