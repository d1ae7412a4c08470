"""Dependencies as typed aliases, so routes read like English (the fastapi template's style)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select

from duecare.collector.db.models import Agent, ReadAudit, ReaderKey
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


async def get_state(request: Request) -> AppState:
    """Async on purpose: a plain ``def`` dependency costs a thread-pool hop on every request."""
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


def _usable(revoked_at: datetime | None, expires_at: datetime | None, what: str) -> None:
    if revoked_at is not None:
        raise Unauthorized(f"{what} revoked")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise Unauthorized(f"{what} expired")


AgentBearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_agent_bearer)]


def agent_token(creds: HTTPAuthorizationCredentials | None) -> str:
    """The agent credential of the header (401 when missing or not one): no database, safe on the loop."""
    return _token(creds, AGENT_PREFIX, "an agent credential")


def get_agent(state: State, creds: AgentBearer) -> AgentIdentity:
    return lookup_agent(state, agent_token(creds))


_AGENTS: Any = Agent.__table__
#: One statement, built once: every report's post runs it (an ORM session cost 4x as much).
_AGENT_BY_CREDENTIAL = select(
    _AGENTS.c.id,
    _AGENTS.c.site_id,
    _AGENTS.c.client_id,
    _AGENTS.c.public_key,
    _AGENTS.c.vantage,
    _AGENTS.c.revoked_at,
    _AGENTS.c.expires_at,
    _AGENTS.c.credential_hash,
).where(_AGENTS.c.credential_hash == bindparam("hash"))


def lookup_agent(state: AppState, token: str) -> AgentIdentity:
    """The agent of ``token``, read on every request (a revocation holds from the next one): 401 if none.

    Blocking; POST /v1/reports calls it in the same thread-pool hop as its work."""
    agent = state.db.first(_AGENT_BY_CREDENTIAL, {"hash": hash_secret(token)})
    if agent is None or not secret_matches(token, agent.credential_hash):
        raise Unauthorized("agent credential unknown: enroll again")
    _usable(agent.revoked_at, agent.expires_at, "agent credential")
    return AgentIdentity(agent.id, agent.site_id, agent.client_id, agent.public_key, agent.vantage)


_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _param_id(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value is not None and _ID.match(value) else None


def get_reader(
    state: State, request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_reader_bearer)]
) -> ReaderScope:
    """The key's scope; every use is written to the audit of reads (key, client, endpoint, time)."""
    token = _token(creds, READER_PREFIX, "a read key")
    now = datetime.now(UTC)
    with state.db.write() as s:
        key = s.scalars(select(ReaderKey).where(ReaderKey.key_hash == hash_secret(token))).first()
        if key is None or not secret_matches(token, key.key_hash):
            raise Unauthorized("read key unknown")
        _usable(key.revoked_at, key.expires_at, "read key")
        route = request.scope.get("route")
        endpoint = getattr(route, "path", None) or request.url.path
        s.add(
            ReadAudit(
                key_id=key.id,
                client_id=_param_id(request, "client") or key.client_id,
                site_id=_param_id(request, "site"),
                endpoint=str(endpoint)[:200],
                at=now,
            )
        )
        key.last_used_at = now
        return ReaderScope(key.id, key.client_id)


CurrentAgent = Annotated[AgentIdentity, Depends(get_agent)]
CurrentReader = Annotated[ReaderScope, Depends(get_reader)]
