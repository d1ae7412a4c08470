"""Dependencies as typed aliases, so routes read like English (the fastapi template's style)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from duecare.collector.db.models import Agent, ReaderKey
from duecare.collector.errors import Unauthorized
from duecare.collector.ingest import AgentIdentity
from duecare.collector.queries import ReaderScope
from duecare.collector.security import AGENT_PREFIX, READER_PREFIX, hash_secret, secret_matches
from duecare.collector.state import AppState

_agent_bearer = HTTPBearer(
    scheme_name="AgentCredential", auto_error=False, description="Agent credential from POST /v1/enroll"
)
_reader_bearer = HTTPBearer(
    scheme_name="ReaderKey", auto_error=False, description="Read key from `collector add-reader`"
)


def get_state(request: Request) -> AppState:
    state = request.app.state.collector
    assert isinstance(state, AppState)
    return state


State = Annotated[AppState, Depends(get_state)]


def _token(creds: HTTPAuthorizationCredentials | None, prefix: str, what: str) -> str:
    if creds is None or not creds.credentials:
        raise Unauthorized(f"missing bearer {what} (Authorization: Bearer …)")
    if not creds.credentials.startswith(prefix):
        raise Unauthorized(f"bearer token is not {what}")
    return creds.credentials


def get_agent(
    state: State, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_agent_bearer)]
) -> AgentIdentity:
    token = _token(creds, AGENT_PREFIX, "an agent credential")
    with state.db.read() as s:
        agent = s.scalars(select(Agent).where(Agent.credential_hash == hash_secret(token))).first()
        if agent is None or not secret_matches(token, agent.credential_hash):
            raise Unauthorized("agent credential unknown or revoked: enroll again")
        return AgentIdentity(agent.id, agent.site_id, agent.client_id, agent.public_key)


def get_reader(
    state: State, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_reader_bearer)]
) -> ReaderScope:
    token = _token(creds, READER_PREFIX, "a read key")
    with state.db.read() as s:
        key = s.scalars(select(ReaderKey).where(ReaderKey.key_hash == hash_secret(token))).first()
        if key is None or not secret_matches(token, key.key_hash):
            raise Unauthorized("read key unknown or revoked")
        return ReaderScope(key.id, key.client_id)


CurrentAgent = Annotated[AgentIdentity, Depends(get_agent)]
CurrentReader = Annotated[ReaderScope, Depends(get_reader)]
