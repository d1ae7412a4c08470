"""Secrets and their hashes (report signatures are checked by ``duecare.wire.signatures``).

Every secret we hand out is 256 random bits with a recognisable prefix (so secret scanners can
spot a leak); the database keeps only its SHA-256. A plain hash is enough for a high-entropy
token (no dictionary to attack), and lookups stay an indexed equality.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ENROLLMENT_PREFIX = "dce_"
AGENT_PREFIX = "dca_"
READER_PREFIX = "dcr_"
WEBHOOK_PREFIX = "dcw_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_id(prefix: str) -> str:
    """Public ids: short, random, prefixed by kind (``cl_``, ``st_``, ``ag_`` …)."""
    return prefix + secrets.token_hex(8)


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
