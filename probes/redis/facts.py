"""What a Redis server tells a client that has not authenticated."""

from __future__ import annotations

from pydantic import Field

from duecare.probes.base import Facts


class RedisFacts(Facts):
    #: First line of the reply to PING: ``+PONG``, ``-NOAUTH …`` or ``-DENIED …``.
    ping_reply: str = Field(max_length=300)
    #: The server asked for AUTH (``-NOAUTH``; ``-ERR operation not permitted`` before Redis 2.8.x).
    auth_required: bool
    #: Refused by protected mode (Redis ≥ 3.2, no password set): only loopback clients are served.
    protected_mode: bool = False
    #: ``INFO server`` answered; False when it was refused (e.g. ACL ``-NOPERM``) or not asked.
    info_obtained: bool = False
    product: str | None = None
    #: ``redis_version`` (read by the KEV matcher).
    version: str | None = Field(default=None, max_length=64)
    os: str | None = Field(default=None, max_length=200)
    #: ``redis_mode``: standalone, cluster or sentinel.
    mode: str | None = Field(default=None, max_length=32)
