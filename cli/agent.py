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
from duecare.cli.common import EXIT_INTERNAL, err, fail, typer_app

if TYPE_CHECKING:
    from rich.console import Console

app = typer_app(help="The scheduled agent: enroll, run, status.")


def _console() -> Console:
    """rich is imported only to print: the daemon (`agent run`) never needs it (issue 19)."""
    from rich.console import Console

    return Console()


StateOpt = Annotated[Path, typer.Option("--state-dir", metavar="DIR", help="Agent state directory.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", help="TOML config file.")]
TOKEN_ENV = "DUECARE_ENROLL_TOKEN"


def _read_token(token_file: str | None) -> tuple[str, str]:
    """(token text, where it came from): a file, stdin (``-``) or $DUECARE_ENROLL_TOKEN."""
    if token_file is None:
        if os.environ.get(TOKEN_ENV):
            return os.environ[TOKEN_ENV], f"${TOKEN_ENV}"
        raise fail(f"give the enrollment token: --token-file FILE, --token-file - (stdin), or ${TOKEN_ENV}")
    if token_file == "-":
        if sys.stdin.isatty():
            raise fail("--token-file -: paste the token on stdin or redirect it: --token-file - < FILE")
        return sys.stdin.read(4096), "stdin"
    try:
        with open(token_file, encoding="utf-8", errors="replace") as fh:
            return fh.read(4096), token_file
    except PermissionError as exc:
        raise fail(
            f"cannot read the token file {token_file}: permission denied for user {_user()}; "
            f"pass it on stdin instead: --token-file - < {token_file}"
        ) from exc
    except OSError as exc:
        raise fail(f"cannot read the token file {token_file}: {exc.strerror or exc}") from exc


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


@app.command()
def enroll(
    collector: Annotated[
        str, typer.Option("--collector", metavar="URL", help="Collector base URL, e.g. https://collector.example:8443.")
    ],
    token_file: Annotated[
        str | None,
        typer.Option(
            "--token-file", metavar="FILE", help=f"File holding the token, or - for stdin (default: ${TOKEN_ENV})."
        ),
    ] = None,
    state_dir: StateOpt = DEFAULT_STATE_DIR,
    vantage: Annotated[
        str,
        typer.Option(
            "--vantage",
            metavar="internal|internet",
            help="internet: an agent outside the site that scans only the site's declared public addresses.",
        ),
    ] = "internal",
) -> None:
    """Make this agent's key and trade the site's enrollment token for a credential.

    Run it as the user the agent runs as (the service's `duecare`); the state directory is created
    (0700) if it can be.
    """
    from duecare.agent.enroll import CollectorUnavailable, check_token
    from duecare.agent.enroll import enroll as do_enroll
    from duecare.wire import Vantage

    if vantage not in ("internal", "internet"):
        raise fail(f"--vantage {vantage!r}: give internal (on the site's LAN) or internet (outside it)")
    raw, source = _read_token(token_file)
    try:
        token = check_token(raw, source)
        with httpx.Client(timeout=30.0) as client:
            e = do_enroll(StateDir(state_dir), collector, token, socket.gethostname(), client, Vantage(vantage))
    except CollectorUnavailable as exc:  # the environment (1), not the input: retry later
        raise fail(str(exc), EXIT_INTERNAL) from exc
    except StateError as exc:  # a bad token, URL or directory, or the token refused: the caller's to fix
        raise fail(str(exc)) from exc
    err.print(f"enrolled as agent {e.agent_id} for site {e.site_id} (vantage {e.vantage.value})", markup=False)


@app.command()
def run(
    config: ConfigOpt = None,
    state_dir: StateOpt = DEFAULT_STATE_DIR,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle now, deliver, and exit.")] = False,
    stop_grace: Annotated[
        float,
        typer.Option(
            "--stop-grace", metavar="SECONDS", min=0, help="Seconds a running cycle may take to finish at SIGTERM."
        ),
    ] = 60.0,
    check_config: Annotated[
        bool, typer.Option("--check-config", help="Only check the config and its scope, then exit (0: ready).")
    ] = False,
) -> None:
    """Scan on the configured schedule; keep every report until the collector acknowledges it."""
    from duecare.agent.daemon import AgentDaemon
    from duecare.agent.logs import setup_logging
    from duecare.agent.scan_process import ScanProcess
    from duecare.agent.scope import ScopeError, daemon_scope

    try:
        cfg = load_config(config)
        scope = daemon_scope(cfg, str(config) if config else "the default config (no --config)")
    except (ConfigError, ScopeError) as exc:
        raise fail(str(exc)) from exc
    if check_config:
        err.print(f"{config or 'defaults'}: valid; {scope.size()} addresses in scope", markup=False)
        return
    state = StateDir(state_dir)
    try:
        state.enrollment()
        state.check_key()
    except StateError as exc:
        raise fail(str(exc)) from exc
    setup_logging()
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
    as_json: Annotated[bool, typer.Option("--json", help="Print plain JSON (no colours).")] = False,
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
