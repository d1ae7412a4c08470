"""What an SMB server tells an unauthenticated client: dialects, signing, host names, sessions."""

from __future__ import annotations

import enum

from pydantic import AwareDatetime, Field

from duecare.probes.base import Facts
from duecare.probes.ntlm import NtlmVersion

_NAME_CAP = 256
MAX_SHARES = 64
SHARE_NAME_CAP = 80


class Smb1Outcome(enum.StrEnum):
    """How the server answered an SMB_COM_NEGOTIATE offering only ``NT LM 0.12``.

    Refusals come in several shapes (detection-methods.md §3.7): Samba answers DialectIndex
    0xFFFF (nuclei-templates #4636), Windows resets or closes. Silence is *not* a refusal.
    """

    ACCEPTED = "accepted"
    NO_COMMON_DIALECT = "no-common-dialect"
    ERROR_STATUS = "error-status"
    CONNECTION_RESET = "connection-reset"
    CONNECTION_CLOSED = "connection-closed"
    TIMED_OUT = "timed-out"
    FAILED = "failed"
    NOT_TRIED = "not-tried"

    @property
    def refused(self) -> bool:
        return self in _SMB1_REFUSALS


_SMB1_REFUSALS = frozenset(
    {
        Smb1Outcome.NO_COMMON_DIALECT,
        Smb1Outcome.ERROR_STATUS,
        Smb1Outcome.CONNECTION_RESET,
        Smb1Outcome.CONNECTION_CLOSED,
    }
)


class Smb1Negotiation(Facts):
    """SMB_COM_NEGOTIATE response for NT LM 0.12 ([MS-CIFS] 2.2.4.52.2)."""

    dialect_index: int = Field(ge=0, le=0xFFFE)
    security_mode: int = Field(ge=0, le=0xFF)
    signing_enabled: bool
    signing_required: bool
    capabilities: int = Field(ge=0, le=0xFFFFFFFF)
    extended_security: bool
    max_buffer_size: int = Field(ge=0, le=0xFFFFFFFF)
    system_time: AwareDatetime | None = None


class Smb1SessionSetup(Facts):
    """The server's reply to our first SMB1 SESSION_SETUP_ANDX ([MS-SMB] 2.2.4.6.2, [MS-CIFS] 2.2.4.53.2).

    Sent on the SMB1 NEGOTIATE connection, as nmap's smb-os-discovery does; authentication is never
    completed (we send only an NTLM NEGOTIATE), so no session exists to log off.
    """

    #: MORE_PROCESSING_REQUIRED (0xc0000016) is the normal answer; an error status ends the exchange.
    nt_status: int = Field(ge=0, le=0xFFFFFFFF)
    #: What the server calls its OS and its SMB implementation: Windows "Windows Server 2003 3790
    #: Service Pack 2" / "Windows Server 2003 5.2"; Samba "Windows 6.1" / "Samba 4.17.12-Debian".
    native_os: str | None = Field(default=None, max_length=_NAME_CAP)
    native_lanman: str | None = Field(default=None, max_length=_NAME_CAP)
    primary_domain: str | None = Field(default=None, max_length=_NAME_CAP)
    #: The NTLM CHALLENGE's VERSION inside the security blob, when the trust rule accepts it.
    os_version: NtlmVersion | None = None
    netbios_name: str | None = Field(default=None, max_length=_NAME_CAP)
    netbios_domain: str | None = Field(default=None, max_length=_NAME_CAP)


class Smb2Negotiation(Facts):
    """SMB2 NEGOTIATE response ([MS-SMB2] 2.2.4), as the server sent it."""

    dialect: int = Field(ge=0, le=0xFFFF)
    dialect_name: str = Field(max_length=16)
    security_mode: int = Field(ge=0, le=0xFFFF)
    signing_enabled: bool
    signing_required: bool
    capabilities: int = Field(ge=0, le=0xFFFFFFFF)
    server_guid: str = Field(pattern=r"^[0-9a-f]{32}$")
    max_transact_size: int = Field(ge=0, le=0xFFFFFFFF)
    max_read_size: int = Field(ge=0, le=0xFFFFFFFF)
    max_write_size: int = Field(ge=0, le=0xFFFFFFFF)
    system_time: AwareDatetime | None = None
    server_start_time: AwareDatetime | None = None
    security_blob_length: int = Field(ge=0, le=0xFFFF)
    negotiate_context_types: tuple[int, ...] = Field(default=(), max_length=32)


class SessionOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    #: The server answered the session setup with an error status (logon failure, disabled…).
    DENIED = "denied"
    TIMED_OUT = "timed-out"
    FAILED = "failed"
    NOT_TRIED = "not-tried"


class SmbHostInfo(Facts):
    """Names and OS from the NTLM CHALLENGE of an anonymous session setup (§3.3)."""

    netbios_name: str | None = Field(default=None, max_length=_NAME_CAP)
    netbios_domain: str | None = Field(default=None, max_length=_NAME_CAP)
    dns_hostname: str | None = Field(default=None, max_length=_NAME_CAP)
    dns_domain: str | None = Field(default=None, max_length=_NAME_CAP)
    #: impacket's rendering: the NTLM VERSION for SMB2/3, the NativeOS string for SMB1.
    os: str | None = Field(default=None, max_length=_NAME_CAP)
    os_version: NtlmVersion | None = None


class SmbSession(Facts):
    """One session setup with an empty password, and what it could read."""

    user: str = Field(max_length=32)
    outcome: SessionOutcome
    #: NT status of a refused session setup; None when accepted or never answered.
    nt_status: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    #: SessionFlags IS_GUEST (SMB2) / Action SMB_SETUP_GUEST (SMB1): the server mapped us to guest.
    is_guest: bool | None = None
    dialect: str | None = Field(default=None, max_length=16)
    #: Share names from NetrShareEnum; None when not listed.
    shares: tuple[str, ...] | None = Field(default=None, max_length=MAX_SHARES)
    #: Error code of a failed share listing (NT status or DCE/RPC fault), when there was one.
    share_listing_error: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    error: str | None = Field(default=None, max_length=300)


class SmbFacts(Facts):
    #: The answer to a NEGOTIATE offering every SMB2/3 dialect: the highest the server speaks.
    smb2: Smb2Negotiation | None = None
    #: SMB2/3 dialects the server accepted when offered alone (names: "2.1", "3.1.1"…).
    smb2_dialects: tuple[str, ...] = ()
    #: Dialects whose single-dialect check got no clear answer (timeout, budget, garbage).
    smb2_dialects_unchecked: tuple[str, ...] = ()
    smb1_outcome: Smb1Outcome
    smb1: Smb1Negotiation | None = None
    #: NT status of an SMB1 negotiate answered with an error.
    smb1_status: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    #: The first SESSION_SETUP_ANDX on the SMB1 connection, when SMB1 was accepted and it answered.
    smb1_session_setup: Smb1SessionSetup | None = None
    host: SmbHostInfo | None = None
    anonymous: SmbSession
    guest: SmbSession


class Ms17010Outcome(enum.StrEnum):
    """Result of nmap's smb-vuln-ms17-010 logic (detection-methods.md §3.5)."""

    VULNERABLE = "vulnerable"
    PATCHED = "patched"
    SMB1_REFUSED = "smb1-refused"
    NO_SESSION = "no-session"
    IPC_REFUSED = "ipc-refused"
    UNEXPECTED_STATUS = "unexpected-status"


class Ms17010Facts(Facts):
    outcome: Ms17010Outcome
    #: NT status that decided the outcome (TRANS reply, session setup or tree connect).
    nt_status: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    #: Which empty-password session reached IPC$ ("" = anonymous, "Guest").
    session_user: str | None = Field(default=None, max_length=32)
