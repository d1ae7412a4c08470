"""The ``duecare`` command. Parses arguments and calls the application; nothing more."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from ipaddress import ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from duecare.cli.common import EXIT_FINDINGS, err, fail, output_file, stderr_console, typer_app
from duecare.cli.dispatch import ABOUT, COMMANDS

if TYPE_CHECKING:  # imported where used: `duecare scan --help` needs neither pydantic nor the scope
    from duecare.agent.config import AgentConfig
    from duecare.agent.scope import Scope

app = typer_app(name="duecare", help=ABOUT)


def _config(path: Path | None) -> AgentConfig:
    from duecare.agent.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(str(exc)) from exc


class PortRange(StrEnum):
    DEFAULT = "default"
    ALL = "all"


@app.command(short_help="Scan once: findings table, HTML report, JSON; post to the collector.")
def scan(
    targets: Annotated[
        list[str] | None, typer.Argument(metavar="TARGET", help="IPs, CIDRs or ranges (a-b).", show_default=False)
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", help="TOML config file.")] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", metavar="TARGET", help="Never touch these (repeatable).")
    ] = None,
    scope_auto: Annotated[
        bool, typer.Option("--scope-auto", help="Scan the subnets attached to this machine.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the wire report on stdout only.")] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="NAME", help="Standard-of-care profile (baseline, hipaa, …).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", metavar="FILE", help="Write the HTML (or .pdf) report here.")
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json-out", metavar="FILE", help="Also write the JSON report here (`duecare report` renders it)."
        ),
    ] = None,
    post: Annotated[bool, typer.Option("--post", help="Post the signed report to the collector.")] = False,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", metavar="DIR", help="Agent state directory (for --post).")
    ] = None,
    authorized_by: Annotated[
        str | None,
        typer.Option("--authorized-by", metavar="WHO", help="Who authorised this scan (recorded in the report)."),
    ] = None,
    unprivileged: Annotated[
        bool, typer.Option("--unprivileged", help="Act as if raw sockets were unavailable.")
    ] = False,
    ports: Annotated[
        PortRange | None,
        typer.Option(
            "--ports",
            metavar="default|all",
            help="TCP ports: 'default' (nmap's top 1000, every probe's standard and alternate ports) "
            "or 'all' (1-65535 on each live host). Default: the config's [ports] tcp_range.",
        ),
    ] = None,
    public: Annotated[
        list[str] | None,
        typer.Option(
            "--public",
            metavar="ADDR",
            help="The site's public address (repeatable): scanned from here as the outside view and joined.",
        ),
    ] = None,
) -> None:
    """Scan once: discovery, ports, probes, findings; a summary table, JSON and reports."""
    from duecare.agent.run import ScanRequest, with_tcp_range
    from duecare.agent.scope import ScopeError
    from duecare.cli.scan import run_oneshot

    cfg = _config(config)
    if ports is not None:
        cfg = with_tcp_range(cfg, ports.value)
    try:
        publics = _public(public or [])
        scope = _scope(cfg, targets or ([] if cfg.scope.targets else publics), exclude or [], scope_auto)
    except ScopeError as exc:
        raise fail(str(exc)) from exc
    if report is not None:
        from duecare.report.errors import ReportError
        from duecare.report.html import check_output

        output_file(report, "--report")
        try:
            check_output(report)  # a missing PDF extra stops before the scan, not after it
        except ReportError as exc:
            raise fail(str(exc)) from exc
    if json_out is not None:
        output_file(json_out, "--json-out")
    if post:
        _require_enrollment(state_dir)
    request = ScanRequest(
        config=cfg,
        scope=scope,
        profile=profile or cfg.report.profile,
        authorized_by=authorized_by or cfg.report.authorized_by,
        force_unprivileged=unprivileged,
        report_path=report,
        json_path=json_out,
        post=post,
        state_dir=state_dir,
        public=tuple(publics),
    )
    from rich.console import Console

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    code = run_oneshot(request, as_json=as_json, err=stderr_console(), out=console)
    raise typer.Exit(code)


def _require_enrollment(state_dir: Path | None) -> None:
    """``--post`` without an enrollment fails now, not after a scan of the whole network."""
    from duecare.agent.state import DEFAULT_STATE_DIR, StateDir, StateError

    state = StateDir(state_dir or DEFAULT_STATE_DIR)
    try:
        state.enrollment()
        state.key()
    except StateError as exc:
        raise fail(f"--post: {exc}") from exc


def _public(addresses: list[str]) -> list[str]:
    """--public takes single addresses: the outside view scans exactly what the operator names."""
    import ipaddress

    from duecare.agent.scope import ScopeError

    out = []
    for a in addresses:
        try:
            out.append(str(ipaddress.ip_address(a.strip())))
        except ValueError as exc:
            raise ScopeError(f"--public {a!r}: give one public IP address per --public") from exc
    return out


def _scope(cfg: AgentConfig, targets: list[str], exclude: list[str], auto: bool) -> Scope:
    from duecare.agent.scope import Scope, ScopeError

    if auto:
        from duecare.agent.scope_auto import attached_subnets

        targets = [*targets, *attached_subnets()]
    configured = Scope.parse(cfg.scope.targets, cfg.scope.exclude) if cfg.scope.targets else None
    if targets:
        asked = Scope.parse(targets, [*exclude, *cfg.scope.exclude])
        scope = configured.narrow(asked) if configured else asked
    elif configured is not None:
        scope = Scope.parse(cfg.scope.targets, [*cfg.scope.exclude, *exclude])
    else:
        raise ScopeError("no target given and no [scope] targets in the config (see duecare scan --help)")
    return scope.check_scannable()


class ProbeProto(StrEnum):
    TCP = "tcp"
    UDP = "udp"


@app.command(short_help="Run one probe against one service (support and development).")
def probe(
    probe_id: Annotated[str, typer.Argument(metavar="PROBE", help="Probe id, e.g. telnet, rdp, smb.")],
    ip: Annotated[str, typer.Argument(metavar="IP", help="Address of the service.")],
    port: Annotated[int, typer.Argument(metavar="PORT", min=1, max=65535, help="Port of the service (1-65535).")],
    proto: Annotated[ProbeProto, typer.Option("--proto", metavar="PROTO", help="tcp or udp.")] = ProbeProto.TCP,
    as_json: Annotated[bool, typer.Option("--json", help="Print plain JSON (no colours).")] = False,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow-class", metavar="CLASS", help="Also allow this probe class, e.g. vuln-specific."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", help="TOML config file.")] = None,
) -> None:
    """Run one probe against one service and print its attempt, facts, evidence and findings."""
    import asyncio

    from duecare.agent.run import run_single_probe

    cfg = _config(config)
    try:
        ip_address(ip)
    except ValueError as exc:
        raise fail(f"{ip!r} is not an IP address") from exc
    try:
        result = asyncio.run(run_single_probe(cfg, probe_id, ip, port, proto.value, allow or []))
    except KeyError as exc:
        raise fail(str(exc.args[0])) from exc
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    else:
        from rich.console import Console

        Console().print_json(data=result, default=str)


@app.command(short_help="Check report signatures and the hash chain offline.")
def verify(
    reports: Annotated[
        list[Path] | None,
        typer.Argument(metavar="REPORT", help="Signed report files (JSON envelopes).", show_default=False),
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", metavar="DIR", help="Verify the agent's own chain.")
    ] = None,
    public_key: Annotated[
        str | None, typer.Option("--public-key", metavar="KEY", help="The agent's Ed25519 public key (base64).")
    ] = None,
) -> None:
    """Check signatures and the hash chain offline: tampered, reordered or missing reports show."""
    from duecare.agent.state import StateDir, StateError
    from duecare.wire import SignedReport
    from duecare.wire.signatures import PublicKeyError, load_public_key, public_key_b64, verify_chain

    envelopes: list[SignedReport] = []
    key_b64 = public_key
    notices: list[str] = []
    receipt_problems: list[tuple[str, str]] = []
    if state_dir is not None:
        from duecare.agent.outbox import Outbox

        if not state_dir.is_dir():
            raise fail(f"--state-dir {state_dir}: no such directory")
        state = StateDir(state_dir)
        try:
            key_b64 = key_b64 or public_key_b64(state.key())
        except StateError as exc:
            raise fail(str(exc)) from exc
        outbox = Outbox(state.outbox_path)
        envelopes += outbox.envelopes()
        notices, receipt_problems = _check_receipts(state, outbox)
    for path in reports or []:
        try:
            envelopes.append(SignedReport.model_validate_json(path.read_bytes()))
        except OSError as exc:
            raise fail(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise fail(f"{path}: not a signed report ({_first_error(exc)})") from exc
    if not envelopes:
        raise fail("nothing to verify: give REPORT files or --state-dir")
    if key_b64 is None:
        raise fail("--public-key is needed to verify report files")
    try:
        key = load_public_key(key_b64)
    except PublicKeyError as exc:
        raise fail(f"--public-key: not a base64 Ed25519 public key ({exc})") from exc
    problems = [(p.report_id, p.problem) for p in verify_chain(envelopes, key)]
    problems += receipt_problems
    if state_dir is not None:
        stone_notices, stone_problems = _check_tombstones(outbox, key)
        notices += stone_notices
        problems += stone_problems
    for rid, problem in problems:
        err.print(f"{rid}: {problem}", markup=False)
    if problems:
        raise typer.Exit(EXIT_FINDINGS)
    err.print(f"{len(envelopes)} report(s): signatures valid, chain unbroken", highlight=False)
    for line in notices:
        err.print(line, highlight=False)


def _check_receipts(state: Any, outbox: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """Each kept receipt: signed by the collector key pinned at enrollment, naming its report's hash."""
    from duecare.agent.state import StateError
    from duecare.wire.signatures import SignatureError, verify_receipt

    try:
        pinned = state.enrollment().collector_key
    except StateError:
        pinned = None
    notices, problems = [], []
    signed = 0
    for report_id, digest, receipt in outbox.receipts():
        if receipt.signature is None:
            continue
        try:
            verify_receipt(receipt, pinned)
        except SignatureError as exc:
            problems.append((report_id, str(exc)))
            continue
        if receipt.report_hash != digest or str(receipt.report_id) != report_id:
            problems.append((report_id, "receipt names another report (id or hash differs from the chain)"))
            continue
        signed += 1
    if signed:
        how = "the collector key pinned at enrollment" if pinned else "the key they name (no key pinned)"
        notices.append(f"{signed} receipt(s): collector signatures valid, checked with {how}")
    return notices, problems


def _check_tombstones(outbox: Any, key: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """Each kept tombstone: signed with the agent's key when its report was dropped, so an edited or
    invented one (to explain a gap away) shows. One an older agent stored unsigned is said, not failed."""
    from duecare.wire.envelope import tombstone_payload
    from duecare.wire.signatures import SignatureError, verify_payload

    notices, problems = [], []
    valid = unsigned = 0
    for t in outbox.stored_tombstones():
        if t.signature is None:
            unsigned += 1
            continue
        try:
            verify_payload(key, tombstone_payload(t), t.signature)
        except SignatureError:
            problems.append((str(t.report_id), "tombstone: signature invalid (altered after the report was dropped?)"))
            continue
        valid += 1
    if valid:
        notices.append(f"{valid} tombstone(s) of dropped reports: agent signatures valid")
    if unsigned:
        notices.append(f"{unsigned} tombstone(s) stored unsigned by an older agent (signed at the next delivery)")
    return notices, problems


def _first_error(exc: ValueError) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        return f"{where}: {e['msg']}" if where else e["msg"]
    return str(exc).splitlines()[0]


def _forward(module: str, prog: str) -> Any:
    def run(ctx: typer.Context) -> int:
        import importlib

        sub = importlib.import_module(module).app
        code = sub(args=list(ctx.args), prog_name=prog, standalone_mode=False)
        if isinstance(code, int) and code != 0:
            raise typer.Exit(code)  # a return value would be dropped when the parent runs standalone
        return 0

    return run


def _register_forward(name: str, module: str, help_text: str) -> None:
    """Sub-apps imported only when used: the collector never loads scanning libraries and vice versa."""
    app.command(
        name,
        help=help_text,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(_forward(module, f"duecare {name}"))


# The table in cli/dispatch.py is the one list of commands (the `duecare` command dispatches there).
for _name, _cmd in COMMANDS.items():
    if not _cmd.top_level:
        _register_forward(_name, _cmd.module, _cmd.help)
