"""Signed, chained reports: each names the hash of the one before, so a gap or an edit shows.

What is signed is ``wire.canonical_bytes`` of the report's JSON object; the collector verifies the
same bytes it received, not a re-serialised model.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wire import Report, SignedReport, Tombstone, canonical_bytes, report_hash


def seal(report: Report, key: Ed25519PrivateKey, previous_hash: str | None) -> tuple[SignedReport, str]:
    """Chain the report to its predecessor and sign it. Returns the envelope and the report's hash."""
    chained = report.model_copy(update={"previous_report_hash": previous_hash})
    obj = chained.model_dump(mode="json")
    sig = base64.b64encode(key.sign(canonical_bytes(obj))).decode()
    return SignedReport(report=obj, signature=sig), report_hash(obj)


def with_tombstones(env: SignedReport, tombstones: Iterable[Tombstone]) -> SignedReport:
    return env.model_copy(update={"tombstones": tuple(tombstones)})


@dataclass(frozen=True)
class ChainProblem:
    report_id: str
    problem: str


def signature_ok(env: SignedReport, pub: Ed25519PublicKey) -> bool:
    try:
        pub.verify(base64.b64decode(env.signature, validate=True), canonical_bytes(env.report))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_chain(envelopes: Iterable[SignedReport], pub: Ed25519PublicKey) -> list[ChainProblem]:
    """Check signatures and links in order. Tampered, reordered and missing reports all show."""
    envs = list(envelopes)
    problems: list[ChainProblem] = []
    prev: str | None = None
    first = True
    dropped = {t.report_hash for e in envs for t in e.tombstones}
    for env in envs:
        rid = str(env.report.get("report_id", "?"))
        if not signature_ok(env, pub):
            problems.append(ChainProblem(rid, "signature does not verify: report altered or wrong key"))
        try:
            Report.model_validate(env.report)
        except ValueError as exc:
            problems.append(ChainProblem(rid, f"not a valid report: {exc}"))
        link: Any = env.report.get("previous_report_hash")
        if not first and link != prev and link not in dropped:
            problems.append(
                ChainProblem(rid, f"chain broken: names previous {link}, but the report before it is {prev}")
            )
        prev = report_hash(env.report)
        first = False
    return problems
