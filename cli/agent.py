"""`duecare agent enroll|run|status`: the small-office box's daemon and its admin."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer

from duecare.agent.config import ConfigError, load_config
from duecare.agent.state import DEFAULT_STATE_DIR, StateDir, StateError

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _console(stderr: bool = False) -> Console:
    """rich is imported only to print: the daemon (`agent run`) never needs it (issue 19)."""
    from rich.console import Console

    return Console(stderr=stderr)


StateOpt = Annotated[Path, typer.Option("--state-dir", help="Agent state directory.")]


def _bail(message: str, code: int = 2) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def enroll(
    collector: Annotated[str, typer.Option("--collector", help="Collector base URL.")],
    token_file: Annotated[str, typer.Option("--token-file", help="File holding the token, or - for stdin.")],
    state_dir: StateOpt = DEFAULT_STATE_DIR,
) -> None:
    """Make this agent's key and trade the site's enrollment token for a credential."""
    from duecare.agent.enroll import enroll as do_enroll

    try:
        token = sys.stdin.read() if token_file == "-" else Path(token_file).read_text()
    except OSError as exc:
        raise _bail(f"cannot read token file: {exc}") from exc
    try:
        with httpx.Client(timeout=30.0) as client:
            e = do_enroll(StateDir(state_dir), collector, token, socket.gethostname(), client)
    except StateError as exc:
        raise _bail(str(exc), 1) from exc
    _console(stderr=True).print(f"enrolled as agent {e.agent_id} for site {e.site_id}")


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    state_dir: StateOpt = DEFAULT_STATE_DIR,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle now, deliver, and exit.")] = False,
    stop_grace: Annotated[
        float, typer.Option("--stop-grace", min=0, help="Seconds a running cycle may take to finish at SIGTERM.")
    ] = 60.0,
) -> None:
    """Scan on the configured schedule; keep every report until the collector acknowledges it."""
    from duecare.agent.daemon import AgentDaemon
    from duecare.agent.logs import setup_logging
    from duecare.agent.scan_process import ScanProcess

    setup_logging()
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _bail(str(exc)) from exc
    state = StateDir(state_dir)
    try:
        state.enrollment()
        state.check_key()
    except StateError as exc:
        raise _bail(str(exc)) from exc
    # Each cycle scans in a child process: the daemon never imports the scan stack (issue 19).
    daemon = AgentDaemon(cfg, state, ScanProcess(), stop_grace_s=stop_grace)
    if once:
        report = daemon.cycle()
        daemon.deliver()
        daemon.http.close()
        raise typer.Exit(0 if report is not None else 1)
    logging.getLogger("duecare.agent").info("agent starting; schedule %s", cfg.schedule.cron)
    if not daemon.run_forever():
        # A scan cannot be cancelled from outside its thread, and the interpreter would join that
        # thread at exit: leave now instead (the outbox is transactional; nothing is half-written),
        # before systemd's TimeoutStopSec turns the stop into a SIGKILL.
        logging.shutdown()
        os._exit(0)


def _daemon_running(info: dict[str, object]) -> bool:
    """The daemon wrote its pid at start and ``stopped`` at a clean stop; a SIGKILL leaves only the pid."""
    pid = info.get("pid")
    if not isinstance(pid, int) or info.get("stopped"):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user (the service account)
        return True
    return True


@app.command()
def status(
    state_dir: StateOpt = DEFAULT_STATE_DIR,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Last cycle, next run, outbox depth, last delivery, and a capability self-test."""
    from duecare.agent.daemon import read_status
    from duecare.agent.outbox import Outbox
    from duecare.agent.privileges import can_use_raw_sockets

    state = StateDir(state_dir)
    info: dict[str, object] = {"state_dir": str(state_dir), **read_status(state_dir)}
    info["running"] = _daemon_running(info)
    try:
        e = state.enrollment()
        info["enrolled"] = {"agent_id": e.agent_id, "site_id": e.site_id, "collector": e.collector_url}
    except StateError as exc:
        info["enrolled"] = False
        info["enrollment_problem"] = str(exc)
    if state.outbox_path.exists():
        info["outbox"] = Outbox(state.outbox_path).status()
    raw = can_use_raw_sockets()
    info["capabilities"] = {
        "raw_sockets": raw,
        "scan_mode": "syn" if raw else "connect (no CAP_NET_RAW: degraded, said so in every report)",
    }
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2, default=str) + "\n")
    else:
        _console().print_json(data=info, default=str)
