"""Errors the API turns into 4xx answers; each message names the problem for the caller."""

from __future__ import annotations

from duecare.errors import DuecareError


class CollectorError(DuecareError):
    status_code = 400

    def __init__(self, detail: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        #: Sent as Retry-After: the answer is about the server's state now, not about the request.
        self.retry_after_s = retry_after_s


class Unauthorized(CollectorError):
    status_code = 401


class Forbidden(CollectorError):
    status_code = 403


class NotFound(CollectorError):
    status_code = 404


class Conflict(CollectorError):
    status_code = 409


class TooLarge(CollectorError):
    status_code = 413


class Unprocessable(CollectorError):
    status_code = 422


class TooManyRequests(CollectorError):
    status_code = 429


class Unavailable(CollectorError):
    """The server's own state (a lock held too long, a full disk): the same request may pass later."""

    status_code = 503
