"""Tenancy: MSP → clients → sites → agents, and the secrets that bind them.

Used by the admin CLI and by ``POST /v1/enroll``. Every secret is returned once and stored hashed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from duecare.collector.db.models import Agent, Client, EnrollmentToken, ReaderKey, Site
from duecare.collector.db.session import Database
from duecare.collector.errors import Conflict, NotFound, Unauthorized, Unprocessable
from duecare.collector.security import (
    AGENT_PREFIX,
    ENROLLMENT_PREFIX,
    READER_PREFIX,
    WEBHOOK_PREFIX,
    hash_secret,
    new_id,
    new_secret,
)
from duecare.wire import EnrollRequest, EnrollResponse
from duecare.wire.signatures import PublicKeyError, load_public_key

DEFAULT_TOKEN_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Minted:
    """A freshly made secret: ``secret`` is shown once and never stored."""

    id: str
    secret: str
    expires_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def find_client(s: Session, ref: str) -> Client:
    client = s.scalars(select(Client).where(or_(Client.id == ref, Client.name == ref))).first()
    if client is None:
        raise NotFound(f"no client {ref!r}")
    return client


def find_site(s: Session, client: Client, ref: str) -> Site:
    stmt = select(Site).where(Site.client_id == client.id, or_(Site.id == ref, Site.name == ref))
    site = s.scalars(stmt).first()
    if site is None:
        raise NotFound(f"no site {ref!r} for client {client.name!r}")
    return site


def add_client(db: Database, name: str) -> str:
    with db.write() as s:
        if s.scalars(select(Client.id).where(Client.name == name)).first() is not None:
            raise Conflict(f"client {name!r} exists")
        client = Client(id=new_id("cl_"), name=name, created_at=_now())
        s.add(client)
        return client.id


def add_site(db: Database, client_ref: str, name: str) -> str:
    with db.write() as s:
        client = find_client(s, client_ref)
        stmt = select(Site.id).where(Site.client_id == client.id, Site.name == name)
        if s.scalars(stmt).first() is not None:
            raise Conflict(f"site {name!r} exists for client {client.name!r}")
        site = Site(id=new_id("st_"), client_id=client.id, name=name, created_at=_now())
        s.add(site)
        return site.id


def mint_enrollment_token(db: Database, client_ref: str, site_ref: str, ttl: timedelta = DEFAULT_TOKEN_TTL) -> Minted:
    if ttl.total_seconds() <= 0:
        raise Unprocessable("ttl must be positive")
    token = new_secret(ENROLLMENT_PREFIX)
    with db.write() as s:
        site = find_site(s, find_client(s, client_ref), site_ref)
        now = _now()
        row = EnrollmentToken(
            id=new_id("et_"), site_id=site.id, token_hash=hash_secret(token), created_at=now, expires_at=now + ttl
        )
        s.add(row)
        return Minted(row.id, token, row.expires_at)


def add_reader(db: Database, client_ref: str | None, label: str = "") -> Minted:
    key = new_secret(READER_PREFIX)
    with db.write() as s:
        client_id = None if client_ref is None else find_client(s, client_ref).id
        row = ReaderKey(
            id=new_id("rk_"), key_hash=hash_secret(key), client_id=client_id, label=label, created_at=_now()
        )
        s.add(row)
        return Minted(row.id, key)


def set_webhook(db: Database, client_ref: str, url: str | None) -> str | None:
    """Set (or with None, remove) a client's webhook; returns the new signing secret."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise Unprocessable("webhook url must start with http:// or https://")
    secret = None if url is None else new_secret(WEBHOOK_PREFIX)
    with db.write() as s:
        client = find_client(s, client_ref)
        client.webhook_url, client.webhook_secret = url, secret
    return secret


def enroll(db: Database, req: EnrollRequest) -> EnrollResponse:
    """Exchange a site's single-use token for an agent credential bound to the agent's key."""
    try:
        load_public_key(req.public_key)
    except PublicKeyError as exc:
        raise Unprocessable(str(exc)) from exc
    credential = new_secret(AGENT_PREFIX)
    now = _now()
    with db.write() as s:
        token = s.scalars(select(EnrollmentToken).where(EnrollmentToken.token_hash == hash_secret(req.token))).first()
        if token is None:
            raise Unauthorized("enrollment token unknown")
        if token.expires_at <= now:
            raise Unauthorized("enrollment token expired")
        agent_id = new_id("ag_")
        # Claim the token atomically: of two concurrent enrollments only one updates the row.
        claimed = s.execute(
            update(EnrollmentToken)
            .where(EnrollmentToken.id == token.id, EnrollmentToken.used_at.is_(None))
            .values(used_at=now, agent_id=agent_id)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise Unauthorized("enrollment token already used")
        site = s.get_one(Site, token.site_id)
        s.add(
            Agent(
                id=agent_id,
                client_id=site.client_id,
                site_id=site.id,
                public_key=req.public_key,
                credential_hash=hash_secret(credential),
                hostname=req.hostname,
                enrolled_at=now,
                report_count=0,
            )
        )
        return EnrollResponse(agent_id=agent_id, site_id=site.id, client_id=site.client_id, credential=credential)
