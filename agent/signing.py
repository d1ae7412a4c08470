"""Signing chained reports with the agent's key: each names the hash of the one before.

What is signed is ``wire.canonical_bytes`` of the report's JSON object; the collector verifies the
same bytes it received (``duecare.wire.signatures``), not a re-serialised model.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TYPE_CHECKING

from duecare.wire import Report, SignedReport, Tombstone, canonical_bytes, report_hash

if TYPE_CHECKING:  # signing needs the key's methods only; the daemon (delivery) never loads the library
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def seal(report: Report, key: Ed25519PrivateKey, previous_hash: str | None) -> tuple[SignedReport, str]:
    """Chain the report to its predecessor and sign it. Returns the envelope and the report's hash."""
    chained = report.model_copy(update={"previous_report_hash": previous_hash})
    obj = chained.model_dump(mode="json")
    sig = base64.b64encode(key.sign(canonical_bytes(obj))).decode()
    return SignedReport(report=obj, signature=sig), report_hash(obj)


def with_tombstones(env: SignedReport, tombstones: Iterable[Tombstone]) -> SignedReport:
    return env.model_copy(update={"tombstones": tuple(tombstones)})
