"""The console's pages. Every handler first asks ``auth.viewer`` who is looking (and records the read);
anything outside the viewer's scope is answered exactly as a page that does not exist: 404."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from duecare.collector.api.routes import exports as api_exports
from duecare.collector.api.routes.reports import get_report
from duecare.collector.errors import NotFound
from duecare.collector.exports import ExportFormat
from duecare.console import auth, pages, session
from duecare.console.render import HEADERS, page
from duecare.console.site_report import site_report_html
from duecare.console.state import ConsoleState
from duecare.wire.api import FindingStatus

router = APIRouter(prefix="/console", include_in_schema=False)
STATIC = Path(__file__).parent / "static"
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
#: A sign-in form is a few hundred bytes; anything larger is not ours.
MAX_FORM_BYTES = 4096


def _secure(request: Request) -> bool:
    # Behind the README's nginx, uvicorn's proxy headers (trusted from 127.0.0.1) make this https.
    return request.url.scheme == "https"


def signed_out(request: Request, code: str, status_code: int = 200) -> HTMLResponse:
    why = auth.REASONS.get(code, auth.REASONS["signin"])
    resp = page(request, "signin.html.j2", status_code=status_code, why=why, title="Sign in")
    resp.delete_cookie(session.COOKIE, path="/console", secure=_secure(request), httponly=True, samesite="strict")
    return resp


async def _form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return {k: v[0] for k, v in parsed.items() if v}


@router.get("/static/console.css")
def stylesheet() -> FileResponse:
    return FileResponse(STATIC / "console.css", media_type="text/css", headers={"cache-control": "max-age=3600"})


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, reason: Annotated[str, Query(max_length=20)] = "signin") -> HTMLResponse:
    return page(request, "signin.html.j2", why=auth.REASONS.get(reason, auth.REASONS["signin"]), title="Sign in")


@router.post("/sign-in", response_model=None)
async def sign_in(request: Request) -> Response:
    """The read key arrives in the body only (never a URL); the cookie carries its id, not the key."""
    state = ConsoleState.of(request)
    form = await _form(request)
    try:
        key = auth.check_key(state, form.get("key", ""))
    except auth.SignedOut as exc:
        return signed_out(request, exc.code, status_code=401)
    expires = datetime.now(UTC) + state.session_ttl
    if key.expires_at is not None:
        expires = min(expires, key.expires_at)
    _, cookie = session.issue(state.mac_key(), key.id, expires)
    resp = RedirectResponse("/console/", status_code=303, headers=HEADERS)
    resp.set_cookie(
        session.COOKIE,
        cookie,
        max_age=max(int((expires - datetime.now(UTC)).total_seconds()), 1),
        path="/console",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return resp


@router.post("/sign-out", response_model=None)
async def sign_out(request: Request) -> Response:
    state = ConsoleState.of(request)
    form = await _form(request)
    sess = session.read(state.mac_key(), request.cookies.get(session.COOKIE), datetime.now(UTC))
    if sess is not None and not session.form_token_ok(state.mac_key(), sess, form.get("token")):
        return HTMLResponse("sign-out refused: the form token does not match this session", 403, headers=HEADERS)
    return signed_out(request, "signed-out")


@router.get("/", response_class=HTMLResponse)
def clients(
    request: Request,
    sort: Annotated[str, Query(max_length=20)] = "name",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    needs: Annotated[int, Query(ge=0, le=1)] = 0,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    viewer = auth.viewer(request)
    state = ConsoleState.of(request)
    with state.db.read() as s:
        data = pages.clients_page(
            s,
            viewer.scope,
            state.trends,
            sort=sort,
            descending=order == "desc",
            needs_action=bool(needs),
            number=page_no,
            grace=state.silent_grace,
            counts=state.counts,
        )
    return page(request, "clients.html.j2", v=viewer, p=data, title="Clients", sorts=pages.CLIENT_SORTS)


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client(request: Request, client_id: str, sites: PageNo = 1, obligations: PageNo = 1) -> HTMLResponse:
    viewer = auth.viewer(request, client_id=client_id)
    state = ConsoleState.of(request)
    with state.db.read() as s:
        data = pages.client_page(
            s,
            viewer.scope,
            state.trends,
            client_id,
            site_page=sites,
            obligation_page=obligations,
            grace=state.silent_grace,
            counts=state.counts,
        )
    return page(request, "client.html.j2", v=viewer, p=data, title=data.client.name)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site(
    request: Request,
    site_id: str,
    devices: PageNo = 1,
    findings: PageNo = 1,
    status: FindingStatus | None = None,
) -> HTMLResponse:
    viewer = auth.viewer(request, site_id=site_id)
    state = ConsoleState.of(request)
    with state.db.read() as s:
        data = pages.site_page(
            s,
            viewer.scope,
            site_id,
            asset_page=devices,
            finding_page=findings,
            status=status.value if status else None,
            grace=state.silent_grace,
            counts=state.counts,
        )
    return page(request, "site.html.j2", v=viewer, p=data, title=f"{data.site.name} ({data.client_name})")


@router.get("/sites/{site_id}/report.html", response_model=None)
def site_report(request: Request, site_id: str) -> Response:
    """The due-diligence report, by the report's renderer: a download with the report's own CSP."""
    viewer = auth.viewer(request, site_id=site_id)
    name, html = site_report_html(ConsoleState.of(request).collector, viewer.scope, site_id)
    return HTMLResponse(
        html,
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
        },
    )


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding(request: Request, finding_id: str, reports: PageNo = 1) -> HTMLResponse:
    viewer = auth.viewer(request)
    state = ConsoleState.of(request)
    with state.db.read() as s:
        data = pages.finding_page(s, viewer.scope, finding_id, report_page=reports)
    return page(request, "finding.html.j2", v=viewer, p=data, title=f"Finding {finding_id}: {data.finding.title}")


@router.get("/reports/{report_id}.json", response_model=None)
def signed_report(request: Request, report_id: str) -> Response:
    """The report exactly as the agent signed it, in the envelope ``duecare verify`` reads."""
    viewer = auth.viewer(request)
    try:
        wanted = uuid.UUID(report_id)
    except ValueError as exc:
        raise NotFound(f"no report {report_id!r}") from exc
    stored = get_report(ConsoleState.of(request).collector, viewer.scope, wanted)
    return JSONResponse(
        {"report": stored.report, "signature": stored.signature},
        headers={
            "content-disposition": f'attachment; filename="report-{wanted}.json"',
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
        },
    )


@router.get("/exports", response_class=HTMLResponse)
def exports(request: Request, sites: PageNo = 1) -> HTMLResponse:
    viewer = auth.viewer(request)
    state = ConsoleState.of(request)
    with state.db.read() as s:
        rows, pager, client_list = pages.export_sites(s, viewer.scope, sites)
    return page(
        request,
        "exports.html.j2",
        v=viewer,
        sites=rows,
        site_pager=pager,
        clients=client_list,
        formats=list(ExportFormat),
        title="Exports",
    )


@router.get("/exports/download", response_model=None)
def download(
    request: Request,
    kind: Annotated[str, Query(pattern="^(findings|obligations|changes)$")],
    format: ExportFormat = ExportFormat.JSON,
    client: Annotated[str | None, Query(max_length=32)] = None,
    site: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The API's own export endpoints, called with the viewer's scope: the same bytes as ``/v1/export``."""
    viewer = auth.viewer(request, client_id=client or None, site_id=site or None)
    state = ConsoleState.of(request).collector
    client, site = client or None, site or None
    if kind == "findings":
        resp = api_exports.export_findings(state, viewer.scope, format, client, site, None)
    elif kind == "obligations":
        resp = api_exports.export_obligations(state, viewer.scope, format, client, site, None)
    else:
        resp = api_exports.export_changes(state, viewer.scope, format, "0", client, site)
    suffix = "csv" if format is ExportFormat.CSV else "json"
    scope = client or viewer.scope.client_id or "all-clients"
    resp.headers["content-disposition"] = f'attachment; filename="duecare-{kind}-{scope}-{format.value}.{suffix}"'
    resp.headers["x-content-type-options"] = "nosniff"
    return resp
