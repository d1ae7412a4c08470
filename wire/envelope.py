"""What travels between agent and collector around a report.

Signatures and chain hashes are over ``canonical_bytes`` of the report's JSON object as sent,
never over a re-serialised model: a collector with a newer schema must still verify an older
agent's bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from duecare.wire.bounds import Hostname, Summary, WireTime
from duecare.wire.models import Vantage

_HEX64 = r"^[0-9a-f]{64}$"


def canonical_bytes(obj: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the one byte form that is signed and hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def report_hash(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(obj)).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tombstone(_Frozen):
    """A report the agent's outbox had to drop (full): kept so the gap is visible.

    Signed by the agent (over ``tombstone_payload``) when it drops the report: a tombstone is the
    agent's word that a report existed and was lost, so nobody between agent and collector (nor the
    collector's database afterwards) can invent or alter one to explain a gap away. ``None``: an
    agent from before signed tombstones; the collector keeps it marked unsigned (the feed says so)
    rather than refuse the report that carries it, because refusing would lose that report and every
    later one of an agent that cannot sign what it dropped before its upgrade.
    """

    report_id: uuid.UUID
    report_hash: Annotated[str, Field(pattern=_HEX64)]
    dropped_at: WireTime
    signature: Annotated[str, Field(min_length=80, max_length=100)] | None = None


#: Mixed into the signed bytes of a tombstone: a signature over it can never pass as a report's,
#: a held notice's or a receipt's (their objects never carry this key).
TOMBSTONE_PURPOSE = "duecare.tombstone.v1"


def tombstone_payload(t: Tombstone) -> bytes:
    return canonical_bytes({**t.model_dump(mode="json", exclude={"signature"}), "purpose": TOMBSTONE_PURPOSE})


class HeldNotice(_Frozen):
    """A report the agent set aside after repeated server errors: it still exists and is retried slowly.

    Signed by the agent (over ``held_payload``), so the collector can show it as the agent's word.
    """

    report_id: uuid.UUID
    report_hash: Annotated[str, Field(pattern=_HEX64)]
    held_since: WireTime
    reason: Summary
    signature: Annotated[str, Field(min_length=80, max_length=100)]


def held_payload(notice: HeldNotice) -> bytes:
    return canonical_bytes(notice.model_dump(mode="json", exclude={"signature"}))


class SignedReport(_Frozen):
    """POST /v1/reports body. ``report`` is the wire ``Report`` as a JSON object."""

    report: dict[str, Any]
    #: base64 Ed25519 signature over canonical_bytes(report).
    signature: Annotated[str, Field(min_length=80, max_length=100)]
    tombstones: tuple[Tombstone, ...] = ()
    held: tuple[HeldNotice, ...] = ()


class Receipt(_Frozen):
    """The collector's word that it received a report: signed with the collector's own key, so the
    client holds proof the MSP was told, and when (``duecare verify --state-dir`` checks it)."""

    report_id: uuid.UUID
    report_hash: Annotated[str, Field(pattern=_HEX64)]
    sequence: int
    received_at: AwareDatetime
    duplicate: bool = False
    chain_gap: bool = False
    agent_id: str | None = None
    #: The collector's name, as the MSP configured it.
    collector: str | None = None
    #: base64 raw Ed25519 public key of the collector, and its signature over ``receipt_payload``.
    collector_key: str | None = None
    signature: str | None = None


def receipt_payload(receipt: Receipt) -> bytes:
    """What the collector signs: every field but the signature and ``duplicate`` (a repeat is the same notice)."""
    return canonical_bytes(receipt.model_dump(mode="json", exclude={"signature", "duplicate"}))


class EnrollRequest(_Frozen):
    token: Annotated[str, Field(min_length=16, max_length=512)]
    #: base64 of the raw 32-byte Ed25519 public key.
    public_key: Annotated[str, Field(min_length=40, max_length=64)]
    hostname: Hostname = ""
    #: ``internet``: an agent outside the site that scans only the site's declared public addresses.
    vantage: Vantage = Vantage.INTERNAL


class EnrollResponse(_Frozen):
    agent_id: str
    site_id: str
    client_id: str
    #: Bearer credential for POST /v1/reports; shown once, stored hashed by the collector.
    credential: str
    #: The collector's receipt key (base64 raw Ed25519): the agent pins it to check receipts.
    collector_key: str | None = None
