from __future__ import annotations

from fastapi import APIRouter, status

from duecare.collector import admin
from duecare.collector.api.deps import CurrentAgent, State
from duecare.collector.api.responses import problems
from duecare.wire import EnrollRequest, EnrollResponse
from duecare.wire.api import SitePublic

router = APIRouter(prefix="/v1", tags=["agents"])


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 413, 422),
)
def enroll(state: State, body: EnrollRequest) -> EnrollResponse:
    """Exchange a site's single-use, expiring enrollment token for an agent credential."""
    answer = admin.enroll(state.db, body)
    return answer.model_copy(update={"collector_key": state.notary.public_key()})


@router.get("/site/public", response_model=SitePublic, responses=problems(401))
def site_public(state: State, agent: CurrentAgent) -> SitePublic:
    """The calling agent's site's declared public addresses: an agent with internet vantage fetches
    them every cycle and scans nothing else."""
    return admin.site_public(state.db, agent.site_id, agent.vantage)
