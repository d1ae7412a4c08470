from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, BackgroundTasks, Response, status

from duecare.collector import ingest, queries
from duecare.collector.api.deps import CurrentAgent, CurrentReader, State
from duecare.collector.api.responses import problems
from duecare.collector.schemas import report_summary
from duecare.wire import Receipt, SignedReport
from duecare.wire.api import StoredReport

router = APIRouter(prefix="/v1", tags=["reports"])


@router.post(
    "/reports",
    response_model=Receipt,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": Receipt, "description": "Already received: the same receipt again"},
        **problems(401, 403, 409, 413, 422, 429, 503),
    },
)
def post_report(
    state: State, agent: CurrentAgent, body: SignedReport, response: Response, background: BackgroundTasks
) -> Receipt:
    """Store one signed report (idempotent on its id) and update the site's findings."""
    report = ingest.check_report(agent, body)
    result = ingest.ingest(state.db, agent, body, report)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    if result.webhook_ids:
        background.add_task(state.webhooks.deliver, result.webhook_ids)
    return state.notary.sign(result.receipt)


@router.get("/reports/{report_id}", response_model=StoredReport, responses=problems(401, 404, 422))
def get_report(state: State, reader: CurrentReader, report_id: uuid.UUID) -> StoredReport:
    """The report as signed, for anyone who wants to verify the evidence themselves."""
    with state.db.read() as s:
        row, agent = queries.stored_report(s, reader, str(report_id))
        return StoredReport.model_validate(
            {
                "summary": report_summary(row),
                "report": json.loads(row.raw_report),
                "signature": row.signature,
                "agent_public_key": agent.public_key,
                "receipt": state.notary.sign(ingest.receipt_of(row, duplicate=False)),
            }
        )
