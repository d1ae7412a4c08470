"""POST /v1/reports as one transaction: verify, store, track, feed. Nothing half-written.

Order of checks (each failure leaves the database untouched):
1. signature over ``canonical_bytes`` of the report object exactly as received → 422;
2. the object validates as a wire ``Report`` → 422;
3. the report names no other agent or site than the caller's → 403 (an empty site is filled in);
4. in the transaction, with the agent row locked: a stored report of this client with this id is
   a duplicate (same agent and hash → the stored receipt again) or a conflict (→ 409). Ids are
   unique per client: another tenant's report with the same id is unrelated and never confirmed.
A chain break is stored with the report (``chain_gaps``) and said in the receipt, never refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duecare.collector import changes, exact_json, lifecycle, outside, persist, site_state, staging
from duecare.collector.coverage import Coverage
from duecare.collector.db.models import (
    Agent,
    AssetState,
    ChainGap,
    Client,
    DroppedReport,
    FindingState,
    HeldReport,
    ObligationState,
    Site,
    WebhookDelivery,
)
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.db.session import Database
from duecare.collector.errors import Conflict, Forbidden, TooLarge, Unauthorized, Unprocessable
from duecare.collector.rows import AssetRow, FindingRow, ObligationRow
from duecare.collector.schemas import (
    asset_dict,
    chain_gap_out,
    dropped_report_out,
    finding_dict,
    json_time,
    obligation_dict,
)
from duecare.wire import Receipt, Report, SignedReport, canonical_bytes
from duecare.wire.api import (
    LIVE_ASSET,
    LIVE_FINDING,
    ChangeKind,
    ChangePayload,
)
from duecare.wire.envelope import held_payload, tombstone_payload
from duecare.wire.signatures import SignatureError, verify_payload

log = logging.getLogger("duecare.collector.ingest")

_Note = Callable[[ChangeKind, str, ChangePayload], None]


@dataclass(frozen=True)
class AgentIdentity:
    id: str
    site_id: str
    client_id: str
    public_key: str
    vantage: str = "internal"


@dataclass(frozen=True)
class IngestResult:
    receipt: Receipt
    created: bool
    webhook_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Checked:
    """A report that passed steps 1-3, with its canonical bytes computed once (signed, hashed, stored)."""

    report: Report
    payload: bytes
    digest: str
    #: What the report says about the site, without its identity and times (``fingerprint``).
    fingerprint: str | None = None


@dataclass(frozen=True)
class Limits:
    findings: int = 100_000
    assets: int = 65_536


def check_report(
    agent: AgentIdentity, signed: SignedReport, limits: Limits = Limits(), payload: bytes | None = None
) -> Checked:
    """Steps 1-3: pure, before any database work (and run off the event loop by the route).

    ``payload``: the report's canonical bytes when the caller has them (the route computes them from
    the body as read: ``exact_json``)."""
    if payload is None:
        try:
            payload = canonical_bytes(signed.report)
        except (TypeError, ValueError) as exc:
            raise Unprocessable(f"report: cannot be serialised canonically ({exc})") from exc
    try:
        verify_payload(agent.public_key, payload, signed.signature)
    except SignatureError as exc:
        raise Unprocessable(str(exc)) from exc
    # Counted before validation: a report over the caps costs no more than its parse.
    for what, cap in (("findings", limits.findings), ("assets", limits.assets)):
        items = signed.report.get(what)
        if isinstance(items, list) and len(items) > cap:
            raise TooLarge(
                f"report has {len(items)} {what}; this collector takes at most {cap} per report "
                f"(max_{what}_per_report): split the scope"
            )
    try:
        report, fp = _validate(signed.report, payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Unprocessable(f"report is not a valid wire Report: {where}: {first['msg']}") from exc
    if report.agent_id not in (None, agent.id):
        raise Forbidden(f"report names agent {report.agent_id!r}; this credential is agent {agent.id!r}")
    if report.site_id not in (None, agent.site_id):
        raise Forbidden(f"report is for site {report.site_id!r}; this agent may only post for its own site")
    if report.vantage.value != agent.vantage:
        raise Forbidden(
            f"report is marked vantage {report.vantage.value!r}; this agent was enrolled with vantage {agent.vantage!r}"
        )
    for i, notice in enumerate(signed.held):
        try:
            verify_payload(agent.public_key, held_payload(notice), notice.signature)
        except SignatureError as exc:
            raise Unprocessable(f"held.{i}: notice not signed by this agent's key") from exc
    for i, stone in enumerate(signed.tombstones):
        if stone.signature is None:
            # An agent from before signed tombstones: kept, marked unsigned (dropped_report.signature
            # is null in the feed), never a refusal that would lose this report and the ones after it.
            log.warning(
                "agent %s sent an unsigned tombstone of report %s (an agent before signed tombstones: upgrade it)",
                agent.id,
                stone.report_id,
            )
            continue
        try:
            verify_payload(agent.public_key, tombstone_payload(stone), stone.signature)
        except SignatureError as exc:
            raise Unprocessable(
                f"tombstones.{i}: tombstone of report {stone.report_id} not signed by this agent's key"
            ) from exc
    return Checked(report, payload, hashlib.sha256(payload).hexdigest(), fp)


#: Members of a report that differ between two scans of an unchanged site.
_VOLATILE = frozenset({"report_id", "previous_report_hash", "started_at", "finished_at"})
#: The members that hold per-host items: validated once per distinct content (``_Validated``).
_BULKY = ("findings", "assets", "attempts")


class _Validated:
    """The validated findings, assets and attempts of recent reports, by a digest of their JSON.

    An agent that reports often with nothing changed sends the same items every time; validating
    them is pure, so the same JSON gives the same models and is not validated again: only the rest
    of the report (ids, times, scope) is. Bounded by the items held (most recent kept): it helps
    agents that report within minutes of each other; a nightly schedule across thousands of sites
    rarely hits it (the database's steady path, ``_is_steady``, does not depend on it).

    Items are held from their digest's second sighting: reports of new findings (never sent twice)
    would otherwise fill it with tens of thousands of models that only make every full garbage
    collection of the process longer (~4 ms a report of new findings, bench/README.md)."""

    MAX_ITEMS = 2_000  # per report
    MAX_TOTAL = 50_000  # held in all
    MAX_SEEN = 20_000  # digests seen once, remembered (strings: nothing for the collector to walk)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._total = 0

    def get(self, key: str) -> tuple[Any, ...] | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, report: Report) -> None:
        size = sum(len(getattr(report, k)) for k in _BULKY)
        if size > self.MAX_ITEMS:
            return
        with self._lock:
            if key in self._items:
                return
            if key not in self._seen:
                self._seen[key] = None
                if len(self._seen) > self.MAX_SEEN:
                    self._seen.popitem(last=False)
                return
            del self._seen[key]
            self._items[key] = tuple(getattr(report, k) for k in _BULKY)
            self._total += size
            while self._total > self.MAX_TOTAL:
                _, old = self._items.popitem(last=False)
                self._total -= sum(len(part) for part in old)


_validated = _Validated()


def _digest(value: Any) -> str | None:
    try:
        return hashlib.sha256(exact_json.dumps_sorted(value)).hexdigest()
    except (TypeError, orjson.JSONEncodeError):
        return None  # not JSON orjson can write (an integer over 64 bits): no shortcut, no fingerprint


def _validate(raw: dict[str, Any], payload: bytes) -> tuple[Report, str | None]:
    """The wire ``Report`` of ``payload`` (``raw`` is the same object parsed), and its fingerprint: a
    digest of everything it says about the site (findings, assets, attempts, obligations, scope,
    vantage, versions) without its identity and times; two reports with one fingerprint track alike."""
    bulky = _digest([raw.get(k) for k in _BULKY])
    rest = {k: v for k, v in raw.items() if k not in _BULKY}
    head = _digest({k: v for k, v in rest.items() if k not in _VOLATILE})
    fp = None if bulky is None or head is None else hashlib.sha256(f"{bulky}|{head}".encode()).hexdigest()
    cached = None if fp is None or bulky is None else _validated.get(bulky)
    if cached is None:
        report = Report.model_validate_json(payload)
        if bulky is not None:
            _validated.put(bulky, report)
        return report, fp
    skeleton = Report.model_validate_json(orjson.dumps(rest, default=exact_json.exact_number))
    return skeleton.model_copy(update=dict(zip(_BULKY, cached, strict=True))), fp


def ingest(db: Database, agent: AgentIdentity, signed: SignedReport, checked: Checked) -> IngestResult:
    report = checked.report
    try:
        return _ingest_once(db, agent, signed, checked)
    except IntegrityError:
        # Another replica stored the same report id between our lookup and our commit
        # (possible only across agents: one agent's reports serialise on its row lock).
        # The retry finds it and answers duplicate or 409.
        log.info("ingest race on report id; retrying", extra={"report_id": str(report.report_id)})
        return _ingest_once(db, agent, signed, checked)


def receipt_of(row: ReportRow, *, duplicate: bool) -> Receipt:
    """The receipt of a stored report (``GET /v1/reports/{id}``)."""
    return _receipt({c: getattr(row, c) for c in _RECEIPT_COLUMNS}, duplicate=duplicate)


_RECEIPT_COLUMNS = ("id", "report_hash", "sequence", "received_at", "chain_gap", "agent_id")


def _ingest_once(db: Database, agent: AgentIdentity, signed: SignedReport, checked: Checked) -> IngestResult:
    if db.gate is None or not _is_large(checked.report):
        return _store(db, agent, signed, checked, None, db.write(agent.client_id))
    # SQLite, a report of many items: tracked and staged on this connection outside the write lock, then
    # published on it (its TEMP tables are the stage: ``collector/staging.py``).
    with db.pinned() as conn:
        plan = _plan(db, agent, checked, conn)
        try:
            return _store(db, agent, signed, checked, plan, db.write_on(conn, agent.client_id))
        finally:
            if staging.holds(conn):
                with conn.begin():
                    staging.clear(conn)


def _store(
    db: Database,
    agent: AgentIdentity,
    signed: SignedReport,
    checked: Checked,
    plan: _Plan | None,
    transaction: AbstractContextManager[Session],
) -> IngestResult:
    report, digest = checked.report, checked.digest
    report_id = str(report.report_id)
    now = datetime.now(UTC)
    # Everything that needs no row is built before the transaction: on SQLite the gate is held
    # from its first statement to COMMIT, and every other writer waits that long.
    row = _report_row(agent, signed, checked, report_id, now)
    pending: list[changes.PendingChange] = []

    def note_raw(kind: str, subject: str, payload: dict[str, Any]) -> None:
        pending.append(changes.PendingChange(kind, subject, agent.client_id, agent.site_id, report_id, payload))

    def note(kind: ChangeKind, subject: str, payload: ChangePayload) -> None:
        note_raw(kind.value, subject, _top_level(payload))

    with transaction as s:
        conn = s.connection()
        marks = conn.execute(
            _MARKS, {"agent": agent.id, "site": agent.site_id, "client": agent.client_id, "report": report_id}
        ).first()
        # The credential was checked before this transaction; the agent may have been revoked or its
        # client removed since (its row is locked from here to COMMIT: no later change slips in).
        if marks is None:
            raise Unauthorized(f"agent {agent.id} no longer exists (its client or site was removed)")
        if marks.revoked_at is not None:
            raise Unauthorized("agent credential revoked")
        mark = _AgentMark(marks.last_report_id, marks.last_report_hash, marks.report_count)
        # Report ids are unique per client: an id another tenant used is unrelated (and never confirmed).
        if marks.stored_agent_id is not None:
            if marks.stored_agent_id == agent.id and marks.stored_hash == digest:
                stored = {
                    "id": report_id,
                    "agent_id": marks.stored_agent_id,
                    "report_hash": marks.stored_hash,
                    "sequence": marks.stored_sequence,
                    "received_at": marks.stored_received_at,
                    "chain_gap": marks.stored_chain_gap,
                }
                return IngestResult(_receipt(stored, duplicate=True), created=False)
            raise Conflict(f"report {report_id} was already received with a different body")
        site = _SiteMark(marks.steady_report_id, marks.steady_fingerprint, marks.steady_seen_at)
        expected, got = mark.last_report_hash, report.previous_report_hash
        gap = expected != got
        row.update(sequence=mark.report_count + 1, chain_gap=gap)
        steady = _is_steady(site, mark.last_report_id, agent, checked)
        # No agent with internet vantage and no reachability mark as ``_MARKS`` saw the site: neither
        # the site's internet agents nor its marks are read again (``outside.rejoin``).
        plain = not marks.internet and not marks.marked
        # PostgreSQL: the report's row goes with the transaction's last statement (a round trip less)
        # when nothing reads it back before: a steady report, or a site without an outside view (a
        # join reads the site's latest reports).
        deferred = _stored(row) if conn.dialect.name == "postgresql" and (steady or plain) else None
        if deferred is None:
            conn.execute(_INSERT_REPORT, row)
        note_raw(ChangeKind.REPORT.value, report_id, {"report": _summary(row)})
        _record_tombstones(s, agent, signed, report_id, now, note)
        if marks.holds or signed.held:
            _record_held(s, agent, signed, report_id, now)
        if gap:
            explained = got is not None and _is_tombstoned(s, agent.id, got)
            gap_row = ChainGap(
                client_id=agent.client_id,
                site_id=agent.site_id,
                agent_id=agent.id,
                report_id=report_id,
                expected=expected,
                got=got,
                explained_by_tombstone=explained,
                recorded_at=now,
            )
            s.add(gap_row)
            note(ChangeKind.CHAIN_GAP, agent.id, ChangePayload(chain_gap=chain_gap_out(gap_row)))
        transitions: list[lifecycle.Transition] = []
        hostnames: dict[str, str | None] = {}
        with_bump: changes.Along | None = None
        # The agent's own report number, not a feed id: a global counter would show the client every
        # other tenant's activity in the gaps between its receipts.
        reported = {"agent": agent.id, "report": report_id, "hash": digest, "at": now, "reports": mark.report_count + 1}
        if steady:
            # The site's rows, the site's mark and the agent's row in one go (``_track_steady``).
            _track_steady(
                conn,
                agent.site_id,
                site.steady_report_id,
                site.steady_fingerprint,
                report_id,
                report.finished_at,
                reported,
                deferred,
            )
        else:
            # The site's agents with internet vantage, read once for the join, the rejoin and ``_settled``.
            internet = frozenset() if plain else outside.internet_agents(s, agent.site_id)
            if plan is not None and plan.holds(site):
                transitions, hostnames, seen_at = plan.write(s)
            else:
                plan = None
                # The inside/outside join, recomputed whichever side reported (collector/outside.py): an
                # inside report is joined, and its verdicts that depend on reachability selected, before
                # it is tracked.
                if agent.vantage != outside.INTERNET:
                    report = outside.join_report(s, agent.site_id, report, internet)
                transitions, hostnames, seen_at = _apply_lifecycle(s, agent, report)
            s.flush()  # the report, tombstone and gap rows, before the feed's counter is locked
            transitions += outside.rejoin(s, agent.site_id, agent.vantage, report, internet, False if plain else None)
            _load_data(s, transitions)
            settled = not transitions and _settled(s, agent, report_id, internet)
            fingerprint = checked.fingerprint if settled else None
            marked = {"site": agent.site_id, "report": report_id, "seen_at": seen_at, "fingerprint": fingerprint}
            with_bump = _mark_site_and_agent(conn, marked, reported, deferred)
        first_transition = len(pending)
        planned = plan.payloads() if plan is not None else {}
        for t in transitions:
            note_raw(t.kind, _subject(t), planned.get(id(t)) or _payload(t, hostnames))
        staged = (first_transition, plan.staged, plan.stage) if plan is not None else None
        alert_rows = {id(t.row) for t in lifecycle.alerts(transitions)}
        # The feed first (its counter row stays locked from there to COMMIT), then any deliveries.
        feed = changes.record(s, pending, now, staged, with_bump)
        webhook_ids: tuple[int, ...] = ()
        if alert_rows:
            alerts = [(feed[first_transition + i], t) for i, t in enumerate(transitions) if id(t.row) in alert_rows]
            client = s.execute(select(Client).where(Client.id == agent.client_id)).scalar_one()
            webhook_ids = _queue_webhooks(s, client, alerts, now)
    receipt = _receipt(row, duplicate=False)
    log.info(
        "report stored",
        extra={
            "report_id": report_id,
            "agent_id": agent.id,
            "site_id": agent.site_id,
            "sequence": receipt.sequence,
            "chain_gap": gap,
            "changes": len(feed),
        },
    )
    return IngestResult(receipt, created=True, webhook_ids=webhook_ids)


_AGENTS: Any = Agent.__table__
_REPORTS: Any = ReportRow.__table__
_SITES: Any = Site.__table__


@dataclass(frozen=True)
class _AgentMark:
    """What the ingest transaction reads of the posting agent's row (locked until COMMIT)."""

    last_report_id: str | None
    last_report_hash: str | None
    report_count: int


@dataclass(frozen=True)
class _SiteMark:
    """The site's steady-night mark (``Site.steady_*``), read with the site's row locked."""

    steady_report_id: str | None
    steady_fingerprint: str | None
    steady_seen_at: datetime | None

    @classmethod
    def of(cls, site: Site) -> _SiteMark:
        return cls(site.steady_report_id, site.steady_fingerprint, site.steady_seen_at)


_AGENT_MARK = (
    select(_AGENTS.c.last_report_id, _AGENTS.c.last_report_hash, _AGENTS.c.report_count)
    .where(_AGENTS.c.id == bindparam("agent"))
    .with_for_update()
)
_SITE_READ = select(_SITES.c.steady_report_id, _SITES.c.steady_fingerprint, _SITES.c.steady_seen_at).where(
    _SITES.c.id == bindparam("site")
)
_STORED = select(
    _REPORTS.c.agent_id, _REPORTS.c.report_hash, _REPORTS.c.sequence, _REPORTS.c.received_at, _REPORTS.c.chain_gap
).where(_REPORTS.c.client_id == bindparam("client"), _REPORTS.c.id == bindparam("report"))
_HELD: Any = HeldReport.__table__
#: What the ingest transaction reads first, in one round trip: the posting agent's row and the site's
#: steady mark, both locked until COMMIT (on PostgreSQL; SQLite's write lock is the database's); the
#: stored report of this client with this id, if any; whether the agent has reports listed as held;
#: whether the site has an agent with internet vantage, and a live finding marked reachable or not.
#: (On PostgreSQL what a transaction this one waited for wrote is not seen here, but the rows it
#: locked. A report it stored: this one's INSERT then fails on the report's key, and ``ingest``
#: tries once more and finds it. Marks it wrote: only a report joined with an outside view writes
#: them, and that needs an agent with internet vantage, enrolled before it, so seen here; then
#: both are read again, after the lock.)
_MARKS = (
    select(
        _AGENTS.c.last_report_id,
        _AGENTS.c.last_report_hash,
        _AGENTS.c.report_count,
        _AGENTS.c.revoked_at,
        _SITES.c.steady_report_id,
        _SITES.c.steady_fingerprint,
        _SITES.c.steady_seen_at,
        _REPORTS.c.agent_id.label("stored_agent_id"),
        _REPORTS.c.report_hash.label("stored_hash"),
        _REPORTS.c.sequence.label("stored_sequence"),
        _REPORTS.c.received_at.label("stored_received_at"),
        _REPORTS.c.chain_gap.label("stored_chain_gap"),
        exists().where(_HELD.c.agent_id == _AGENTS.c.id).label("holds"),
        outside.HAS_INTERNET_AGENT.label("internet"),
        outside.HAS_MARKED.label("marked"),
    )
    .select_from(
        _AGENTS.join(_SITES, _SITES.c.id == bindparam("site")).outerjoin(
            _REPORTS, (_REPORTS.c.client_id == bindparam("client")) & (_REPORTS.c.id == bindparam("report"))
        )
    )
    .where(_AGENTS.c.id == bindparam("agent"))
    .with_for_update(of=[_AGENTS, _SITES])
)
_INSERT_REPORT = _REPORTS.insert()
_AGENT_REPORTED = (
    update(_AGENTS)
    .where(_AGENTS.c.id == bindparam("agent"))
    .values(
        last_report_id=bindparam("report"),
        last_report_hash=bindparam("hash"),
        last_report_at=bindparam("at"),
        report_count=bindparam("reports"),
        last_used_at=bindparam("at"),
    )
)


def _report_row(
    agent: AgentIdentity, signed: SignedReport, checked: Checked, report_id: str, now: datetime
) -> dict[str, Any]:
    """The ``reports`` row, but its ``sequence`` and ``chain_gap`` (they need the agent's row)."""
    report = checked.report
    return {
        "id": report_id,
        "client_id": agent.client_id,
        "site_id": agent.site_id,
        "agent_id": agent.id,
        "report_hash": checked.digest,
        "raw_report": checked.payload.decode("utf-8"),
        "signature": signed.signature,
        "received_at": now,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "previous_report_hash": report.previous_report_hash,
        "finding_count": len(report.findings),
    }


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    """``ReportSummary`` as the feed stores it (``report_summary(row).model_dump(mode="json")``: a
    test checks both give the same), built without the model on the path every report takes."""
    return {
        "report_id": row["id"],
        "agent_id": row["agent_id"],
        "site_id": row["site_id"],
        "report_hash": row["report_hash"],
        "previous_report_hash": row["previous_report_hash"],
        "chain_gap": row["chain_gap"],
        "started_at": json_time(row["started_at"]),
        "finished_at": json_time(row["finished_at"]),
        "received_at": json_time(row["received_at"]),
        "finding_count": row["finding_count"],
    }


def _receipt(row: dict[str, Any], *, duplicate: bool) -> Receipt:
    return Receipt(
        report_id=row["id"],
        report_hash=row["report_hash"],
        sequence=row["sequence"],
        received_at=row["received_at"],
        duplicate=duplicate,
        chain_gap=row["chain_gap"],
        agent_id=row["agent_id"],
    )


def _record_tombstones(
    s: Session, agent: AgentIdentity, signed: SignedReport, report_id: str, now: datetime, note: _Note
) -> None:
    if not signed.tombstones:
        return
    ids = [str(t.report_id) for t in signed.tombstones]
    known = set(
        s.scalars(
            select(DroppedReport.report_id).where(DroppedReport.agent_id == agent.id, DroppedReport.report_id.in_(ids))
        )
    )
    for t in signed.tombstones:
        tid = str(t.report_id)
        if tid in known:
            continue
        known.add(tid)
        dropped = DroppedReport(
            client_id=agent.client_id,
            site_id=agent.site_id,
            agent_id=agent.id,
            report_id=tid,
            report_hash=t.report_hash,
            dropped_at=t.dropped_at,
            signature=t.signature,
            recorded_in_report=report_id,
            recorded_at=now,
        )
        s.add(dropped)
        note(ChangeKind.DROPPED_REPORT, tid, ChangePayload(dropped_report=dropped_report_out(dropped)))
    s.flush()


_UNHOLD = delete(_HELD).where(_HELD.c.agent_id == bindparam("agent"), _HELD.c.report_id == bindparam("report"))


def _record_held(s: Session, agent: AgentIdentity, signed: SignedReport, report_id: str, now: datetime) -> None:
    """Reports the agent holds aside are listed (``collector held``) until they arrive themselves."""
    conn = s.connection()
    conn.execute(_UNHOLD, {"agent": agent.id, "report": report_id})
    for n in signed.held:
        rid = str(n.report_id)
        if rid == report_id:
            continue
        conn.execute(_UNHOLD, {"agent": agent.id, "report": rid})
        s.add(
            HeldReport(
                client_id=agent.client_id,
                site_id=agent.site_id,
                agent_id=agent.id,
                report_id=rid,
                report_hash=n.report_hash,
                held_since=n.held_since,
                reason=n.reason,
                recorded_at=now,
            )
        )


def _is_tombstoned(s: Session, agent_id: str, digest: str) -> bool:
    stmt = select(DroppedReport.id).where(DroppedReport.agent_id == agent_id, DroppedReport.report_hash == digest)
    return s.execute(stmt.limit(1)).first() is not None


def _load_data(s: Session, transitions: list[lifecycle.Transition]) -> None:
    """One query per 500 for the JSON of findings the feed carries but this report did not name (resolved)."""
    missing = {t.row.id: t.row for t in transitions if isinstance(t.row, FindingRow) and t.row.data is None}
    ids = list(missing)
    for i in range(0, len(ids), 500):
        stmt = select(FindingState.id, FindingState.data).where(FindingState.id.in_(ids[i : i + 500]))
        for fid, data in s.execute(stmt):
            missing[fid].data = data


def _is_steady(site: _SiteMark, last_report_id: str | None, agent: AgentIdentity, checked: Checked) -> bool:
    """The steady night: this agent's previous report was the last to write the site's state, it
    changed nothing, the site had no outside view, and this report says exactly the same (the same
    fingerprint) no earlier than what it last saw. The lifecycle would then find every named finding,
    asset and obligation as it is, resolve nothing and change only times (``_settled``)."""
    return (
        agent.vantage == outside.INTERNAL
        and checked.fingerprint is not None
        and site.steady_fingerprint == checked.fingerprint
        and site.steady_report_id is not None
        and site.steady_report_id == last_report_id
        and site.steady_seen_at is not None
        and checked.report.finished_at >= site.steady_seen_at
    )


def _seen_again(table: Any) -> Any:
    t = table.__table__
    where = (t.c.site_id == bindparam("site")) & (t.c.last_report_id == bindparam("previous"))
    return update(t).where(where).values(last_seen_at=bindparam("seen_at"), last_report_id=bindparam("report"))


_SEEN_AGAIN = tuple(_seen_again(t) for t in (FindingState, AssetState, ObligationState))
#: The site's steady mark: the report that last wrote its rows, what it saw last, and its fingerprint
#: (null: the next identical report takes the full path).
_SITE_MARK = (
    update(_SITES)
    .where(_SITES.c.id == bindparam("site"))
    .values(
        steady_report_id=bindparam("report"),
        steady_seen_at=bindparam("seen_at"),
        steady_fingerprint=bindparam("fingerprint"),
    )
)
#: The ``reports`` row's columns (``_report_row``, with ``sequence`` and ``chain_gap``).
_REPORT_ROW = (
    "id", "client_id", "site_id", "agent_id", "report_hash", "raw_report", "signature", "received_at", "started_at",
    "finished_at", "previous_report_hash", "finding_count", "sequence", "chain_gap",
)  # fmt: skip
#: PostgreSQL: the report's row as a data-modifying WITH clause of the transaction's last statement
#: (parameters ``stored_<column>``: ``_stored``).
_STORE_REPORT = _REPORTS.insert().values({c: bindparam(f"stored_{c}") for c in _REPORT_ROW}).cte("report_stored")


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    return {f"stored_{c}": row[c] for c in _REPORT_ROW}


#: PostgreSQL: the site's mark and the agent's last report as data-modifying WITH clauses of the
#: feed counter's bump (``changes.record``): both rows are this transaction's already (``_MARKS``
#: locked them), and the three take one round trip; the same with the report's row.
_BUMP_AND_MARK = changes.bump_with(_SITE_MARK.cte("site_marked"), _AGENT_REPORTED.cte("agent_reported"))
_BUMP_MARK_AND_STORE = _BUMP_AND_MARK.add_cte(_STORE_REPORT)


def _mark_site_and_agent(
    conn: Connection, marked: dict[str, Any], reported: dict[str, Any], stored: dict[str, Any] | None
) -> changes.Along | None:
    """After a report was tracked: the site's steady mark (``marked``: ``_SITE_MARK``'s parameters;
    the report that last wrote the site's rows) and the agent's last report (``reported``), and the
    report's row if not stored yet (``stored``: ``_stored``). On PostgreSQL returned, to be written
    with the feed's counter bump; on SQLite written here."""
    if conn.dialect.name == "postgresql":
        if stored is None:
            return changes.Along(_BUMP_AND_MARK, {**marked, **reported})
        return changes.Along(_BUMP_MARK_AND_STORE, {**marked, **reported, **stored})
    conn.execute(_SITE_MARK, marked)
    conn.execute(_AGENT_REPORTED, reported)
    return None


def _steady_in_one() -> Any:
    """PostgreSQL: the steady night's five UPDATEs as one statement (each a data-modifying WITH
    clause, all run to completion, on five different tables): one round trip instead of five,
    most of the steady night's cost on PostgreSQL after the rows themselves."""
    names = ("findings_seen", "assets_seen", "obligations_seen", "site_marked")
    parts = [stmt.cte(name) for name, stmt in zip(names, (*_SEEN_AGAIN, _SITE_MARK), strict=True)]
    return _AGENT_REPORTED.add_cte(*parts)


_STEADY_IN_ONE = _steady_in_one()
_STEADY_AND_STORE = _STEADY_IN_ONE.add_cte(_STORE_REPORT)


def _track_steady(
    conn: Connection,
    site_id: str,
    previous: str | None,
    fingerprint: str | None,
    report_id: str,
    seen_at: datetime,
    reported: dict[str, Any],
    stored: dict[str, Any] | None = None,
) -> None:
    """What the lifecycle would write for a steady report: the rows the previous report saw are seen
    again (last seen, last report), one statement per table instead of a row each; then the site's
    steady mark (``fingerprint``: the one the report matched, kept), the agent's last report
    (``reported``: ``_AGENT_REPORTED``'s parameters), and the report's row if not stored yet
    (``stored``: ``_stored``)."""
    seen = {"site": site_id, "previous": previous, "seen_at": seen_at, "report": report_id, "fingerprint": fingerprint}
    if conn.dialect.name == "postgresql":
        if stored is None:
            conn.execute(_STEADY_IN_ONE, {**seen, **reported})
        else:
            conn.execute(_STEADY_AND_STORE, {**seen, **reported, **stored})
        return
    for stmt in _SEEN_AGAIN:
        conn.execute(stmt, seen)
    conn.execute(_SITE_MARK, seen)
    conn.execute(_AGENT_REPORTED, reported)


def _settled(s: Session, agent: AgentIdentity, report_id: str, internet: frozenset[str]) -> bool:
    """Whether the next identical report may take the steady path: an inside agent, no agent with
    internet vantage at the site (``internet``: no outside view to join), and every live finding and
    asset this agent last saw was seen by this report (none left for a later report to resolve)."""
    if agent.vantage != outside.INTERNAL or internet:
        return False
    for table, live in ((FindingState, LIVE_FINDING), (AssetState, LIVE_ASSET)):
        stmt = select(table.id).where(
            table.site_id == agent.site_id,
            table.status.in_([str(x) for x in live]),
            table.last_agent_id == agent.id,
            table.last_report_id != report_id,
        )
        if s.execute(stmt.limit(1)).first() is not None:
            return False
    return True


#: Reports with at least this many findings and assets are tracked and staged ahead of SQLite's
#: write lock, which is then held only to publish them: every writer waits for the one holding it.
#: Smaller reports (a quiet night's few findings) are tracked under the lock: it costs them less
#: than the extra transaction that reserves their ids.
PLAN_AHEAD_ITEMS = 50


def _is_large(report: Report) -> bool:
    return len(report.findings) + len(report.assets) >= PLAN_AHEAD_ITEMS


@dataclass
class _Tracked:
    """The lifecycle of one report applied to the site's rows, not yet written."""

    report: Report
    findings: dict[str, FindingRow]
    assets: dict[str, AssetRow]
    obligations: dict[tuple[str, str], ObligationRow]
    transitions: list[lifecycle.Transition]

    def write(self, s: Session) -> tuple[list[lifecycle.Transition], dict[str, str | None], datetime]:
        persist.findings(s, self.findings.values())
        persist.assets(s, self.assets.values())
        persist.obligations(s, self.obligations.values())
        rows = (self.findings, self.assets, self.obligations)
        touched = [r.last_seen_at for table in rows for r in table.values() if r.touched]
        hostnames = {ip: a.hostname for ip, a in self.assets.items()}
        return list(self.transitions), hostnames, max(touched, default=self.report.finished_at)


def _track(s: Session, agent: AgentIdentity, report: Report) -> _Tracked:
    ctx = lifecycle.ReportContext(report, agent.client_id, agent.site_id, agent.id, Coverage.of(report))
    findings, assets = site_state.findings(s, ctx), site_state.assets(s, ctx)
    obligations = site_state.obligations(s, ctx)
    out = lifecycle.apply_findings(ctx, findings)
    out += lifecycle.apply_assets(ctx, assets)
    if agent.vantage != outside.INTERNET or not outside.has_inside_agent(s, agent.site_id):
        # The site's obligations are its inside view, re-judged by the join; an agent with internet
        # vantage sees only the declared addresses, and sets them only for a site seen from outside only.
        out += lifecycle.apply_obligations(ctx, obligations)
    return _Tracked(report, findings, assets, obligations, out)


@dataclass
class _Plan:
    """A large report tracked in a read transaction, before its writer queues at the SQLite gate,
    and its new rows and feed entries staged (``collector/staging.py``): the lock is then held
    only to publish. Valid while the site's state is as read (no report was stored for the site
    since: ``Site.steady_report_id`` names the last one); otherwise ingest tracks the report again
    under the lock (the staged rows are discarded, their reserved ids stay unused)."""

    site_version: str | None
    tracked: _Tracked
    hostnames: dict[str, str | None]
    #: Feed payloads of the staged transitions (final: their rows' ids were reserved).
    built: dict[int, dict[str, Any]]
    #: How many transitions, from the first, have their feed entry staged.
    staged: int
    #: Where the new rows and those feed entries wait (TEMP tables, or bound in memory).
    stage: staging.Stage

    def holds(self, site: _SiteMark) -> bool:
        return site.steady_report_id == self.site_version

    def write(self, s: Session) -> tuple[list[lifecycle.Transition], dict[str, str | None], datetime]:
        t = self.tracked
        persist.findings(s, t.findings.values(), staged=True)
        persist.assets(s, t.assets.values(), staged=True)
        persist.obligations(s, t.obligations.values())
        self.stage.publish_rows(s)
        rows = (t.findings, t.assets, t.obligations)
        touched = [r.last_seen_at for table in rows for r in table.values() if r.touched]
        return list(t.transitions), self.hostnames, max(touched, default=t.report.finished_at)

    def payloads(self) -> dict[int, dict[str, Any]]:
        return self.built


def _plan(db: Database, agent: AgentIdentity, checked: Checked, conn: Connection) -> _Plan | None:
    """Track a large inside report ahead of the write lock and stage what it writes (a site
    without an outside view only: joining one reads and writes as it goes); None when it cannot
    be planned, or needs no plan (a steady report)."""
    report = checked.report
    if agent.vantage != outside.INTERNAL:
        return None
    with db.read_on(conn) as s:
        c = s.connection()
        site = c.execute(_SITE_READ, {"site": agent.site_id}).first()
        last = c.execute(_AGENT_MARK, {"agent": agent.id}).first()
        if site is None or last is None:
            return None
        if _is_steady(_SiteMark(*site), last.last_report_id, agent, checked):
            return None  # a few UPDATEs under the lock
        if outside.has_outside_agent(s, agent.site_id):
            return None
        if c.execute(_STORED, {"client": agent.client_id, "report": str(report.report_id)}).first() is not None:
            return None  # a duplicate or a conflict: answered under the lock
        tracked = _track(s, agent, report)
        _load_data(s, tracked.transitions)  # the JSON of resolved findings, for their feed entries
        version = site.steady_report_id
    new_findings = [r for r in tracked.findings.values() if r.id is None]
    new_assets = [r for r in tracked.assets.values() if r.id is None]
    _give_ids(db, agent.client_id, persist.FINDINGS, new_findings)
    _give_ids(db, agent.client_id, persist.ASSETS, new_assets)
    hostnames = {ip: a.hostname for ip, a in tracked.assets.items()}
    # Obligations (a few per report, after the findings and assets) are built after the write, with their ids.
    count = 0
    for t in tracked.transitions:
        if t.kind == "obligation":
            break
        count += 1
    built = {id(t): _payload(t, hostnames) for t in tracked.transitions[:count]}
    feed = [(t.kind, _subject(t), built[id(t)]) for t in tracked.transitions[:count]]
    stage: staging.Stage
    if len(new_findings) + len(new_assets) + len(feed) < staging.MEMORY_ROWS:
        stage = staging.in_memory(conn.dialect, new_findings, new_assets, feed)
    else:
        with conn.begin():
            staging.stage(conn, new_findings, new_assets, feed)
        stage = staging.InTemp()
    return _Plan(version, tracked, hostnames, built, count, stage)


_BLOCKS: WeakKeyDictionary[Database, persist.IdBlocks] = WeakKeyDictionary()
_BLOCKS_LOCK = threading.Lock()


def _id_blocks(db: Database) -> persist.IdBlocks:
    with _BLOCKS_LOCK:
        blocks = _BLOCKS.get(db)
        if blocks is None:
            blocks = _BLOCKS[db] = persist.IdBlocks()
        return blocks


def _give_ids(db: Database, client: str, table: Any, rows: Sequence[FindingRow | AssetRow]) -> None:
    """Ids for staged rows, from this process's block (``persist.IdBlocks``)."""
    if not rows:
        return

    def reserve_block(count: int) -> int:
        with db.write(client) as w:  # milliseconds under the lock, once per block
            return persist.reserve(w, table, count)

    first = _id_blocks(db).take(table, len(rows), reserve_block)
    for i, r in enumerate(rows):
        r.id = first + i


def _apply_lifecycle(
    s: Session, agent: AgentIdentity, report: Report
) -> tuple[list[lifecycle.Transition], dict[str, str | None], datetime]:
    return _track(s, agent, report).write(s)


def _top_level(payload: ChangePayload) -> dict[str, Any]:
    """The set members only (nested None values stay: they are part of the models)."""
    return {k: v for k, v in payload.model_dump(mode="json").items() if v is not None}


def _subject(t: lifecycle.Transition) -> str:
    r = t.row
    if isinstance(r, FindingRow):
        return r.ident
    if isinstance(r, AssetRow):
        return r.ip
    return f"{r.framework}|{r.requirement}"


def _payload(t: lifecycle.Transition, hostnames: dict[str, str | None]) -> dict[str, Any]:
    """The feed entry's payload, as ``ChangePayload`` dumps it (the contract test checks the shape),
    built as a dict: a report of a /16 makes tens of thousands of these."""
    r = t.row
    out: dict[str, Any] = {"transition": t.transition}
    if t.previous_status is not None:
        out["previous_status"] = t.previous_status
    if isinstance(r, FindingRow):
        out["finding"] = finding_dict(r, hostnames.get(r.ip))
    elif isinstance(r, AssetRow):
        out["asset"] = asset_dict(r)
    else:
        out["obligation"] = obligation_dict(r)
    return out


def _queue_webhooks(
    s: Session, client: Client, alerts: list[tuple[dict[str, Any], lifecycle.Transition]], now: datetime
) -> tuple[int, ...]:
    if not alerts or not client.webhook_url:
        return ()
    rows = [
        WebhookDelivery(
            client_id=client.id,
            change_id=change["id"],
            status="pending",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            body=json.dumps(
                {
                    "event": f"finding.{t.transition}",
                    "change_id": change["id"],
                    "client_id": change["client_id"],
                    "site_id": change["site_id"],
                    "created_at": now.isoformat(),
                    "finding": change["payload"]["finding"],
                },
                sort_keys=True,
            ),
        )
        for change, t in alerts
    ]
    s.add_all(rows)
    s.flush()
    return tuple(r.id for r in rows)
