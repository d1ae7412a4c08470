"""The one SMB-specific refinement of the error tree: the peer hung up on us.

A hang-up is a ProtocolError to the runner, but to the SMBv1 check it is an answer: Windows with
SMBv1 disabled resets or closes instead of replying (detection-methods.md §3.1, §3.7). A typed
error keeps that distinction without reading exception messages.
"""

from __future__ import annotations

import enum

from duecare.probes.errors import ProtocolError


class Hangup(enum.StrEnum):
    RESET = "reset"
    CLOSED = "closed"


class ConnectionDropped(ProtocolError):
    def __init__(self, how: Hangup, what: str, *, received: int = 0) -> None:
        super().__init__(f"connection {how.value} by the server {what} ({received} bytes received)")
        self.how = how
        self.received = received
