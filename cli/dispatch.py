"""The ``duecare`` entry point: picks the command's module and imports nothing else.

``duecare --help`` is answered from the table below with the standard library only, and every
command imports just its own module: typer, rich, pydantic and the scan stack cost ~0.2 s and
~40 MB before a line of output, which a help screen, the collector or the idle daemon need not
pay for (issue 19). The commands' own option parsing stays with typer in their modules.
"""

from __future__ import annotations

import importlib
import sys
from typing import NamedTuple

PROG = "duecare"
ABOUT = "Network exposure auditor: measures a cybersecurity standard of care on a LAN."


class Command(NamedTuple):
    module: str
    help: str
    #: True: a command of ``duecare.cli.main.app``; False: the module's own typer ``app``.
    top_level: bool = False


COMMANDS: dict[str, Command] = {
    "scan": Command(
        "duecare.cli.main", "Scan once: discovery, ports, probes, findings; a summary table, JSON and reports.", True
    ),
    "probe": Command(
        "duecare.cli.main",
        "Run one probe against one service and print its attempt, facts, evidence and findings.",
        True,
    ),
    "verify": Command(
        "duecare.cli.main",
        "Check signatures and the hash chain offline: tampered, reordered or missing reports show.",
        True,
    ),
    "collector": Command("duecare.cli.collector", "Run and administer the MSP collector."),
    "pull": Command("duecare.cli.pull", "The MSP's nightly pull of changes (JSON, CSV or OCSF)."),
    "agent": Command("duecare.cli.agent", "The scheduled agent: enroll, run, status."),
    "advisories": Command("duecare.cli.advisories", "List, show, validate advisories; update KEV and SSVC."),
    "report": Command("duecare.cli.report", "Render the due-diligence report or the baseline exhibit."),
}

EXIT_USAGE = 2


def usage() -> str:
    width = max(map(len, COMMANDS)) + 2
    lines = [f"Usage: {PROG} COMMAND [ARGS]...", "", ABOUT, "", "Commands:"]
    lines += [f"  {name:<{width}}{cmd.help}" for name, cmd in COMMANDS.items()]
    lines += ["", f"Run '{PROG} COMMAND --help' for a command's options."]
    return "\n".join(lines) + "\n"


def dispatch(argv: list[str]) -> int:
    """Run one command; returns the exit code (typer's ``SystemExit`` passes through)."""
    if not argv or argv[0] in ("--help", "-h"):
        sys.stdout.write(usage())
        return 0 if argv else EXIT_USAGE
    name, rest = argv[0], argv[1:]
    cmd = COMMANDS.get(name)
    if cmd is None:
        sys.stderr.write(f"error: no such command {name!r} (see '{PROG} --help')\n")
        return EXIT_USAGE
    module = importlib.import_module(cmd.module)
    from duecare.cli.common import run_app  # typer and click: what every command's parsing needs anyway

    if cmd.top_level:
        return run_app(module.app, argv, PROG)
    return run_app(module.app, rest, f"{PROG} {name}")


def main() -> None:
    try:
        sys.exit(dispatch(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
