"""Admin CLI of the collector (``duecare collector …``, ``python -m duecare.collector``).

Only parses arguments and calls the application. Secrets are printed once, as the LAST line of
the output, so scripts can take them with ``tail -n1``; ids and notes go before.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

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

app = typer.Typer(help="duecare collector: tenants, sites, enrollment, serving and pulling.", no_args_is_help=True)

DbOpt = Annotated[
    str | None,
    typer.Option("--db", envvar="DUECARE_COLLECTOR_DB", help="Database URL (sqlite:///… or postgresql://…)"),
]
StateDirOpt = Annotated[
    Path, typer.Option("--state-dir", envvar="DUECARE_COLLECTOR_STATE_DIR", help="Where the default SQLite file lives")
]
_TTL = re.compile(r"^(\d+)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _settings(db: str | None, state_dir: Path, **overrides: object) -> CollectorSettings:
    if db is None:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = default_database_url(state_dir)
    return CollectorSettings.model_validate({"database_url": db, **overrides})


def _database(settings: CollectorSettings) -> Database:
    return Database(
        make_engine(
            settings.database_url,
            sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s,
            lock_timeout_s=settings.lock_timeout_s,
        )
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


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
    try:
        preflight.check(settings.database_url, create=create)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    database = _database(settings)
    try:
        migrate.upgrade(database.engine)
    except (SQLAlchemyError, OSError) as exc:
        database.dispose()
        raise _fail(f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    return database


def _open(db: str | None, state_dir: Path) -> Database:
    return _checked(_settings(db, state_dir), create=False)


@app.command()
def init(db: DbOpt = None, state_dir: StateDirOpt = DEFAULT_STATE_DIR) -> None:
    """Create or upgrade the database schema."""
    database = _checked(_settings(db, state_dir), create=True)
    typer.echo(f"schema at revision {migrate.current_revision(database.engine)}")
    database.dispose()


@app.command("add-client")
def add_client(name: str, db: DbOpt = None, state_dir: StateDirOpt = DEFAULT_STATE_DIR) -> None:
    """Add a client (tenant); prints its id."""
    database = _open(db, state_dir)
    try:
        typer.echo(admin.add_client(database, name))
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()


def _mint(database: Database, client: str, site: str, ttl: str) -> None:
    minted = admin.mint_enrollment_token(database, client, site, parse_ttl(ttl))
    assert minted.expires_at is not None
    typer.echo(f"enrollment token {minted.id} expires {minted.expires_at.isoformat(timespec='seconds')} (single use):")
    typer.echo(minted.secret)


@app.command("add-site")
def add_site(
    client: Annotated[str, typer.Argument(help="Client name or id")],
    site: str,
    ttl: Annotated[str, typer.Option(help="Enrollment token lifetime (7d, 12h, 3600s)")] = "7d",
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Add a site to a client; prints the site id, then an enrollment token as the LAST line."""
    database = _open(db, state_dir)
    try:
        typer.echo(f"site {admin.add_site(database, client, site)}")
        _mint(database, client, site, ttl)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()


@app.command("add-token")
def add_token(
    client: str,
    site: str,
    ttl: Annotated[str, typer.Option(help="Token lifetime")] = "7d",
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Another enrollment token for an existing site (one per agent); the token is the LAST line."""
    database = _open(db, state_dir)
    try:
        _mint(database, client, site, ttl)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()


@app.command("add-reader")
def add_reader(
    client: Annotated[str | None, typer.Option("--client", help="The one client this key reads")] = None,
    all_clients: Annotated[
        bool, typer.Option("--all-clients", help="A key that reads EVERY client (the MSP's own)")
    ] = False,
    expires: Annotated[str | None, typer.Option("--expires", help="Lifetime (90d, 12h); none by default")] = None,
    label: Annotated[str, typer.Option(help="Who holds the key")] = "",
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """A read key for the pull API: --client NAME, or explicitly --all-clients; the key is the LAST line."""
    if (client is None) == (not all_clients):
        raise _usage("give --client NAME (one client) or --all-clients (every client), not both")
    ttl = None if expires is None else parse_ttl(expires)
    database = _open(db, state_dir)
    try:
        minted = admin.add_reader(database, client, label, all_clients=all_clients, ttl=ttl)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()
    until = "" if minted.expires_at is None else f", expires {minted.expires_at.isoformat(timespec='seconds')}"
    typer.echo(f"read key {minted.id} for {'client ' + client if client else 'ALL clients'}{until}:")
    typer.echo(minted.secret)


def _revoke(kind: str, fn: Callable[[Database, str], None], ident: str, db: str | None, state_dir: Path) -> None:
    database = _open(db, state_dir)
    try:
        fn(database, ident)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()
    typer.echo(f"{kind} {ident} revoked: refused (401) from its next request on")


@app.command("revoke-reader")
def revoke_reader(key_id: str, db: DbOpt = None, state_dir: StateDirOpt = DEFAULT_STATE_DIR) -> None:
    """Revoke a read key (its id, ``rk_…``, from ``keys``)."""
    _revoke("read key", admin.revoke_reader, key_id, db, state_dir)


@app.command("revoke-agent")
def revoke_agent(agent_id: str, db: DbOpt = None, state_dir: StateDirOpt = DEFAULT_STATE_DIR) -> None:
    """Revoke an agent's credential (``ag_…``); its stored reports stay as evidence."""
    _revoke("agent credential", admin.revoke_agent, agent_id, db, state_dir)


@app.command("revoke-token")
def revoke_token(token_id: str, db: DbOpt = None, state_dir: StateDirOpt = DEFAULT_STATE_DIR) -> None:
    """Revoke an unused enrollment token (``et_…``)."""
    _revoke("enrollment token", admin.revoke_token, token_id, db, state_dir)


@app.command("remove-client")
def remove_client(
    client: str,
    export: Annotated[Path, typer.Option("--export", help="Write the client's data here first (JSON, 0600)")],
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
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
        raise _fail(exc.detail) from exc
    except OSError as exc:
        raise _fail(f"cannot write the export {export}: {exc.strerror}; nothing was removed") from exc
    finally:
        database.dispose()
    typer.echo(f"client {client_id} removed with its sites, agents, keys and data")


@app.command("keys")
def keys(
    client: Annotated[str | None, typer.Option("--client", help="Only this client's")] = None,
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Every read key, agent credential and enrollment token, per client, with state and last use."""
    from datetime import UTC, datetime

    database = _open(db, state_dir)
    try:
        creds = admin.list_credentials(database, client)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
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
    client: Annotated[str | None, typer.Option("--client", help="Only reads of this client")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N entries")] = 100,
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """The audit of reads: which key read which client's data, on which endpoint, when (newest first)."""
    database = _open(db, state_dir)
    try:
        rows = admin.read_audit(database, client, limit)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
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
    client: Annotated[str | None, typer.Option("--client", help="Only this client's")] = None,
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Reports agents hold aside after repeated server errors (from their signed notices)."""
    database = _open(db, state_dir)
    try:
        rows = admin.held_reports(database, client)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()
    if not rows:
        typer.echo("no held reports")
    for r in rows:
        typer.echo(
            f"agent {r.agent_id} (site {r.site_id}) holds report {r.report_id} since "
            f"{r.held_since.isoformat(timespec='seconds')}: {r.reason}"
        )


@app.command("set-webhook")
def set_webhook(
    client: str,
    url: Annotated[str | None, typer.Argument(help="http(s) URL; omit to remove")] = None,
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Send new critical or KEV findings of a client to URL; the signing secret is the LAST line."""
    database = _open(db, state_dir)
    try:
        secret = admin.set_webhook(database, client, url)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()
    if secret is None:
        typer.echo("webhook removed")
    else:
        typer.echo("webhook set; HMAC-SHA256 secret for X-Duecare-Signature:")
        typer.echo(secret)


@app.command()
def serve(
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
    listen: Annotated[str, typer.Option(help="HOST:PORT")] = "127.0.0.1:8080",
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body")] = DEFAULT_MAX_BODY_BYTES,
    name: Annotated[str, typer.Option(help="How receipts name this collector")] = socket.gethostname(),
    agent_rate: Annotated[
        float, typer.Option(help="Reports per minute per agent before 429 (0: no limit)", min=0)
    ] = DEFAULT_AGENT_RATE,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (one per core: parsing and signatures use CPU)")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run migrations, then serve the API with uvicorn (put TLS in a reverse proxy in front)."""
    import uvicorn

    from duecare.collector.app import SETTINGS_ENV, create_app
    from duecare.collector.logs import configure_logging

    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise _fail("--listen takes HOST:PORT")
    settings = _settings(db, state_dir, max_body_bytes=max_body_bytes, name=name, agent_rate_per_minute=agent_rate)
    log_config = configure_logging(log_level)
    database = _checked(settings, create=False)
    common: dict[str, Any] = {
        "host": host.strip("[]"),
        "port": int(port),
        "log_config": log_config,
        "log_level": log_level,
        "server_header": False,
    }
    if workers == 1:
        uvicorn.run(create_app(settings, database=database), **common)
        database.dispose()
        return
    database.dispose()
    # Each worker process builds its own app (and engine) from the same settings.
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run("duecare.collector.app:app_from_env", factory=True, workers=workers, **common)


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI document (committed as collector/openapi.json)."""
    from duecare.collector.app import create_app

    schema = create_app(CollectorSettings(database_url="sqlite://")).openapi()
    typer.echo(json.dumps(schema, indent=2, sort_keys=True))
