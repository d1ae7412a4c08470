from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from duecare.collector import queries
from duecare.collector.api.deps import CurrentReader, State
from duecare.collector.api.responses import problems
from duecare.collector.api.routes.params import (
    AssetStatusParam,
    ClientParam,
    Cursor,
    FindingStatusParam,
    Limit,
    ObligationStatusParam,
    SiteParam,
)
from duecare.collector.db.models import AssetState, Client, Site
from duecare.collector.ids import Ids, Kind
from duecare.collector.schemas import asset_out, finding_out, obligation_out
from duecare.wire.api import (
    AssetsPage,
    ClientOut,
    ClientsList,
    FindingsPage,
    ObligationsPage,
    SiteOut,
)

router = APIRouter(prefix="/v1", tags=["pull"])


def hostnames(state: State, filters: queries.Filters) -> dict[tuple[str, str], str | None]:
    with state.db.read() as s:
        stmt = select(AssetState.site_id, AssetState.ip, AssetState.hostname).where(AssetState.hostname.is_not(None))
        if filters.client_id is not None:
            stmt = stmt.where(AssetState.client_id == filters.client_id)
        if filters.site_id is not None:
            stmt = stmt.where(AssetState.site_id == filters.site_id)
        return {(site, ip): host for site, ip, host in s.execute(stmt)}


@router.get("/clients", response_model=ClientsList, responses=problems(401))
def list_clients(state: State, reader: CurrentReader) -> ClientsList:
    """The clients and sites this key may read, with their names."""
    with state.db.read() as s:
        cstmt = select(Client).order_by(Client.name)
        sstmt = select(Site).order_by(Site.name)
        if reader.client_id is not None:
            cstmt, sstmt = cstmt.where(Client.id == reader.client_id), sstmt.where(Site.client_id == reader.client_id)
        sites: dict[str, list[SiteOut]] = {}
        for site in s.scalars(sstmt):
            sites.setdefault(site.client_id, []).append(SiteOut(id=site.id, name=site.name))
        return ClientsList(
            clients=[ClientOut(id=c.id, name=c.name, sites=sites.get(c.id, [])) for c in s.scalars(cstmt)]
        )


@router.get("/findings", response_model=FindingsPage, responses=problems(401, 404, 422))
def list_findings(
    state: State,
    reader: CurrentReader,
    client: ClientParam = None,
    site: SiteParam = None,
    status: FindingStatusParam = None,
    cursor: Cursor = "0",
    limit: Limit = 1000,
) -> FindingsPage:
    """Current state of every tracked finding, by finding id."""
    limit = min(limit, state.settings.max_page_size)
    with state.db.read() as s:
        filters = queries.resolve(s, reader, client, site)
        ids = Ids.of(s, filters.client_id)
        rows = queries.findings_after(s, filters, status, ids.read_cursor(Kind.CURSOR_FINDINGS, cursor), limit + 1)
    hosts = hostnames(state, filters)
    page = rows[:limit]
    out = [
        finding_out(r, hosts.get((r.site_id, r.ip)), public_id=ids.public(Kind.FINDING, r.client_id, r.id))
        for r in page
    ]
    more = len(rows) > limit
    return FindingsPage(findings=out, next_cursor=ids.cursor(Kind.CURSOR_FINDINGS, page[-1].id) if more else None)


@router.get("/assets", response_model=AssetsPage, responses=problems(401, 404, 422))
def list_assets(
    state: State,
    reader: CurrentReader,
    client: ClientParam = None,
    site: SiteParam = None,
    status: AssetStatusParam = None,
    cursor: Cursor = "0",
    limit: Limit = 1000,
) -> AssetsPage:
    limit = min(limit, state.settings.max_page_size)
    with state.db.read() as s:
        filters = queries.resolve(s, reader, client, site)
        ids = Ids.of(s, filters.client_id)
        rows = queries.assets_after(s, filters, status, ids.read_cursor(Kind.CURSOR_ASSETS, cursor), limit + 1)
        page = rows[:limit]
        out = [asset_out(r, public_id=ids.public(Kind.ASSET, r.client_id, r.id)) for r in page]
    more = len(rows) > limit
    return AssetsPage(assets=out, next_cursor=ids.cursor(Kind.CURSOR_ASSETS, page[-1].id) if more else None)


@router.get("/obligations", response_model=ObligationsPage, responses=problems(401, 404, 422))
def list_obligations(
    state: State,
    reader: CurrentReader,
    client: ClientParam = None,
    site: SiteParam = None,
    status: ObligationStatusParam = None,
    cursor: Cursor = "0",
    limit: Limit = 1000,
) -> ObligationsPage:
    limit = min(limit, state.settings.max_page_size)
    with state.db.read() as s:
        filters = queries.resolve(s, reader, client, site)
        ids = Ids.of(s, filters.client_id)
        after = ids.read_cursor(Kind.CURSOR_OBLIGATIONS, cursor)
        rows = queries.obligations_after(s, filters, status, after, limit + 1)
        page = rows[:limit]
        out = [obligation_out(r, public_id=ids.public(Kind.OBLIGATION, r.client_id, r.id)) for r in page]
    more = len(rows) > limit
    return ObligationsPage(
        obligations=out, next_cursor=ids.cursor(Kind.CURSOR_OBLIGATIONS, page[-1].id) if more else None
    )
