"""Our probe error tree; foreign exceptions are translated once, at the adapter.

ProbeError
├── Unreachable        connection refused / reset before the protocol began / no route
├── ProbeTimeout       the peer went silent past the probe's own deadline
│   └── SilentPeer     it accepted the connection and never sent a first byte
├── ProtocolError      the peer spoke, but not the protocol (garbage, bad lengths, too much)
└── NotPermitted       the process lacks a right the probe needs (raw sockets, config forbids)
"""

from __future__ import annotations

from duecare.errors import DuecareError


class ProbeError(DuecareError):
    """Base of every error a probe raises on purpose."""


class Unreachable(ProbeError):
    pass


class ProbeTimeout(ProbeError):
    pass


class SilentPeer(ProbeTimeout):
    """Accepted, then not one byte within the first-bytes deadline: what a tarpit does.

    The scan's silent-host rule reads this one as conclusive on a host whose round trip is fast."""


class ProtocolError(ProbeError):
    pass


class NotPermitted(ProbeError):
    pass
