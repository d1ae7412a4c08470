"""Admin CLI of the collector (``duecare collector …``, ``python -m duecare.collector``).

Only parses arguments and calls the application. Secrets are printed once, as the LAST line of
the output, so scripts can take them with ``tail -n1``; ids and notes go before.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from duecare.collector import admin
from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from duecare.collector.errors import CollectorError
from duecare.collector.settings import (
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
    return Database(make_engine(settings.database_url, sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def parse_ttl(text: str) -> timedelta:
    m = _TTL.match(text.strip())
    if m is None:
        raise typer.BadParameter("use a number with s, m, h, d or w (e.g. 7d, 12h)")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def _open(db: str | None, state_dir: Path) -> Database:
    database = _database(_settings(db, state_dir))
    migrate.upgrade(database.engine)
    return database


@app.command()
def init(db: DbOpt = None, state_dir: StateDirOpt = DEFAULT_STATE_DIR) -> None:
    """Create or upgrade the database schema."""
    database = _database(_settings(db, state_dir))
    migrate.upgrade(database.engine)
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
    typer.echo(f"enrollment token expires {minted.expires_at.isoformat(timespec='seconds')} (single use):")
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
    client: Annotated[str | None, typer.Option("--client", help="Limit the key to one client")] = None,
    label: Annotated[str, typer.Option(help="Who holds the key")] = "",
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """A read key for the pull API (all clients, or one with --client); the key is the LAST line."""
    database = _open(db, state_dir)
    try:
        minted = admin.add_reader(database, client, label)
    except CollectorError as exc:
        raise _fail(exc.detail) from exc
    finally:
        database.dispose()
    typer.echo(f"read key {minted.id} for {'client ' + client if client else 'all clients'}:")
    typer.echo(minted.secret)


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
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run migrations, then serve the API with uvicorn (put TLS in a reverse proxy in front)."""
    import uvicorn

    from duecare.collector.app import create_app
    from duecare.collector.logs import configure_logging

    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise _fail("--listen takes HOST:PORT")
    settings = _settings(db, state_dir, max_body_bytes=max_body_bytes)
    log_config = configure_logging(log_level)
    database = _database(settings)
    migrate.upgrade(database.engine)
    uvicorn.run(
        create_app(settings, database=database),
        host=host.strip("[]"),
        port=int(port),
        log_config=log_config,
        log_level=log_level,
        server_header=False,
    )
    database.dispose()


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI document (committed as collector/openapi.json)."""
    from duecare.collector.app import create_app

    schema = create_app(CollectorSettings(database_url="sqlite://")).openapi()
    typer.echo(json.dumps(schema, indent=2, sort_keys=True))
