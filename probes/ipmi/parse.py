"""Pure IPMI-over-LAN encoding and decoding (IPMI v2.0 rev 1.1 §13, §22.13; DMTF ASF DSP0136).

Only the unauthenticated pre-session messages: Get Channel Authentication Capabilities and the
RMCP/ASF Presence Ping. No session is ever opened, no user name is ever sent.
"""

from __future__ import annotations

from duecare.probes.errors import ProtocolError
from duecare.probes.ipmi.facts import IpmiFacts

RMCP_HEADER_IPMI = bytes((0x06, 0x00, 0xFF, 0x07))  # version 1.0, reserved, no ACK, class IPMI
RMCP_HEADER_ASF = bytes((0x06, 0x00, 0xFF, 0x06))  # class ASF
ASF_IANA = (4542).to_bytes(4, "big")  # 0x000011BE, the ASF enterprise number
_PING, _PONG = 0x80, 0x40
_BMC_ADDR, _SW_ID = 0x20, 0x81
_NETFN_APP, _CMD_AUTH_CAPS = 0x06, 0x38
_PRIV_ADMIN = 0x04
_AUTH_BITS = ((0, "none"), (1, "md2"), (2, "md5"), (4, "straight"), (5, "oem"))


def _checksum(data: bytes) -> int:
    """IPMB two's-complement checksum: the bytes plus it sum to zero mod 256 (§13.8)."""
    return (-sum(data)) & 0xFF


def auth_capabilities_request(ask_v2: bool = True, seq: int = 0) -> bytes:
    """Get Channel Authentication Capabilities for the current channel at admin level.

    With ``ask_v2`` bit 7 of the channel byte asks for the IPMI v2.0 extended data; a v1.5-only
    BMC may refuse that with completion code 0xCC, and the probe then asks again without it.
    """
    header = bytes((_BMC_ADDR, _NETFN_APP << 2))
    body = bytes((_SW_ID, (seq & 0x3F) << 2, _CMD_AUTH_CAPS, 0x8E if ask_v2 else 0x0E, _PRIV_ADMIN))
    message = header + bytes((_checksum(header),)) + body + bytes((_checksum(body),))
    # Session header for "no session": auth type none, sequence 0, session id 0 (§13.6).
    session = bytes((0x00,)) + bytes(8) + bytes((len(message),))
    return RMCP_HEADER_IPMI + session + message


def presence_ping(tag: int = 0) -> bytes:
    return RMCP_HEADER_ASF + ASF_IANA + bytes((_PING, tag & 0xFF, 0x00, 0x00))


def _ipmi_message(data: bytes) -> bytes:
    if len(data) < 4 or data[0] != 0x06 or data[3] & 0x1F != 0x07:
        raise ProtocolError("not an RMCP IPMI-class datagram")
    pos = 4
    if len(data) < pos + 10:
        raise ProtocolError("IPMI session header truncated")
    auth_type = data[pos]
    if auth_type == 0x06:
        raise ProtocolError("RMCP+ payload where an IPMI v1.5 answer was expected")
    pos += 9 + (16 if auth_type != 0 else 0)  # type, sequence, session id, [auth code]
    if len(data) < pos + 1:
        raise ProtocolError("IPMI session header truncated")
    length = data[pos]
    pos += 1
    if len(data) < pos + length:
        raise ProtocolError(f"IPMI message announces {length} bytes, datagram has {len(data) - pos}")
    return data[pos : pos + length]


def parse_auth_capabilities(data: bytes) -> IpmiFacts:
    """Decode the answer to ``auth_capabilities_request``; anything else is a ProtocolError."""
    msg = _ipmi_message(data)
    if len(msg) < 8:
        raise ProtocolError("IPMI response shorter than its header")
    if _checksum(msg[0:2]) != msg[2] or _checksum(msg[3:-1]) != msg[-1]:
        raise ProtocolError("IPMI checksum mismatch")
    netfn, cmd, cc = msg[1] >> 2, msg[5], msg[6]
    if netfn != _NETFN_APP + 1 or cmd != _CMD_AUTH_CAPS:
        raise ProtocolError(f"unexpected IPMI response netfn 0x{netfn:02x} cmd 0x{cmd:02x}")
    if cc != 0:
        return IpmiFacts(source="channel-auth-capabilities", completion_code=cc)
    body = msg[7:-1]
    if len(body) < 8:
        raise ProtocolError(f"auth capabilities data is {len(body)} bytes, expected 8")
    channel, auth, status, ext = body[0], body[1], body[2], body[3]
    extended = bool(auth & 0x80)
    v2 = extended and bool(ext & 0x02)
    return IpmiFacts(
        source="channel-auth-capabilities",
        version="2.0" if v2 else "1.5",
        completion_code=0,
        channel=channel & 0x0F,
        auth_types=tuple(name for bit, name in _AUTH_BITS if auth & (1 << bit)),
        anonymous_login=bool(status & 0x01),
        null_usernames=bool(status & 0x02),
        non_null_usernames=bool(status & 0x04),
        user_level_auth_disabled=bool(status & 0x08),
        per_message_auth_disabled=bool(status & 0x10),
        kg_default=(not status & 0x20) if extended else None,
        oem_id=int.from_bytes(body[4:7], "little"),
    )


def parse_presence_pong(data: bytes) -> IpmiFacts:
    if len(data) < 12 or data[0] != 0x06 or data[3] & 0x1F != 0x06 or data[4:8] != ASF_IANA:
        raise ProtocolError("not an RMCP ASF message")
    if data[8] != _PONG:
        raise ProtocolError(f"ASF message type 0x{data[8]:02x}, not a Presence Pong")
    length = data[11]
    if length < 10 or len(data) < 12 + length:
        raise ProtocolError("Presence Pong data truncated")
    entities = data[12 + 8]
    return IpmiFacts(source="asf-presence-pong", ipmi_supported=bool(entities & 0x80))
