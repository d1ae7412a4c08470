"""The collector's app with the console mounted under ``/console/``: what ``collector serve`` runs.

``duecare.collector.app.create_app`` builds the API alone (the collector never imports the report);
this adds the console, which needs both, one floor up.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from duecare.collector import app as collector_app
from duecare.collector.db.session import Database
from duecare.collector.errors import CollectorError
from duecare.collector.settings import CollectorSettings
from duecare.collector.state import AppState
from duecare.console import routes, session
from duecare.console.auth import SignedOut
from duecare.console.render import HEADERS, page
from duecare.console.state import ConsoleState
from duecare.console.trend import TrendCache

PREFIX = "/console"


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: A signed-in session lasts this long (never past the read key's own expiry).
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 8
    #: A site is shown silent once it is this late on its own reporting rhythm.
    silent_grace_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 6


def create_app(
    settings: CollectorSettings,
    *,
    database: Database | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    console: ConsoleSettings | None = None,
) -> FastAPI:
    app = collector_app.create_app(settings, database=database, webhook_transport=webhook_transport)
    mount(app, console or ConsoleSettings())
    return app


def mount(app: FastAPI, settings: ConsoleSettings) -> None:
    collector = app.state.collector
    assert isinstance(collector, AppState)
    app.state.console = ConsoleState(
        collector,
        timedelta(hours=settings.session_hours),
        timedelta(hours=settings.silent_grace_hours),
        TrendCache(collector.db),
    )
    app.include_router(routes.router)
    api_error = app.exception_handlers[CollectorError]
    api_invalid = app.exception_handlers[RequestValidationError]

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, exc: SignedOut) -> Response:
        resp = RedirectResponse(f"{PREFIX}/sign-in?reason={exc.code}", status_code=303, headers=HEADERS)
        if session.COOKIE in request.cookies:
            resp.delete_cookie(session.COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return resp

    @app.exception_handler(CollectorError)
    async def _error(request: Request, exc: CollectorError) -> Response:
        if not request.url.path.startswith(PREFIX + "/"):
            return await _call(api_error, request, exc)
        title = "Not found" if exc.status_code == 404 else "Error"
        return page(request, "error.html.j2", status_code=exc.status_code, detail=exc.detail, title=title)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith(PREFIX + "/"):
            return await _call(api_invalid, request, exc)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"][1:])
        return page(request, "error.html.j2", status_code=422, detail=f"{where}: {first['msg']}", title="Bad request")


async def _call(handler: Any, request: Request, exc: Exception) -> Response:
    """The API's own handler for a path outside the console (they are all async)."""
    resp = await handler(request, exc)
    assert isinstance(resp, Response)
    return resp


def app_from_env() -> FastAPI:
    """uvicorn's factory for worker processes (``collector serve --workers``)."""
    return create_app(CollectorSettings.model_validate_json(os.environ[collector_app.SETTINGS_ENV]))
