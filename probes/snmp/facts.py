"""What an SNMP agent tells a client holding a default community string."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts

SnmpVersion = Literal["v1", "v2c"]


class CommunityAnswer(Facts):
    """One GET that the agent answered: the community was accepted for reading."""

    version: SnmpVersion
    community: str = Field(max_length=64)
    #: error-status of the response (RFC 3416 §3); 0 = noError. Any answer proves the community.
    error_status: int = 0
    sys_descr: str | None = Field(default=None, max_length=1024)
    sys_object_id: str | None = Field(default=None, max_length=256)
    sys_name: str | None = Field(default=None, max_length=256)


class SnmpFacts(Facts):
    #: Every (version, community) pair we asked with, in order.
    tried: tuple[tuple[SnmpVersion, str], ...] = ()
    accepted: tuple[CommunityAnswer, ...] = ()
    #: The agent answered SNMPv3 engine discovery (RFC 3414 §4): it is alive whatever the communities.
    v3_answered: bool = False
    v3_engine_id: str | None = Field(default=None, max_length=128)
    #: IANA private enterprise number from the engine id (RFC 3411 SnmpEngineID), e.g. 8072 = net-snmp.
    v3_enterprise: int | None = None
    v3_engine_boots: int | None = None
    v3_engine_time: int | None = None
    #: Write access is never tested (we never send a SET); it cannot be seen read-only.
    write_access: Literal["not determined"] = "not determined"
    #: From sysDescr when it discloses them (read by the KEV matcher).
    product: str | None = None
    version: str | None = None
