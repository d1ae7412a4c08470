"""Tables. Every tenant-owned row carries ``client_id`` so every read can be scoped by it.

The API never returns these objects: ``collector/api/schemas.py`` holds the public models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from duecare.collector.db.types import BigId, Json, JsonText, UTCDateTime

# Stable constraint names, so migrations can refer to them on both back ends.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(32)
HASH = String(64)
REPORT_ID = String(36)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _site_of_client(table: str) -> ForeignKeyConstraint:
    """A row of a site's state names its site and that site's client, and the database holds them to
    it: one key (site, client) → sites instead of one to the site and one to the client. The rows a
    report writes by the hundred each cost the database a check per key (0.55 ms of PostgreSQL's
    CPU a report of 100 new findings, bench/README.md), and no row can put one client's site under
    another client."""
    return ForeignKeyConstraint(
        ["site_id", "client_id"], ["sites.id", "sites.client_id"], name=f"fk_{table}_site_client_sites"
    )


class Client(Base):
    __tablename__ = "clients"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    #: Kept in clear: the collector must sign with it (it is ours, not the client's password).
    webhook_secret: Mapped[str | None] = mapped_column(String(200))


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("client_id", "name", name="uq_sites_client_name"),
        # What a site's rows refer to (``_site_of_client``): the site and, with it, its client.
        Index("uq_sites_id_client", "id", "client_id", unique=True),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The site's declared public addresses (``collector set-site-public``): what an agent with
    #: internet vantage may scan for it. None: none declared.
    public_addresses: Mapped[list[str] | None] = mapped_column(JsonText, nullable=True)
    public_authorized_by: Mapped[str | None] = mapped_column(String(200))
    public_authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The report that last wrote this site's findings, assets and obligations, and (only when it
    #: changed nothing and nothing else can) the fingerprint of what it said and the latest
    #: last-seen time it wrote: the same report again takes the steady path (``ingest.py``).
    steady_report_id: Mapped[str | None] = mapped_column(REPORT_ID)
    steady_fingerprint: Mapped[str | None] = mapped_column(HASH)
    steady_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EnrollmentToken(Base):
    __tablename__ = "enrollment_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    token_hash: Mapped[str] = mapped_column(HASH, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agent_id: Mapped[str | None] = mapped_column(ID)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    credential_hash: Mapped[str] = mapped_column(HASH, unique=True)
    hostname: Mapped[str] = mapped_column(String(255))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_report_id: Mapped[str | None] = mapped_column(REPORT_ID)
    last_report_hash: Mapped[str | None] = mapped_column(HASH)
    last_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    #: A revoked credential gets 401 on its next request (``collector revoke-agent``).
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: "internal" (on the site's LAN) or "internet" (outside, scanning the declared public addresses).
    vantage: Mapped[str] = mapped_column(String(16), default="internal", server_default="internal")


class ReaderKey(Base):
    __tablename__ = "reader_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    key_hash: Mapped[str] = mapped_column(HASH, unique=True)
    #: None: the MSP's own key, which reads every client.
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReadAudit(Base):
    """Which key read which client's data, where and when (``collector audit`` prints it)."""

    __tablename__ = "read_audit"
    __table_args__ = (Index("ix_read_audit_client_at", "client_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(ID, index=True)
    #: None: a read across every client (the MSP's all-clients key).
    client_id: Mapped[str | None] = mapped_column(ID)
    site_id: Mapped[str | None] = mapped_column(ID)
    #: The route template (``/v1/findings``), never the query string: it may carry a key by mistake.
    endpoint: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CollectorKey(Base):
    """The collector's own Ed25519 key: it signs every receipt, so a client holds proof of notice."""

    __tablename__ = "collector_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    #: PKCS#8 PEM. In the database, not a file, so every replica signs with the same key.
    private_pem: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdKey(Base):
    """The secret that makes a client's ids and cursors opaque (``collector/ids.py``).

    ``scope`` is a client id, or ``*`` for the cursors of the all-clients key. In the database, not
    a file, so every replica encodes alike; made on first use."""

    __tablename__ = "id_keys"
    scope: Mapped[str] = mapped_column(ID, primary_key=True)
    #: base64 of 32 random bytes (an AES-256 key).
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HeldReport(Base):
    """A report an agent set aside after repeated server errors (it keeps retrying it slowly)."""

    __tablename__ = "held_reports"
    __table_args__ = (UniqueConstraint("agent_id", "report_id", name="uq_held_reports_agent_report"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    site_id: Mapped[str] = mapped_column(ID)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    report_id: Mapped[str] = mapped_column(REPORT_ID)
    report_hash: Mapped[str] = mapped_column(HASH)
    held_since: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Report(Base):
    """Keyed by (client, report id): a report id is the agent's, unique only within its client, so
    a post can never learn that another tenant used an id (0006)."""

    __tablename__ = "reports"
    __table_args__ = (PrimaryKeyConstraint("client_id", "id", name="pk_reports"),)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    id: Mapped[str] = mapped_column(REPORT_ID)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    report_hash: Mapped[str] = mapped_column(HASH)
    #: canonical_bytes(report) exactly as signed: the evidence, verifiable by anyone with the key.
    raw_report: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(100))
    #: The agent's own report number (1, 2, …): what its receipt says (a per-agent count since 0006).
    sequence: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    previous_report_hash: Mapped[str | None] = mapped_column(HASH)
    chain_gap: Mapped[bool] = mapped_column(Boolean)
    finding_count: Mapped[int] = mapped_column(Integer)


class ChainGap(Base):
    """A report whose previous hash is not the agent's last stored report: recorded, not hidden."""

    __tablename__ = "chain_gaps"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    site_id: Mapped[str] = mapped_column(ID)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    report_id: Mapped[str] = mapped_column(REPORT_ID)
    expected: Mapped[str | None] = mapped_column(HASH)
    got: Mapped[str | None] = mapped_column(HASH)
    #: ``got`` is the hash of a report the agent told us it dropped (a tombstone).
    explained_by_tombstone: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DroppedReport(Base):
    """A tombstone: a report the agent's outbox dropped, known by id and hash only."""

    __tablename__ = "dropped_reports"
    __table_args__ = (UniqueConstraint("agent_id", "report_id", name="uq_dropped_reports_agent_report"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    site_id: Mapped[str] = mapped_column(ID)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    report_id: Mapped[str] = mapped_column(REPORT_ID)
    report_hash: Mapped[str] = mapped_column(HASH)
    dropped_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The agent's Ed25519 signature over ``wire.envelope.tombstone_payload`` (None: stored before 0006).
    signature: Mapped[str | None] = mapped_column(String(100))
    recorded_in_report: Mapped[str] = mapped_column(REPORT_ID)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FindingState(Base):
    """One exposure on one asset of one site, across reports (see collector/lifecycle.py)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("site_id", "ident", name="uq_findings_site_ident"),
        _site_of_client("findings"),
        Index("ix_findings_client_site_status", "client_id", "site_id", "status"),
        # A report's resolve candidates: one index range per network it scanned (``site_state``, 0008).
        Index("ix_findings_site_ip_key", "site_id", "ip_key"),
        # ``_settled``'s "none of this agent's live rows left unseen". No index holds ``last_report_id`` or
        # ``last_seen_at``: the steady night rewrites both on every row the last report saw (0009;
        # PostgreSQL keeps 30 % of each page free for those updates: heap-only, no index entries).
        Index("ix_findings_site_agent_status", "site_id", "last_agent_id", "status"),
        # The few rows an outside view marked: "none live at this site" without reading the site (0008,
        # with the status since 0009: SQLite preferred the agent index to the site alone).
        Index(
            "ix_findings_site_exposed",
            "site_id",
            "status",
            sqlite_where=text("internet_exposed IS NOT NULL"),
            postgresql_where=text("internet_exposed IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ID)
    site_id: Mapped[str] = mapped_column(ID)
    #: "ip|exposure|port|proto" with "-" for a missing port or proto: the stable key.
    ident: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(45))
    #: ``rows.ip_key(ip)``: 16 bytes that sort like the address (IPv4 as IPv4-mapped IPv6), indexed.
    ip_key: Mapped[bytes] = mapped_column(LargeBinary(16))
    exposure: Mapped[str] = mapped_column(String(64))
    port: Mapped[int | None] = mapped_column(Integer)
    proto: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    kev: Mapped[bool] = mapped_column(Boolean)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_agent_id: Mapped[str] = mapped_column(ID)
    last_report_id: Mapped[str] = mapped_column(REPORT_ID)
    changed_by_report_id: Mapped[str] = mapped_column(REPORT_ID)
    #: The latest wire Finding as JSON (evidence, CVEs, obligations, remediation).
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    #: sha256 of ``data`` (sorted keys): a sighting that changes nothing does not rewrite it.
    data_digest: Mapped[str | None] = mapped_column(HASH)
    #: Reachable from the internet as the last join decided (``collector/outside.py``); only the join
    #: writes it, so it is the "before" of the next reachability transition.
    internet_exposed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class AssetState(Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("site_id", "ip", name="uq_assets_site_ip"),
        _site_of_client("assets"),
        Index("ix_assets_site_ip_key", "site_id", "ip_key"),
        Index("ix_assets_site_agent_status", "site_id", "last_agent_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ID, index=True)
    site_id: Mapped[str] = mapped_column(ID)
    ip: Mapped[str] = mapped_column(String(45))
    ip_key: Mapped[bytes] = mapped_column(LargeBinary(16))
    status: Mapped[str] = mapped_column(String(16))
    hostname: Mapped[str | None] = mapped_column(String(255))
    mac: Mapped[str | None] = mapped_column(String(17))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_agent_id: Mapped[str] = mapped_column(ID)
    last_report_id: Mapped[str] = mapped_column(REPORT_ID)
    changed_by_report_id: Mapped[str] = mapped_column(REPORT_ID)


class ObligationState(Base):
    __tablename__ = "obligations"
    __table_args__ = (
        UniqueConstraint("site_id", "framework", "requirement", name="uq_obligations_site_req"),
        _site_of_client("obligations"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ID, index=True)
    site_id: Mapped[str] = mapped_column(ID)
    framework: Mapped[str] = mapped_column(String(100))
    requirement: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_report_id: Mapped[str] = mapped_column(REPORT_ID)
    changed_by_report_id: Mapped[str] = mapped_column(REPORT_ID)
    data: Mapped[dict[str, Any]] = mapped_column(Json)


class Change(Base):
    """The MSP feed. ``id`` comes from the ``counters`` row, in commit order (collector/changes.py)."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_client_id_id", "client_id", "id"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    site_id: Mapped[str] = mapped_column(ID)
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(200))
    report_id: Mapped[str | None] = mapped_column(REPORT_ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JsonText)


class Counter(Base):
    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class WebhookDelivery(Base):
    """Written in the ingest transaction, sent after commit (at-least-once; ``id`` dedups)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    change_id: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
