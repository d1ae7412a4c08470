"""The console's session cookie: a read key's id, an expiry and a MAC, never the key itself.

The MAC key is derived (HKDF) from the collector's own Ed25519 receipt key, so every replica shares
it without a new secret to manage and without a schema change; the receipt key never signs a
cookie itself (domain separation by the HKDF label). A valid cookie is only half the check: every
request re-reads the read key and refuses one revoked or expired since (``auth.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "duecare_console"
_VERSION = "v1"
_LABEL = b"duecare console session v1"


def mac_key(receipt_key: Ed25519PrivateKey) -> bytes:
    raw = receipt_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(raw)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, *parts: str) -> str:
    return _b64(hmac.new(key, "|".join(parts).encode(), hashlib.sha256).digest())


@dataclass(frozen=True)
class Session:
    key_id: str
    expires_at: datetime
    #: Random per sign-in: the form token of this session is derived from it.
    nonce: str

    def form_token(self, key: bytes) -> str:
        """The token every POST form of this session carries (sign-out), beside SameSite=Strict."""
        return _mac(key, "form", self.key_id, self.nonce)


def issue(key: bytes, key_id: str, expires_at: datetime) -> tuple[Session, str]:
    session = Session(key_id, expires_at, secrets.token_urlsafe(12))
    exp = str(int(expires_at.timestamp()))
    payload = f"{_VERSION}.{key_id}.{exp}.{session.nonce}"
    return session, f"{payload}.{_mac(key, _VERSION, key_id, exp, session.nonce)}"


def read(key: bytes, cookie: str | None, now: datetime) -> Session | None:
    """The session a cookie holds, or None when it is missing, forged, malformed or expired."""
    if not cookie or len(cookie) > 300:
        return None
    parts = cookie.split(".")
    if len(parts) != 5 or parts[0] != _VERSION or not parts[2].isdigit():
        return None
    _, key_id, exp, nonce, mac = parts
    if not hmac.compare_digest(mac, _mac(key, _VERSION, key_id, exp, nonce)):
        return None
    expires_at = datetime.fromtimestamp(int(exp), UTC)
    if expires_at <= now:
        return None
    return Session(key_id, expires_at, nonce)


def form_token_ok(key: bytes, session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(token, session.form_token(key))
