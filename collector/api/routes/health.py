"""Liveness (``/healthz``) and readiness (``/readyz``) for a load balancer or systemd.

Liveness says only that the process answers. Readiness checks what ingest needs: a write
transaction that the database accepts (a read-only, full or corrupt database fails it), the schema at
the shipped head, and free disk above ``min_free_disk_mb`` where a SQLite database lives.
"""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from duecare.collector.api.deps import State
from duecare.collector.db import migrate, preflight
from duecare.wire.api import Health, Readiness, ReadinessCheck

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers. Readiness (database, schema, disk) is ``/readyz``."""
    return Health(status="ok")


def _writable(state: State) -> ReadinessCheck:
    try:
        with state.db.write() as s:
            # A real write, committed (the one-row version table, which no ingest contends for):
            # a read-only, full or corrupt database refuses it.
            s.execute(text("UPDATE alembic_version SET version_num = version_num"))
        return ReadinessCheck(ok=True, detail="a write transaction committed")
    except SQLAlchemyError as exc:
        return ReadinessCheck(
            ok=False, detail=f"{type(exc.__cause__ or exc).__name__}: {str(exc).splitlines()[0][:200]}"
        )


def _migrations(state: State) -> ReadinessCheck:
    try:
        current, head = migrate.current_revision(state.db.engine), migrate.head_revision()
    except SQLAlchemyError as exc:
        return ReadinessCheck(ok=False, detail=f"cannot read the schema revision: {type(exc).__name__}")
    if current != head:
        return ReadinessCheck(ok=False, detail=f"schema at {current}, this collector needs {head}: run collector init")
    return ReadinessCheck(ok=True, detail=f"schema at {head}")


def _disk(state: State) -> ReadinessCheck:
    path = preflight.sqlite_path(str(state.db.engine.url))
    if path is None:
        return ReadinessCheck(ok=True, detail="not checked: the database is on a server")
    st = os.statvfs(path.parent)
    free_mb = st.f_bavail * st.f_frsize // (1024 * 1024)
    floor = state.settings.min_free_disk_mb
    return ReadinessCheck(ok=free_mb >= floor, detail=f"{free_mb} MiB free (needs {floor} MiB)")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the failing check says why"}},
)
def readyz(state: State) -> JSONResponse:
    """Ready to ingest: the database takes a write, the schema is current, the disk is not full."""
    checks = {
        "database_writable": _writable(state),
        "migrations_current": _migrations(state),
        "free_disk": _disk(state),
    }
    ready = all(c.ok for c in checks.values())
    body = Readiness(status="ready" if ready else "not_ready", **checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)
