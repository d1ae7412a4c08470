"""Who is looking: the session cookie, re-checked against the read key on every request.

A key revoked or expired since sign-in signs the session out at its next request. Every page read is
written to the collector's audit of reads exactly as an API read is (key, client, route, time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import select

from duecare.collector.db.models import ReadAudit, ReaderKey
from duecare.collector.queries import ReaderScope
from duecare.collector.security import READER_PREFIX, hash_secret, secret_matches
from duecare.console import session
from duecare.console.state import ConsoleState

#: Why a person sees the sign-in page: the code travels in its URL, the words are these.
REASONS = {
    "signin": "Sign in with a read key.",
    "ended": "Your session has ended: sign in again.",
    "revoked": "This read key was revoked: you have been signed out.",
    "expired": "This read key has expired: you have been signed out.",
    "unknown": "That read key is not known to this collector.",
    "malformed": "That is not a read key (read keys start with dcr_).",
    "signed-out": "You have signed out.",
}


class SignedOut(Exception):
    """No usable session: the console answers with the sign-in page (and clears the cookie)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code if code in REASONS else "signin"

    @property
    def why(self) -> str:
        return REASONS[self.code]


@dataclass(frozen=True)
class Viewer:
    scope: ReaderScope
    label: str
    session: session.Session
    form_token: str

    @property
    def all_clients(self) -> bool:
        return self.scope.client_id is None


def usable(key: ReaderKey | None, now: datetime) -> str | None:
    """Why a read key may not be used now (a ``REASONS`` code), or None when it may."""
    if key is None:
        return "unknown"
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return None


def check_key(state: ConsoleState, secret: str) -> ReaderKey:
    """The read key a person typed into the sign-in form, or SignedOut with why not."""
    secret = secret.strip()
    if not secret.startswith(READER_PREFIX) or len(secret) > 200:
        raise SignedOut("malformed")
    now = datetime.now(UTC)
    with state.db.read() as s:
        key = s.scalars(select(ReaderKey).where(ReaderKey.key_hash == hash_secret(secret))).first()
        if key is not None and not secret_matches(secret, key.key_hash):
            key = None
        why = usable(key, now)
        if why is not None or key is None:
            raise SignedOut(why or "unknown")
        return key


def viewer(request: Request, *, client_id: str | None = None, site_id: str | None = None) -> Viewer:
    """The signed-in reader, with this read recorded; SignedOut when there is none any more."""
    state = ConsoleState.of(request)
    now = datetime.now(UTC)
    sess = session.read(state.mac_key(), request.cookies.get(session.COOKIE), now)
    if sess is None:
        raise SignedOut("signin" if session.COOKIE not in request.cookies else "ended")
    route = request.scope.get("route")
    endpoint = str(getattr(route, "path", None) or request.url.path)[:200]
    with state.db.write() as s:
        key = s.get(ReaderKey, sess.key_id)
        why = usable(key, now)
        if why is not None or key is None:
            raise SignedOut(why or "unknown")
        s.add(
            ReadAudit(
                key_id=key.id,
                client_id=client_id or key.client_id,
                site_id=site_id,
                endpoint=endpoint,
                at=now,
            )
        )
        key.last_used_at = now
        return Viewer(ReaderScope(key.id, key.client_id), key.label, sess, sess.form_token(state.mac_key()))
