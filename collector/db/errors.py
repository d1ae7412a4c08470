"""Database errors as answers: what the request carried is a 4xx, the server's own state a 503.

A report refused by the database for its own content would be refused on every retry, so it must
be a permanent 4xx (the agent sets it aside); a lock held too long, a full disk or a lost
connection are the server's, so they are 503 with Retry-After (the agent waits and tries again).
Classified by the DBAPI's own exception classes (PEP 249), never by message text.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from duecare.collector.errors import CollectorError, Conflict, Unavailable, Unprocessable

#: Seconds a client should wait after a 503 from the database (a lock, a full disk, a restart).
RETRY_AFTER_S = 5


def classify(exc: StatementError) -> CollectorError:
    kind = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
    if not isinstance(exc, DBAPIError):
        # Raised while binding a value (e.g. a date that cannot be moved to UTC): the request's own.
        return Unprocessable(f"a value of this request cannot be stored ({kind})")
    if isinstance(exc, DataError):
        return Unprocessable(f"the database refused a value of this request ({kind})")
    if isinstance(exc, IntegrityError):
        return Conflict(f"the request conflicts with stored data ({kind}); it will not pass as it is")
    return Unavailable(f"database unavailable or busy ({kind}); retry later", retry_after_s=RETRY_AFTER_S)
