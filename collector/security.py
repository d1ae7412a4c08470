"""Secrets, their hashes and report signatures.

Every secret we hand out is 256 random bits with a recognisable prefix (so secret scanners can
spot a leak); the database keeps only its SHA-256. A plain hash is enough for a high-entropy
token (no dictionary to attack), and lookups stay an indexed equality.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wire import canonical_bytes

ENROLLMENT_PREFIX = "dce_"
AGENT_PREFIX = "dca_"
READER_PREFIX = "dcr_"
WEBHOOK_PREFIX = "dcw_"


class SignatureError(ValueError):
    """The report signature does not verify; the message says why."""


class PublicKeyError(ValueError):
    """An agent public key that is not a raw 32-byte Ed25519 key in base64."""


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_id(prefix: str) -> str:
    """Public ids: short, random, prefixed by kind (``cl_``, ``st_``, ``ag_`` …)."""
    return prefix + secrets.token_hex(8)


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
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


def verify_report_signature(public_key: str, report: Mapping[str, Any], signature: str) -> None:
    """Check ``signature`` over ``canonical_bytes(report)`` exactly as received."""
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
        load_public_key(public_key).verify(sig, payload)
    except InvalidSignature as exc:
        raise SignatureError(
            "signature: does not verify over canonical_bytes(report) with the enrolled agent key"
        ) from exc


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
