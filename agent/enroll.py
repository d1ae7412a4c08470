"""Enrollment: make the agent's key, trade the site token for a credential, keep both (0600)."""

from __future__ import annotations

import httpx

from duecare.agent.state import Enrollment, StateDir, StateError
from duecare.wire import EnrollRequest, EnrollResponse
from duecare.wire.signatures import public_key_b64


def enroll(state: StateDir, collector_url: str, token: str, hostname: str, client: httpx.Client) -> Enrollment:
    token = token.strip()
    if not token:
        raise StateError("enrollment token is empty")
    key = state.key(create=True)
    req = EnrollRequest(token=token, public_key=public_key_b64(key), hostname=hostname[:255])
    url = collector_url.rstrip("/") + "/v1/enroll"
    try:
        resp = client.post(url, json=req.model_dump(mode="json"))
    except httpx.HTTPError as exc:
        raise StateError(f"cannot reach the collector at {url}: {exc}") from exc
    if resp.status_code not in (200, 201):
        raise StateError(f"enrollment refused by the collector: HTTP {resp.status_code} {resp.text[:300]}")
    answer = EnrollResponse.model_validate_json(resp.content)
    enrollment = Enrollment(
        collector_url=collector_url.rstrip("/"),
        agent_id=answer.agent_id,
        site_id=answer.site_id,
        client_id=answer.client_id,
        credential=answer.credential,
        collector_key=answer.collector_key,
    )
    state.save_enrollment(enrollment)
    return enrollment
