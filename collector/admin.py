"""Tenancy: MSP → clients → sites → agents, and the secrets that bind them.

Used by the admin CLI and by ``POST /v1/enroll``. Every secret is returned once and stored hashed.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from duecare.collector.db.models import (
    Agent,
    AssetState,
    ChainGap,
    Change,
    Client,
    DroppedReport,
    EnrollmentToken,
    FindingState,
    HeldReport,
    IdKey,
    ObligationState,
    ReadAudit,
    ReaderKey,
    Site,
    WebhookDelivery,
)
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.db.session import Database
from duecare.collector.errors import Conflict, NotFound, Unauthorized, Unprocessable
from duecare.collector.ids import Ids, Kind
from duecare.collector.security import (
    AGENT_PREFIX,
    ENROLLMENT_PREFIX,
    READER_PREFIX,
    WEBHOOK_PREFIX,
    hash_secret,
    new_id,
    new_secret,
)
from duecare.wire import EnrollRequest, EnrollResponse, Vantage
from duecare.wire.api import SitePublic
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
        # Its id key now, in the same transaction: reads never have to make one (collector/ids.py).
        s.add(IdKey(scope=client.id, secret=base64.b64encode(os.urandom(32)).decode(), created_at=_now()))
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


def add_reader(
    db: Database, client_ref: str | None, label: str = "", *, all_clients: bool = False, ttl: timedelta | None = None
) -> Minted:
    """A read key for one client, or for every client only when asked for explicitly (least privilege)."""
    if (client_ref is None) == (not all_clients):
        raise Unprocessable("a read key is for one client (--client) or, explicitly, for all clients (--all-clients)")
    if ttl is not None and ttl.total_seconds() <= 0:
        raise Unprocessable("expiry must be in the future")
    key = new_secret(READER_PREFIX)
    with db.write() as s:
        client_id = None if client_ref is None else find_client(s, client_ref).id
        now = _now()
        row = ReaderKey(
            id=new_id("rk_"),
            key_hash=hash_secret(key),
            client_id=client_id,
            label=label,
            created_at=now,
            expires_at=None if ttl is None else now + ttl,
        )
        s.add(row)
        return Minted(row.id, key, row.expires_at)


def revoke_reader(db: Database, key_id: str) -> None:
    with db.write() as s:
        row = s.get(ReaderKey, key_id)
        if row is None:
            raise NotFound(f"no read key {key_id!r}")
        if row.revoked_at is None:
            row.revoked_at = _now()


def revoke_agent(db: Database, agent_id: str) -> None:
    """The agent's credential gets 401 from its next request on; its reports stay as evidence."""
    with db.write() as s:
        row = s.get(Agent, agent_id)
        if row is None:
            raise NotFound(f"no agent {agent_id!r}")
        if row.revoked_at is None:
            row.revoked_at = _now()


def revoke_token(db: Database, token_id: str) -> None:
    with db.write() as s:
        row = s.get(EnrollmentToken, token_id)
        if row is None:
            raise NotFound(f"no enrollment token {token_id!r}")
        if row.used_at is not None:
            raise Conflict(f"token {token_id} was already used by agent {row.agent_id}: revoke that agent instead")
        if row.revoked_at is None:
            row.revoked_at = _now()


@dataclass(frozen=True)
class Credential:
    kind: str  # "reader" | "agent" | "token"
    id: str
    client: str
    site: str | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def list_credentials(db: Database, client_ref: str | None = None) -> list[Credential]:
    """Every read key, agent credential and enrollment token, per client, with its last use."""
    out: list[Credential] = []
    with db.read() as s:
        client_id = None if client_ref is None else find_client(s, client_ref).id
        names = {c.id: c.name for c in s.scalars(select(Client))}
        sites = {st.id: st for st in s.scalars(select(Site))}
        for k in s.scalars(select(ReaderKey).order_by(ReaderKey.created_at)):
            if client_id is not None and k.client_id not in (client_id, None):
                continue
            client = "ALL CLIENTS" if k.client_id is None else names.get(k.client_id, k.client_id)
            out.append(
                Credential(
                    "reader", k.id, client, None, k.label, k.created_at, k.expires_at, k.revoked_at, k.last_used_at
                )
            )
        for a in s.scalars(select(Agent).order_by(Agent.enrolled_at)):
            if client_id is not None and a.client_id != client_id:
                continue
            site = sites[a.site_id].name if a.site_id in sites else a.site_id
            out.append(
                Credential(
                    "agent",
                    a.id,
                    names.get(a.client_id, a.client_id),
                    site,
                    a.hostname,
                    a.enrolled_at,
                    a.expires_at,
                    a.revoked_at,
                    a.last_used_at,
                )
            )
        for t in s.scalars(select(EnrollmentToken).order_by(EnrollmentToken.created_at)):
            st = sites.get(t.site_id)
            if st is None or (client_id is not None and st.client_id != client_id):
                continue
            used = f"used by {t.agent_id}" if t.used_at is not None else "unused"
            out.append(
                Credential(
                    "token", t.id, names.get(st.client_id, st.client_id), st.name, used, t.created_at,
                    t.expires_at, t.revoked_at, t.used_at,
                )
            )  # fmt: skip
    return out


def remove_client(db: Database, client_ref: str) -> str:
    """Delete a client and everything it owns (export it first: ``duecare pull`` with its key)."""
    with db.write() as s:
        client = find_client(s, client_ref)
        cid = client.id
        agent_ids = list(s.scalars(select(Agent.id).where(Agent.client_id == cid)))
        site_ids = list(s.scalars(select(Site.id).where(Site.client_id == cid)))
        for model in (
            WebhookDelivery, Change, FindingState, AssetState, ObligationState, ChainGap, DroppedReport,
            HeldReport, ReportRow, ReadAudit,
        ):  # fmt: skip
            s.execute(delete(model).where(model.client_id == cid))
        if site_ids:
            s.execute(delete(EnrollmentToken).where(EnrollmentToken.site_id.in_(site_ids)))
        if agent_ids:
            s.execute(delete(Agent).where(Agent.id.in_(agent_ids)))
        s.execute(delete(ReaderKey).where(ReaderKey.client_id == cid))
        s.execute(delete(Site).where(Site.client_id == cid))
        s.execute(delete(IdKey).where(IdKey.scope == cid))  # its opaque ids can no longer be read back
        s.execute(delete(Client).where(Client.id == cid))
        return cid


def convert_cursor(db: Database, old: str, client_ref: str | None) -> str:
    """The opaque cursor (collector/ids.py) of a numeric ``duecare pull`` cursor of a collector before
    0006, for the client's key (``client_ref``) or the all-clients key (None): the next pull goes on
    exactly where the old one stopped. The MSP runs it (it reads the database): a reader cannot."""
    if not old.isdigit() or len(old) > 18:
        raise Unprocessable(f"{old[:40]!r} is not a numeric cursor of an older collector")
    with db.read() as s:
        client_id = None if client_ref is None else find_client(s, client_ref).id
    return Ids.of(db.engine, client_id).cursor(Kind.CURSOR_CHANGES, int(old))


def set_webhook(db: Database, client_ref: str, url: str | None) -> str | None:
    """Set (or with None, remove) a client's webhook; returns the new signing secret."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise Unprocessable("webhook url must start with http:// or https://")
    secret = None if url is None else new_secret(WEBHOOK_PREFIX)
    with db.write() as s:
        client = find_client(s, client_ref)
        client.webhook_url, client.webhook_secret = url, secret
    return secret


@dataclass(frozen=True)
class PublicDeclaration:
    site_id: str
    addresses: tuple[str, ...]
    authorized_by: str
    authorized_at: datetime


def set_site_public(
    db: Database, client_ref: str, site_ref: str, addresses: Sequence[str], authorized_by: str
) -> PublicDeclaration:
    """Declare a site's public addresses (replacing the old list; none clears it), with who authorised it.

    Single addresses only, global unicast: an agent with internet vantage scans exactly these, so a
    range, a private address or a typo must not slip in (issue 14).
    """
    who = authorized_by.strip()
    if not who:
        raise Unprocessable("--authorized-by is required: who authorised scanning these addresses from the internet")
    clean: list[str] = []
    for raw in addresses:
        try:
            addr = ipaddress.ip_address(raw.strip())
        except ValueError as exc:
            raise Unprocessable(f"{raw!r} is not a single IP address (declare each public address by itself)") from exc
        if (addr.is_private and not _documentation(addr)) or addr.is_multicast or addr.is_unspecified:
            raise Unprocessable(f"{addr} is not a public address; declare the site's internet-facing addresses")
        if str(addr) not in clean:
            clean.append(str(addr))
    if len(clean) > MAX_PUBLIC_ADDRESSES:
        raise Unprocessable(f"{len(clean)} addresses; a site declares at most {MAX_PUBLIC_ADDRESSES}")
    now = _now()
    with db.write() as s:
        site = find_site(s, find_client(s, client_ref), site_ref)
        site.public_addresses = clean or None
        site.public_authorized_by = who[:200]
        site.public_authorized_at = now
        return PublicDeclaration(site.id, tuple(clean), who[:200], now)


def site_public(db: Database, site_id: str, vantage: str) -> SitePublic:
    with db.read() as s:
        site = s.get_one(Site, site_id)
        return SitePublic(
            site_id=site.id,
            addresses=list(site.public_addresses or []),
            authorized_by=site.public_authorized_by,
            authorized_at=site.public_authorized_at,
            vantage=Vantage(vantage),
        )


#: RFC 5737 documentation ranges count as public here: they stand for the internet in examples and the lab.
_DOC_NETS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
MAX_PUBLIC_ADDRESSES = 256


def _documentation(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(addr in n for n in _DOC_NETS if n.version == addr.version)


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
        if token.revoked_at is not None:
            raise Unauthorized("enrollment token revoked")
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
                vantage=req.vantage.value,
            )
        )
        return EnrollResponse(agent_id=agent_id, site_id=site.id, client_id=site.client_id, credential=credential)


def read_audit(db: Database, client_ref: str | None, limit: int) -> list[ReadAudit]:
    """Newest first; a client's view includes the all-clients key's reads that named it."""
    with db.read() as s:
        stmt = select(ReadAudit).order_by(ReadAudit.id.desc()).limit(limit)
        if client_ref is not None:
            stmt = stmt.where(ReadAudit.client_id == find_client(s, client_ref).id)
        return list(s.scalars(stmt))


def held_reports(db: Database, client_ref: str | None) -> list[HeldReport]:
    """Reports agents told us they hold aside after repeated server errors (signed notices)."""
    with db.read() as s:
        stmt = select(HeldReport).order_by(HeldReport.held_since)
        if client_ref is not None:
            stmt = stmt.where(HeldReport.client_id == find_client(s, client_ref).id)
        return list(s.scalars(stmt))
