"""The ``duecare`` command. Parses arguments and calls the application; nothing more."""

from __future__ import annotations

import json
import sys
from ipaddress import ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from duecare.cli.dispatch import ABOUT, COMMANDS

if TYPE_CHECKING:  # imported where used: `duecare scan --help` needs neither pydantic nor the scope
    from duecare.agent.config import AgentConfig
    from duecare.agent.scope import Scope

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3

app = typer.Typer(
    name="duecare",
    help=ABOUT,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _config(path: Path | None) -> AgentConfig:
    from duecare.agent.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def scan(
    targets: Annotated[list[str] | None, typer.Argument(help="IPs, CIDRs or ranges (a-b).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Never touch these.")] = None,
    scope_auto: Annotated[
        bool, typer.Option("--scope-auto", help="Scan the subnets attached to this machine.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the wire report on stdout only.")] = False,
    profile: Annotated[str | None, typer.Option("--profile", help="Standard-of-care profile.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML (or .pdf) report.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the JSON report here.")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post the signed report to the collector.")] = False,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Agent state directory.")] = None,
    authorized_by: Annotated[str | None, typer.Option("--authorized-by")] = None,
    unprivileged: Annotated[
        bool, typer.Option("--unprivileged", help="Act as if raw sockets were unavailable.")
    ] = False,
) -> None:
    """Scan once: discovery, ports, probes, findings; a summary table, JSON and reports."""
    from duecare.agent.run import ScanRequest
    from duecare.agent.scope import ScopeError
    from duecare.cli.scan import run_oneshot

    cfg = _config(config)
    try:
        scope = _scope(cfg, targets or [], exclude or [], scope_auto)
    except ScopeError as exc:
        raise _fail(str(exc)) from exc
    if report is not None:
        from rich.markup import escape

        from duecare.report.errors import ReportError
        from duecare.report.html import check_output

        try:
            check_output(report)  # a missing PDF extra stops before the scan, not after it
        except ReportError as exc:
            raise _fail(escape(str(exc))) from exc
    request = ScanRequest(
        config=cfg,
        scope=scope,
        profile=profile or cfg.report.profile,
        authorized_by=authorized_by or cfg.report.authorized_by,
        force_unprivileged=unprivileged,
        report_path=report,
        json_path=out,
        post=post,
        state_dir=state_dir,
    )
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    code = run_oneshot(request, as_json=as_json, err=err, out=console)
    raise typer.Exit(code)


def _scope(cfg: AgentConfig, targets: list[str], exclude: list[str], auto: bool) -> Scope:
    from duecare.agent.scope import Scope, ScopeError

    if auto:
        from duecare.agent.scope_auto import attached_subnets

        targets = [*targets, *attached_subnets()]
    configured = Scope.parse(cfg.scope.targets, cfg.scope.exclude) if cfg.scope.targets else None
    if targets:
        asked = Scope.parse(targets, [*exclude, *cfg.scope.exclude])
        return configured.narrow(asked) if configured else asked
    if configured is not None:
        return Scope.parse(cfg.scope.targets, [*cfg.scope.exclude, *exclude])
    raise ScopeError("no target given and no [scope] targets in the config (see --help)")


@app.command()
def probe(
    probe_id: Annotated[str, typer.Argument(help="Probe id, e.g. telnet, rdp, smb.")],
    ip: Annotated[str, typer.Argument()],
    port: Annotated[int, typer.Argument()],
    proto: Annotated[str, typer.Option("--proto")] = "tcp",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    allow: Annotated[list[str] | None, typer.Option("--allow-class", help="e.g. vuln-specific")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
) -> None:
    """Run one probe against one service and print its attempt, facts, evidence and findings."""
    import asyncio

    from duecare.agent.run import run_single_probe

    cfg = _config(config)
    try:
        ip_address(ip)
    except ValueError as exc:
        raise _fail(f"{ip!r} is not an IP address") from exc
    try:
        result = asyncio.run(run_single_probe(cfg, probe_id, ip, port, proto, allow or []))
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from exc
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    else:
        Console().print_json(data=result, default=str)


@app.command()
def verify(
    reports: Annotated[list[Path] | None, typer.Argument(help="Signed report files (JSON envelopes).")] = None,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Verify the agent's own chain.")] = None,
    public_key: Annotated[str | None, typer.Option("--public-key", help="base64 Ed25519 key.")] = None,
) -> None:
    """Check signatures and the hash chain offline: tampered, reordered or missing reports show."""
    from duecare.agent.state import StateDir, StateError
    from duecare.wire import SignedReport
    from duecare.wire.signatures import load_public_key, public_key_b64, verify_chain

    envelopes: list[SignedReport] = []
    key_b64 = public_key
    if state_dir is not None:
        from duecare.agent.outbox import Outbox

        state = StateDir(state_dir)
        try:
            key_b64 = key_b64 or public_key_b64(state.key())
        except StateError as exc:
            raise _fail(str(exc)) from exc
        envelopes += Outbox(state.outbox_path).envelopes()
    for path in reports or []:
        try:
            envelopes.append(SignedReport.model_validate_json(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise _fail(f"{path}: not a signed report: {exc}") from exc
    if not envelopes:
        raise _fail("nothing to verify: give REPORT files or --state-dir")
    if key_b64 is None:
        raise _fail("--public-key is needed to verify report files")
    problems = verify_chain(envelopes, load_public_key(key_b64))
    for p in problems:
        err.print(f"[red]{p.report_id}[/]: {p.problem}", highlight=False)
    if problems:
        raise typer.Exit(EXIT_FINDINGS)
    err.print(f"{len(envelopes)} report(s): signatures valid, chain unbroken")


def _forward(module: str, prog: str, lead: tuple[str, ...] = ()) -> Any:
    def run(ctx: typer.Context) -> None:
        import importlib

        sub = importlib.import_module(module).app
        sub(args=[*lead, *ctx.args], prog_name=prog, standalone_mode=True)

    return run


def _register_forward(name: str, module: str, help_text: str, lead: tuple[str, ...] = ()) -> None:
    """Sub-apps imported only when used: the collector never loads scanning libraries and vice versa."""
    app.command(
        name,
        help=help_text,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(_forward(module, "duecare" if lead else f"duecare {name}", lead))


# The table in cli/dispatch.py is the one list of commands (the `duecare` command dispatches there).
for _name, _cmd in COMMANDS.items():
    if not _cmd.top_level:
        _register_forward(_name, _cmd.module, _cmd.help)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
