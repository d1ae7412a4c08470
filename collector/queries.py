"""Reads for the MSP side, always through a ``ReaderScope``: a client's key sees only that client.

Asking for another client's data answers 404, exactly as for a client that does not exist, so a
key learns nothing about other tenants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.orm import Session

from duecare.collector.db.models import (
    Agent,
    AssetState,
    Change,
    Client,
    FindingState,
    ObligationState,
    Report,
    Site,
)
from duecare.collector.errors import NotFound, Unprocessable
from duecare.collector.ids import Codec, Ids, public_feed_entry

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class ReaderScope:
    key_id: str
    #: None: the MSP's key, which reads every client.
    client_id: str | None


@dataclass(frozen=True)
class Filters:
    client_id: str | None = None
    site_id: str | None = None


def resolve(s: Session, scope: ReaderScope, client: str | None, site: str | None) -> Filters:
    """Check the requested client/site against the scope; 404 for anything out of reach."""
    if scope.client_id is not None and client is not None and client != scope.client_id:
        raise NotFound(f"no client {client!r}")
    client_id = client if client is not None else scope.client_id
    if client is not None and s.get(Client, client) is None:
        raise NotFound(f"no client {client!r}")
    if site is not None:
        row = s.get(Site, site)
        if row is None or (client_id is not None and row.client_id != client_id):
            raise NotFound(f"no site {site!r}")
    return Filters(client_id, site)


def _scoped(stmt: S, model: Any, f: Filters) -> S:
    if f.client_id is not None:
        stmt = stmt.where(model.client_id == f.client_id)
    if f.site_id is not None:
        stmt = stmt.where(model.site_id == f.site_id)
    return stmt


def changes_head(s: Session, f: Filters, cursor: int) -> tuple[int, int]:
    """The newest change id in reach (or ``cursor`` when nothing is newer) and how many lie after ``cursor``."""
    stmt = _scoped(select(func.max(Change.id), func.count(Change.id)), Change, f).where(Change.id > cursor)
    head, count = s.execute(stmt).one()
    return (int(head) if head is not None else cursor), int(count)


def changes_after_raw(
    s: Session, f: Filters, cursor: int, limit: int, until: int | None = None
) -> list[dict[str, Any]]:
    """Feed entries as JSON-ready dicts: the payloads were built from ``ChangePayload`` at ingest."""
    stmt = _scoped(select(Change), Change, f).where(Change.id > cursor)
    if until is not None:
        stmt = stmt.where(Change.id <= until)
    stmt = stmt.order_by(Change.id).limit(limit)
    return [
        (
            {
                "id": c.id,
                "kind": c.kind,
                "client_id": c.client_id,
                "site_id": c.site_id,
                "subject": c.subject,
                "report_id": c.report_id,
                "created_at": c.created_at.isoformat().replace("+00:00", "Z"),
                **c.payload,
            }
        )
        for c in s.scalars(stmt)
    ]


def feed_page(f: Filters, cursor: int, limit: int, until: int | None = None) -> Any:
    """The next ``limit`` feed entries after ``cursor`` (up to ``until``), payloads as stored text."""
    t = Change.__table__
    payload = cast(t.c.payload, Text)
    stmt = select(t.c.id, t.c.kind, t.c.client_id, t.c.site_id, t.c.subject, t.c.report_id, t.c.created_at, payload)
    stmt = _scoped(stmt, t.c, f).where(t.c.id > cursor)
    if until is not None:
        stmt = stmt.where(t.c.id <= until)
    return stmt.order_by(t.c.id).limit(limit)


def changes_after_json(
    s: Session, f: Filters, cursor: int, limit: int, ids: Ids, until: int | None = None
) -> tuple[list[bytes], int | None]:
    """Feed entries as JSON text, each spliced from the stored payload, with public ids
    (``collector/ids.py``: the carried row's id is replaced in the text, the payload is not parsed;
    the pull of 100,000 changes is mostly this); returns the entries and the last internal id."""
    out: list[bytes] = []
    last = None
    codecs: dict[str, Codec] = {}
    for cid, kind, client, site, subject, report, created, body in s.execute(feed_page(f, cursor, limit, until)):
        codec = codecs.get(client) or codecs.setdefault(client, ids.keys.codec(client))
        head = {
            "id": cid,
            "kind": kind,
            "client_id": client,
            "site_id": site,
            "subject": subject,
            "report_id": report,
            "created_at": created.isoformat().replace("+00:00", "Z"),
        }
        out.append(public_feed_entry(codec, head, body.strip().encode()))
        last = cid
    return out, last


def findings_after(s: Session, f: Filters, status: str | None, after_id: int, limit: int) -> Sequence[FindingState]:
    stmt = _scoped(select(FindingState), FindingState, f).where(FindingState.id > after_id)
    if status is not None:
        stmt = stmt.where(FindingState.status == status)
    return s.scalars(stmt.order_by(FindingState.id).limit(limit)).all()


def assets_after(s: Session, f: Filters, status: str | None, after_id: int, limit: int) -> Sequence[AssetState]:
    stmt = _scoped(select(AssetState), AssetState, f).where(AssetState.id > after_id)
    if status is not None:
        stmt = stmt.where(AssetState.status == status)
    return s.scalars(stmt.order_by(AssetState.id).limit(limit)).all()


def obligations_after(
    s: Session, f: Filters, status: str | None, after_id: int, limit: int
) -> Sequence[ObligationState]:
    stmt = _scoped(select(ObligationState), ObligationState, f).where(ObligationState.id > after_id)
    if status is not None:
        stmt = stmt.where(ObligationState.status == status)
    return s.scalars(stmt.order_by(ObligationState.id).limit(limit)).all()


def stored_report(s: Session, scope: ReaderScope, report_id: str, client: str | None = None) -> tuple[Report, Agent]:
    """A report id is unique per client only: a client's key reads its own; the all-clients key
    names the client when two clients' agents chose the same id."""
    f = resolve(s, scope, client, None)
    stmt = select(Report).where(Report.id == report_id)
    if f.client_id is not None:
        stmt = stmt.where(Report.client_id == f.client_id)
    rows = s.scalars(stmt.limit(2)).all()
    if not rows:
        raise NotFound(f"no report {report_id!r}")
    if len(rows) > 1:
        raise Unprocessable(f"report id {report_id!r} is used by more than one client: give ?client=")
    return rows[0], s.get_one(Agent, rows[0].agent_id)


def client_names(s: Session, f: Filters) -> dict[str, str]:
    stmt = select(Client.id, Client.name)
    if f.client_id is not None:
        stmt = stmt.where(Client.id == f.client_id)
    return {i: n for i, n in s.execute(stmt)}


def site_names(s: Session, f: Filters) -> dict[str, str]:
    stmt = select(Site.id, Site.name)
    if f.client_id is not None:
        stmt = stmt.where(Site.client_id == f.client_id)
    return {i: n for i, n in s.execute(stmt)}
