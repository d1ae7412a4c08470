from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from duecare.collector.api.deps import State
from duecare.wire.api import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(state: State) -> Health:
    """Liveness plus a round trip to the database."""
    with state.db.read() as s:
        s.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
