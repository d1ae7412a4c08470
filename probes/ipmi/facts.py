"""What an IPMI BMC says to anyone before any login (US-CERT TA13-207A)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts


class IpmiFacts(Facts):
    #: Which question was answered: Get Channel Authentication Capabilities (IPMI v2.0 §22.13) or,
    #: when the BMC stays silent to that, only an RMCP/ASF Presence Pong (DMTF DSP0136 §3.2.4).
    source: Literal["channel-auth-capabilities", "asf-presence-pong"]
    #: "2.0" when the BMC reports IPMI v2.0 (RMCP+) connections, "1.5" when only v1.5.
    version: Literal["1.5", "2.0"] | None = None
    completion_code: int | None = Field(default=None, ge=0, le=255)
    channel: int | None = Field(default=None, ge=0, le=15)
    #: IPMI v1.5 session authentication types the channel accepts: none, md2, md5, straight, oem.
    auth_types: tuple[str, ...] = ()
    #: Anonymous login (null user name AND null password) enabled: byte 3 bit 0.
    anonymous_login: bool | None = None
    #: Null user names (with a password) enabled: byte 3 bit 1.
    null_usernames: bool | None = None
    non_null_usernames: bool | None = None
    per_message_auth_disabled: bool | None = None
    user_level_auth_disabled: bool | None = None
    #: RMCP+ two-key login: True when the BMC key (K_G) is still the all-zero default.
    kg_default: bool | None = None
    oem_id: int | None = Field(default=None, ge=0, le=0xFFFFFF)
    #: From a Presence Pong: the managed entity says it supports IPMI.
    ipmi_supported: bool | None = None
