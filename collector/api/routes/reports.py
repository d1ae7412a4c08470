from __future__ import annotations

import json
import uuid
from contextlib import nullcontext

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from duecare.collector import exact_json, ingest, queries
from duecare.collector.api.deps import AgentBearer, CurrentReader, State, agent_token, lookup_agent
from duecare.collector.api.responses import problems
from duecare.collector.api.routes.params import ClientParam
from duecare.collector.errors import TooManyRequests, Unprocessable
from duecare.collector.ratelimit import AgentRateLimit
from duecare.collector.schemas import report_summary
from duecare.collector.state import AppState
from duecare.wire import Receipt, SignedReport
from duecare.wire.api import StoredReport

router = APIRouter(prefix="/v1", tags=["reports"])
#: Bodies above this go through the heavy lane (a /24's nightly report is well under it).
HEAVY_BYTES = 1024 * 1024

_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignedReport"}}},
    }
}


def _parse(raw: bytes) -> tuple[SignedReport, bytes]:
    """The body, and the canonical bytes of its report (``exact_json``: what its signature is over)."""
    try:
        body = exact_json.loads_exact(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested past the parser
        raise Unprocessable(f"invalid request: body is not JSON ({str(exc)[:200]})") from exc
    try:
        signed = SignedReport.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Unprocessable(f"invalid request: body.{where}: {first['msg']}") from exc
    try:
        return signed, exact_json.canonical_bytes_exact(signed.report)
    except (TypeError, ValueError, RecursionError) as exc:
        raise Unprocessable(f"report: cannot be serialised canonically ({str(exc)[:200]})") from exc


@router.post(
    "/reports",
    response_model=Receipt,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_BODY,
    responses={
        200: {"model": Receipt, "description": "Already received: the same receipt again"},
        **problems(401, 403, 409, 413, 422, 429, 503),
    },
)
async def post_report(state: State, creds: AgentBearer, request: Request, background: BackgroundTasks) -> Response:
    """Store one signed report (idempotent on its id) and update the site's findings.

    The body is read here and everything else (parse, signature, validation, the database) runs in
    the thread pool: a report of a /16 never holds the event loop, so other requests keep flowing."""
    # One thread-pool hop does it all (credential, rate limit, parse, checks, database, signed
    # receipt): each hop costs a thread hand-off both ways. The body is already in memory
    # (BodyLimitMiddleware buffers it), so reading it before the rate limit costs nothing.
    token = agent_token(creds)
    raw = await request.body()
    limits = ingest.Limits(state.settings.max_findings_per_report, state.settings.max_assets_per_report)

    def work() -> tuple[ingest.IngestResult, bytes]:
        agent = lookup_agent(state, token)
        wait = state.rate_limit.take(agent.id)
        if wait is not None:
            raise TooManyRequests(
                f"agent {agent.id} posts faster than {state.settings.agent_rate_per_minute:g} reports a minute; "
                "retry after Retry-After seconds",
                retry_after_s=AgentRateLimit.header(wait),
            )
        if len(raw) > HEAVY_BYTES:
            # One large report at a time per process: parsing and validating tens of thousands of
            # findings holds the interpreter, and small posts of other clients must keep flowing.
            with state.heavy_lane:
                result = _store(state, agent, raw, limits)
        else:
            # SQLite: small ones one at a time too, taking turns by client. Two threads of one process
            # sharing the interpreter cost each other CPU (~10-25 % more per report, bench/README.md)
            # and SQLite writes one at a time anyway; a worker process per core keeps the cores busy.
            # (PostgreSQL: not so; a thread waiting on the server lets another one run.)
            with state.light_lane.hold(agent.client_id) if state.light_lane is not None else nullcontext():
                result = _store(state, agent, raw, limits)
        # Serialised here, as FastAPI would have done for ``response_model=Receipt`` (same bytes).
        return result, state.notary.sign(result.receipt).model_dump_json().encode()

    result, receipt = await run_in_threadpool(work)
    if result.webhook_ids:
        background.add_task(state.webhooks.deliver, result.webhook_ids)
    return Response(
        receipt,
        status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        media_type="application/json",
        background=background,
    )


def _store(state: AppState, agent: ingest.AgentIdentity, raw: bytes, limits: ingest.Limits) -> ingest.IngestResult:
    body, payload = _parse(raw)
    return ingest.ingest(state.db, agent, body, ingest.check_report(agent, body, limits, payload))


@router.get("/reports/{report_id}", response_model=StoredReport, responses=problems(401, 404, 422))
def get_report(state: State, reader: CurrentReader, report_id: uuid.UUID, client: ClientParam = None) -> StoredReport:
    """The report as signed, for anyone who wants to verify the evidence themselves.

    Report ids are unique per client: the all-clients key may need ``client`` to say whose."""
    with state.db.read() as s:
        row, agent = queries.stored_report(s, reader, str(report_id), client)
        return StoredReport.model_validate(
            {
                "summary": report_summary(row),
                "report": json.loads(row.raw_report),
                "signature": row.signature,
                "agent_public_key": agent.public_key,
                "receipt": state.notary.sign(ingest.receipt_of(row, duplicate=False)),
            }
        )
