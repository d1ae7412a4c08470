"""What a Telnet listener tells an unauthenticated client."""

from __future__ import annotations

from pydantic import Field

from duecare.probes.base import Facts


class TelnetFacts(Facts):
    #: True once the peer spoke Telnet: option negotiation (IAC) or a login prompt.
    speaks_telnet: bool
    #: Option codes the server asked to negotiate (RFC 854/855: DO, WILL…), in order seen.
    options_requested: tuple[str, ...] = ()
    banner: str = Field(default="", max_length=2048)
    login_prompt: bool = False
