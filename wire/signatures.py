"""Checking signed, chained reports: each names the hash of the one before, so a gap or an edit shows.

Verification belongs with the contract: the collector, ``duecare verify`` and the report renderer all
check the same bytes (``canonical_bytes`` of the report's JSON object). Signing, which needs the
agent's private key, stays in the agent.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from duecare.wire.envelope import Receipt, SignedReport, canonical_bytes, receipt_payload, report_hash
from duecare.wire.models import Report


class SignatureError(ValueError):
    """The report signature does not verify; the message says why."""


class PublicKeyError(ValueError):
    """An agent public key that is not a raw 32-byte Ed25519 key in base64."""


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not valid base64") from exc


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = _b64decode(text)
    except ValueError as exc:
        raise PublicKeyError(f"public_key: {exc}") from exc
    if len(raw) != 32:
        raise PublicKeyError(f"public_key: an Ed25519 key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_payload(public_key: Ed25519PublicKey | str, payload: bytes, signature: str) -> None:
    """Check ``signature`` over exact bytes (canonical bytes computed once by the caller)."""
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    try:
        sig = _b64decode(signature)
    except ValueError as exc:
        raise SignatureError(f"signature: {exc}") from exc
    if len(sig) != 64:
        raise SignatureError(f"signature: an Ed25519 signature is 64 bytes, got {len(sig)}")
    try:
        key.verify(sig, payload)
    except InvalidSignature as exc:
        raise SignatureError(
            "signature: does not verify over canonical_bytes(report) with the enrolled agent key"
        ) from exc


def verify_signature(public_key: Ed25519PublicKey | str, report: Mapping[str, Any], signature: str) -> None:
    """Check ``signature`` over ``canonical_bytes(report)`` exactly as received."""
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    try:
        sig = _b64decode(signature)
    except ValueError as exc:
        raise SignatureError(f"signature: {exc}") from exc
    if len(sig) != 64:
        raise SignatureError(f"signature: an Ed25519 signature is 64 bytes, got {len(sig)}")
    try:
        payload = canonical_bytes(report)
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"report: cannot be serialised canonically ({exc})") from exc
    try:
        key.verify(sig, payload)
    except InvalidSignature as exc:
        raise SignatureError(
            "signature: does not verify over canonical_bytes(report) with the enrolled agent key"
        ) from exc


def sign_receipt(key: Ed25519PrivateKey, receipt: Receipt) -> Receipt:
    """The receipt with the collector's key and signature filled in."""
    keyed = receipt.model_copy(update={"collector_key": public_key_b64(key), "signature": None})
    sig = base64.b64encode(key.sign(receipt_payload(keyed))).decode()
    return keyed.model_copy(update={"signature": sig})


def verify_receipt(receipt: Receipt, pinned_key: str | None) -> None:
    """Check a receipt's signature: with the key pinned at enrollment when there is one (a receipt
    naming another key is refused), else with the key it names."""
    if receipt.signature is None or receipt.collector_key is None:
        raise SignatureError("receipt is not signed (a collector older than receipt signing)")
    if pinned_key is not None and receipt.collector_key != pinned_key:
        raise SignatureError("receipt signed with a key other than the collector key pinned at enrollment")
    key = load_public_key(receipt.collector_key)
    try:
        sig = _b64decode(receipt.signature)
        key.verify(sig, receipt_payload(receipt))
    except (ValueError, InvalidSignature) as exc:
        raise SignatureError("receipt signature does not verify: receipt altered or not the collector's") from exc


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class ChainProblem:
    report_id: str
    problem: str


def signature_ok(env: SignedReport, pub: Ed25519PublicKey) -> bool:
    try:
        verify_signature(pub, env.report, env.signature)
    except SignatureError:
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
