"""``create_app(settings)``: the only way to get a collector app. Nothing is built at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import StatementError

from duecare.collector.api.limits import BodyLimitMiddleware
from duecare.collector.api.routes import changes, enroll, exports, health, reads, reports
from duecare.collector.db import errors as db_errors
from duecare.collector.db.gate import Turns
from duecare.collector.db.session import Database, make_engine
from duecare.collector.errors import CollectorError, Unauthorized
from duecare.collector.notary import Notary
from duecare.collector.ratelimit import AgentRateLimit
from duecare.collector.settings import CollectorSettings
from duecare.collector.state import AppState, product_version
from duecare.collector.webhooks import WebhookSender
from duecare.wire import SignedReport

log = logging.getLogger("duecare.collector")
API_VERSION = "1"
#: Allocations between two collections of the young generation (Python's default: 700).
GC_YOUNG = 10_000


def create_app(
    settings: CollectorSettings,
    *,
    database: Database | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the app; the engine is made here (or passed in) and disposed at shutdown.

    Migrations are not run here: ``collector init`` and ``collector serve`` run them first.
    """
    db = database or Database(
        make_engine(
            settings.database_url,
            sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s,
            lock_timeout_s=settings.lock_timeout_s,
        )
    )
    state = AppState(
        settings,
        db,
        WebhookSender(db, settings.webhooks, webhook_transport),
        product_version(),
        Notary(db, settings.name),
        AgentRateLimit(settings.agent_rate_per_minute, settings.agent_burst),
        light_lane=Turns(settings.sqlite_busy_timeout_s) if db.gate is not None else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What start-up made (modules, the app, caches) lives as long as the process: out of the
        # collector's sight, so each full collection walks only what requests made (bench/README.md).
        gc.collect()
        gc.freeze()
        # A report of 100 new findings leaves ~2,500 containers to the young generation, nearly all
        # freed without a cycle: collected every 700 allocations (the default), that was ~3.6 young
        # collections a report and 0.5 ms of its CPU; every 10,000, 0.04 ms (bench/README.md).
        gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
        sweeper = None
        if settings.webhooks.sweep_interval_s > 0:
            sweeper = asyncio.create_task(state.webhooks.run_sweeper())
        checkpointer = db.checkpointer()
        if checkpointer is not None:
            checkpointer.start()
        _app.state.checkpointer = checkpointer
        try:
            yield
        finally:
            if checkpointer is not None:
                checkpointer.stop()
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            if database is None:
                db.dispose()

    app = FastAPI(
        title="duecare collector",
        version=API_VERSION,
        summary="Stores signed agent reports, tracks findings per site, serves the MSP's nightly pull.",
        lifespan=lifespan,
    )
    app.state.collector = state
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    _error_handlers(app)
    for module in (health, enroll, reports, changes, reads, exports):
        app.include_router(module.router)
    _document_raw_bodies(app)
    return app


def _document_raw_bodies(app: FastAPI) -> None:
    """POST /v1/reports reads its body itself (parsed off the event loop): document its model here."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            body = SignedReport.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["SignedReport"] = body
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


#: ``collector serve --workers N`` hands each worker process its settings through this variable.
SETTINGS_ENV = "DUECARE_COLLECTOR_SETTINGS_JSON"


def app_from_env() -> FastAPI:
    """uvicorn's factory for worker processes (``collector serve --workers``)."""
    return create_app(CollectorSettings.model_validate_json(os.environ[SETTINGS_ENV]))


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CollectorError)
    async def _collector_error(_request: Request, exc: CollectorError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
        if exc.retry_after_s is not None:
            headers["Retry-After"] = str(exc.retry_after_s)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(StatementError)
    async def _database_error(request: Request, exc: StatementError) -> JSONResponse:
        # Never a 500 that a retry cannot fix: the request's own data → 4xx, the server's state → 503.
        mapped = db_errors.classify(exc)
        log.warning(
            "database error answered %d", mapped.status_code, extra={"path": request.url.path, "error": mapped.detail}
        )
        return await _collector_error(request, mapped)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field errors without the offending input: a request may carry a token or 8 MiB of JSON.
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse(
            {"detail": f"invalid request: {where}: {first['msg']}", "errors": jsonable_encoder(errors)},
            status_code=422,
        )
