"""Admin CLI of the collector (``duecare collector …``, ``python -m duecare.collector``).

Only parses arguments and calls the application. Secrets are printed once, as the LAST line of
the output, so scripts can take them with ``tail -n1``; ids and notes go before.

Every command reads the same settings, so the service and the admin commands act on one database:
a command-line option, else its environment variable, else ``/etc/duecare/collector.toml``
(``$DUECARE_COLLECTOR_CONFIG``; keys ``db``, ``state_dir``, ``listen``, ``tls_cert``, ``tls_key``,
``max_body_bytes``, ``log_level``), else the built-in default.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from duecare.cli.common import fail, run_app, typer_app, warn
from duecare.collector import admin
from duecare.collector.db import migrate, preflight
from duecare.collector.db.session import Database, make_engine
from duecare.collector.errors import CollectorError
from duecare.collector.settings import (
    DEFAULT_AGENT_RATE,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_STATE_DIR,
    CollectorSettings,
    default_database_url,
)

DEFAULT_CONFIG = Path("/etc/duecare/collector.toml")
CONFIG_ENV = "DUECARE_COLLECTOR_CONFIG"
DEFAULT_LISTEN = "127.0.0.1:8080"

app = typer_app(help="duecare collector: tenants, sites, enrollment, serving.")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="DUECARE_COLLECTOR_DB", metavar="URL", help="Database URL (sqlite:///… or postgresql://…)."
    ),
]
StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="DUECARE_COLLECTOR_STATE_DIR",
        metavar="DIR",
        help=f"Where the default SQLite file lives [default: {DEFAULT_STATE_DIR}].",
    ),
]
_TTL = re.compile(r"^(\d+)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class FileSettings(BaseModel):
    """``/etc/duecare/collector.toml``: what the service and the admin commands share."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db: str | None = None
    state_dir: Path | None = None
    listen: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_body_bytes: Annotated[int, Field(ge=1024)] | None = None
    log_level: str | None = None


def _file_settings() -> FileSettings:
    path = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if os.environ.get(CONFIG_ENV):
            raise fail(f"{path}: config file not found (from ${CONFIG_ENV})") from None
        return FileSettings()
    except PermissionError as exc:
        raise fail(f"{path}: not readable by this user; run as the collector's user (duecare-collector)") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise fail(f"{path}: cannot read: {exc}") from exc
    try:
        return FileSettings.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        key = ".".join(str(p) for p in e["loc"])
        raise fail(f"{path}: {key}: {'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}") from exc


def _settings(db: str | None, state_dir: Path | None, **overrides: object) -> CollectorSettings:
    conf = _file_settings()
    db = db or conf.db
    if db is None:
        directory = state_dir or conf.state_dir or DEFAULT_STATE_DIR
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(
                f"cannot create the state directory {directory}: {exc.strerror}; run as the collector's user "
                "or give --db (scripts/install-collector.sh makes the directory)"
            ) from exc
        db = default_database_url(directory)
    return CollectorSettings.model_validate({"database_url": db, **overrides})


def _database(settings: CollectorSettings) -> Database:
    """An engine for a URL SQLAlchemy knows, or one line saying what is wrong with it."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        return Database(
            make_engine(
                settings.database_url,
                sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s,
                lock_timeout_s=settings.lock_timeout_s,
            )
        )
    except (ArgumentError, NoSuchModuleError) as exc:
        raise fail(
            f"--db {_redact(settings.database_url)}: not a usable database URL; "
            "give sqlite:////path/collector.db or postgresql://user@host/dbname"
        ) from exc


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def parse_ttl(text: str) -> timedelta:
    m = _TTL.match(text.strip())
    if m is None:
        raise typer.BadParameter("use a number with s, m, h, d or w (e.g. 7d, 12h)")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


@app.callback()
def _owner_only() -> None:
    """The database, its WAL and SHM, and every export hold every client's findings and the webhook
    secrets: whatever this process creates is owner-only, whatever the caller's umask (not only the unit's)."""
    os.umask(0o077)


def _checked(settings: CollectorSettings, *, create: bool) -> Database:
    """The database, refused with what to do when it is missing, empty or corrupt; migrated to head."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        preflight.check(settings.database_url, create=create)
    except CollectorError as exc:
        raise fail(exc.detail, 1) from exc
    database = _database(settings)
    try:
        migrate.upgrade(database.engine)
    except (SQLAlchemyError, OSError) as exc:
        database.dispose()
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        raise fail(f"database {_redact(settings.database_url)}: {reason}", 1) from exc
    return database


def _open(db: str | None, state_dir: Path | None) -> Database:
    return _checked(_settings(db, state_dir), create=False)


@app.command()
def init(db: DbOpt = None, state_dir: StateDirOpt = None) -> None:
    """Create or upgrade the database schema."""
    database = _checked(_settings(db, state_dir), create=True)
    typer.echo(f"schema at revision {migrate.current_revision(database.engine)}")
    database.dispose()


@app.command("add-client")
def add_client(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The client's name.")],
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Add a client (tenant); prints its id."""
    database = _open(db, state_dir)
    try:
        typer.echo(admin.add_client(database, name))
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()


def _mint(database: Database, client: str, site: str, ttl: str) -> None:
    minted = admin.mint_enrollment_token(database, client, site, parse_ttl(ttl))
    assert minted.expires_at is not None
    typer.echo(f"enrollment token {minted.id} expires {minted.expires_at.isoformat(timespec='seconds')} (single use):")
    typer.echo(minted.secret)


ClientArg = Annotated[str, typer.Argument(metavar="CLIENT", help="Client name or id.")]
SiteArg = Annotated[str, typer.Argument(metavar="SITE", help="Site name or id.")]
TtlOpt = Annotated[str, typer.Option("--ttl", metavar="TIME", help="Enrollment token lifetime (7d, 12h, 3600s).")]


@app.command("add-site")
def add_site(
    client: ClientArg,
    site: SiteArg,
    ttl: TtlOpt = "7d",
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Add a site to a client; prints the site id, then an enrollment token as the LAST line."""
    database = _open(db, state_dir)
    try:
        typer.echo(f"site {admin.add_site(database, client, site)}")
        _mint(database, client, site, ttl)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()


@app.command("add-token")
def add_token(
    client: ClientArg,
    site: SiteArg,
    ttl: TtlOpt = "7d",
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Another enrollment token for an existing site (one per agent); the token is the LAST line."""
    database = _open(db, state_dir)
    try:
        _mint(database, client, site, ttl)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()


@app.command("add-reader")
def add_reader(
    client: Annotated[
        str | None, typer.Option("--client", metavar="CLIENT", help="The one client this key reads.")
    ] = None,
    all_clients: Annotated[
        bool, typer.Option("--all-clients", help="A key that reads EVERY client (the MSP's own).")
    ] = False,
    expires: Annotated[
        str | None, typer.Option("--expires", metavar="TIME", help="Lifetime (90d, 12h); none by default.")
    ] = None,
    label: Annotated[str, typer.Option("--label", metavar="TEXT", help="Who holds the key.")] = "",
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """A read key for the pull API: --client NAME, or explicitly --all-clients; the key is the LAST line."""
    if (client is None) == (not all_clients):
        raise fail("give --client NAME (one client) or --all-clients (every client), not both")
    ttl = None if expires is None else parse_ttl(expires)
    database = _open(db, state_dir)
    try:
        minted = admin.add_reader(database, client, label, all_clients=all_clients, ttl=ttl)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()
    until = "" if minted.expires_at is None else f", expires {minted.expires_at.isoformat(timespec='seconds')}"
    typer.echo(f"read key {minted.id} for {'client ' + client if client else 'ALL clients'}{until}:")
    typer.echo(minted.secret)


@app.command("set-site-public")
def set_site_public(
    client: ClientArg,
    site: SiteArg,
    addresses: Annotated[
        list[str] | None, typer.Argument(metavar="ADDR...", help="The site's public addresses; none clears the list.")
    ] = None,
    authorized_by: Annotated[
        str,
        typer.Option(
            "--authorized-by", metavar="WHO", help="Who authorised scanning these addresses from the internet."
        ),
    ] = "",
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Declare a site's public addresses: the only addresses an agent with internet vantage scans for it."""
    database = _open(db, state_dir)
    try:
        declared = admin.set_site_public(database, client, site, addresses or [], authorized_by)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()
    when = declared.authorized_at.isoformat(timespec="seconds")
    listed = " ".join(declared.addresses) or "(none: the outside view is off)"
    typer.echo(f"site {declared.site_id} public addresses: {listed}; authorised by {declared.authorized_by} at {when}")


@app.command("set-webhook")
def set_webhook(
    client: ClientArg,
    url: Annotated[str | None, typer.Argument(metavar="URL", help="http(s) URL; omit to remove.")] = None,
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Send new critical or KEV findings of a client to URL; the signing secret is the LAST line."""
    database = _open(db, state_dir)
    try:
        secret = admin.set_webhook(database, client, url)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()
    if secret is None:
        typer.echo("webhook removed")
    else:
        typer.echo("webhook set; HMAC-SHA256 secret for X-Duecare-Signature:")
        typer.echo(secret)


def _revoke(kind: str, fn: Callable[[Database, str], None], ident: str, db: str | None, state_dir: Path | None) -> None:
    database = _open(db, state_dir)
    try:
        fn(database, ident)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()
    typer.echo(f"{kind} {ident} revoked: refused (401) from its next request on")


@app.command("revoke-reader")
def revoke_reader(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="rk_… (see keys).")],
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Revoke a read key (its id, ``rk_…``, from ``keys``)."""
    _revoke("read key", admin.revoke_reader, key_id, db, state_dir)


@app.command("revoke-agent")
def revoke_agent(
    agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID", help="ag_… (see keys).")],
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Revoke an agent's credential (``ag_…``); its stored reports stay as evidence."""
    _revoke("agent credential", admin.revoke_agent, agent_id, db, state_dir)


@app.command("revoke-token")
def revoke_token(
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="et_… (see keys).")],
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Revoke an unused enrollment token (``et_…``)."""
    _revoke("enrollment token", admin.revoke_token, token_id, db, state_dir)


@app.command("remove-client")
def remove_client(
    client: ClientArg,
    export: Annotated[
        Path, typer.Option("--export", metavar="FILE", help="Write the client's data here first (JSON, 0600).")
    ],
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Export a client's findings and change feed to a file, then delete the client and all it owns."""
    from duecare.collector.client_export import export_client

    database = _open(db, state_dir)
    try:
        with database.read() as s:
            client_id = admin.find_client(s, client).id
        size = export_client(database, client_id, export)
        typer.echo(f"exported {client_id} to {export} ({size} bytes)")
        admin.remove_client(database, client_id)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    except OSError as exc:
        raise fail(f"cannot write the export {export}: {exc.strerror}; nothing was removed") from exc
    finally:
        database.dispose()
    typer.echo(f"client {client_id} removed with its sites, agents, keys and data")


@app.command("convert-cursor")
def convert_cursor(
    cursor: Annotated[str, typer.Argument(metavar="CURSOR", help="The numeric cursor of an older duecare pull.")],
    client: Annotated[
        str | None, typer.Option("--client", metavar="CLIENT", help="The client whose key pulls (name or id).")
    ] = None,
    all_clients: Annotated[bool, typer.Option("--all-clients", help="The key pulls every client.")] = False,
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Print the opaque cursor that replaces a numeric one (collector before 0006): write it to the
    pull's cursor file and the next pull goes on where the old one stopped."""
    if (client is None) == (not all_clients):
        raise fail("give --client CLIENT (the pulling key reads one client) or --all-clients")
    database = _open(db, state_dir)
    try:
        typer.echo(admin.convert_cursor(database, cursor, client))
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()


@app.command("keys")
def keys(
    client: Annotated[str | None, typer.Option("--client", metavar="CLIENT", help="Only this client's.")] = None,
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Every read key, agent credential and enrollment token, per client, with state and last use."""
    from datetime import UTC, datetime

    database = _open(db, state_dir)
    try:
        creds = admin.list_credentials(database, client)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()
    now = datetime.now(UTC)

    def when(t: datetime | None) -> str:
        return "-" if t is None else t.isoformat(timespec="seconds")

    typer.echo(f"{'kind':<7} {'id':<20} {'state':<8} {'client':<24} {'site':<16} {'last use':<26} expires  label")
    for c in creds:
        typer.echo(
            f"{c.kind:<7} {c.id:<20} {c.state(now):<8} {c.client[:24]:<24} {(c.site or '-')[:16]:<16} "
            f"{when(c.last_used_at):<26} {when(c.expires_at)}  {c.label}"
        )


@app.command("audit")
def audit(
    client: Annotated[str | None, typer.Option("--client", metavar="CLIENT", help="Only reads of this client.")] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", min=1, help="Newest N entries.")] = 100,
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """The audit of reads: which key read which client's data, on which endpoint, when (newest first)."""
    database = _open(db, state_dir)
    try:
        rows = admin.read_audit(database, client, limit)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()
    typer.echo(f"{'at':<26} {'key':<20} {'client':<20} {'site':<20} endpoint")
    for r in rows:
        typer.echo(
            f"{r.at.isoformat(timespec='seconds'):<26} {r.key_id:<20} {r.client_id or 'ALL':<20} "
            f"{r.site_id or '-':<20} {r.endpoint}"
        )


@app.command("held")
def held(
    client: Annotated[str | None, typer.Option("--client", metavar="CLIENT", help="Only this client's.")] = None,
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Reports agents hold aside after repeated server errors (from their signed notices)."""
    database = _open(db, state_dir)
    try:
        rows = admin.held_reports(database, client)
    except CollectorError as exc:
        raise fail(exc.detail) from exc
    finally:
        database.dispose()
    if not rows:
        typer.echo("no held reports")
    for r in rows:
        typer.echo(
            f"agent {r.agent_id} (site {r.site_id}) holds report {r.report_id} since "
            f"{r.held_since.isoformat(timespec='seconds')}: {r.reason}"
        )


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise fail(f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8443")
    return host.strip("[]"), int(port)


def _check_tls(cert: Path | None, key: Path | None) -> None:
    """Both or neither, readable, and a key that matches the certificate: checked before serving."""
    import ssl

    if (cert is None) != (key is None):
        raise fail("--tls-cert and --tls-key go together")
    if cert is None or key is None:
        return
    for opt, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            path.read_bytes()
        except OSError as exc:
            raise fail(f"{opt} {path}: {exc.strerror or exc}") from exc
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise fail(f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate and its key ({exc.reason})") from exc


@app.command()
def serve(
    db: DbOpt = None,
    state_dir: StateDirOpt = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            envvar="DUECARE_COLLECTOR_LISTEN",
            metavar="HOST:PORT",
            help=f"Address to listen on [default: {DEFAULT_LISTEN}].",
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert", envvar="DUECARE_COLLECTOR_TLS_CERT", metavar="FILE", help="Serve HTTPS: certificate (PEM)."
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option("--tls-key", envvar="DUECARE_COLLECTOR_TLS_KEY", metavar="FILE", help="Its private key (PEM)."),
    ] = None,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-body-bytes",
            metavar="BYTES",
            min=1024,
            help=f"Largest request body [default: {DEFAULT_MAX_BODY_BYTES >> 20} MiB].",
        ),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", metavar="LEVEL", help="debug, info or warning [default: info].")
    ] = None,
    name: Annotated[
        str, typer.Option("--name", metavar="TEXT", help="How receipts name this collector [default: host name].")
    ] = "",
    agent_rate: Annotated[
        float,
        typer.Option("--agent-rate", metavar="N", min=0, help="Reports per minute per agent before 429 (0: no limit)."),
    ] = DEFAULT_AGENT_RATE,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", min=1, max=64, help="Worker processes (one per core).")
    ] = 1,
) -> None:
    """Run migrations, then serve the API: HTTPS with --tls-cert/--tls-key, else plain HTTP for a TLS proxy."""
    import uvicorn

    from duecare.collector.app import SETTINGS_ENV
    from duecare.collector.logs import configure_logging
    from duecare.console.app import create_app

    conf = _file_settings()
    host, port = _listen(listen or conf.listen or DEFAULT_LISTEN)
    cert, key = tls_cert or conf.tls_cert, tls_key or conf.tls_key
    _check_tls(cert, key)
    level = (log_level or conf.log_level or "info").lower()
    if level not in ("debug", "info", "warning", "error"):
        raise fail(f"--log-level {level!r}: give debug, info, warning or error")
    if cert is None and host not in ("127.0.0.1", "::1", "localhost"):
        warn(
            f"serving plain HTTP on {host}:{port}: agents' credentials would cross the network in clear; "
            "give --tls-cert/--tls-key, or listen on 127.0.0.1 behind a TLS reverse proxy"
        )
    settings = _settings(
        db,
        state_dir,
        max_body_bytes=max_body_bytes or conf.max_body_bytes or DEFAULT_MAX_BODY_BYTES,
        name=name or socket.gethostname(),
        agent_rate_per_minute=agent_rate,
    )
    log_config = configure_logging(level)
    database = _checked(settings, create=False)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": log_config,
        "log_level": level,
        "server_header": False,
        "ssl_certfile": str(cert) if cert else None,
        "ssl_keyfile": str(key) if key else None,
    }
    if workers == 1:
        uvicorn.run(create_app(settings, database=database), **common)
        database.dispose()
        return
    database.dispose()
    # Each worker process builds its own app (and engine) from the same settings.
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run("duecare.console.app:app_from_env", factory=True, workers=workers, **common)


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI document (committed as collector/openapi.json)."""
    from duecare.collector.app import create_app

    schema = create_app(CollectorSettings(database_url="sqlite://")).openapi()
    typer.echo(json.dumps(schema, indent=2, sort_keys=True))


def main() -> None:
    """``python -m duecare.collector``: the same command as ``duecare collector``."""
    sys.exit(run_app(app, sys.argv[1:], "duecare collector"))
