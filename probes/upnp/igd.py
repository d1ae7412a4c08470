"""Read-only UPnP IGD SOAP: the gateway's external address and its port-mapping table. Pure.

Only two actions are ever built, both read-only (UPnP IGD WANIPConnection:1/:2 service templates,
§2.4.6 GetGenericPortMappingEntry, §2.4.18 GetExternalIPAddress; WANPPPConnection:1 has the same
two). ``AddPortMapping`` and ``DeletePortMapping`` are never sent. The table is read by index from 0
until the gateway answers fault 713 ``SpecifiedArrayIndexInvalid`` (the documented end of the list)
or a cap, so a hostile gateway cannot keep the agent reading forever.
"""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from duecare.probes.errors import ProtocolError
from duecare.probes.upnp.facts import PortMapping, WanService

MAX_SOAP = 16 * 1024
#: Mapping entries read at most: a home router keeps a few dozen; miniupnpd's default limit is 128.
MAX_MAPPINGS = 64
#: UPnP IGD "SpecifiedArrayIndexInvalid": the index is past the end of the table.
END_OF_LIST = 713
WAN_SERVICES = ("WANIPConnection", "WANPPPConnection")
READ_ACTIONS = frozenset({"GetExternalIPAddress", "GetGenericPortMappingEntry"})
_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"


class SoapFault(ProtocolError):
    """The gateway answered a UPnP error (a SOAP fault with an ``UPnPError`` detail)."""

    def __init__(self, code: int | None, description: str) -> None:
        super().__init__(f"UPnP error {code}: {description}")
        self.code = code
        self.description = description


def soap_request(service_type: str, action: str, args: dict[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    """(headers, body) for one read-only action; anything else is refused before it is built."""
    if action not in READ_ACTIONS:
        raise ValueError(f"{action} is not a read-only IGD action; only {sorted(READ_ACTIONS)} are sent")
    if not any(f":service:{name}:" in service_type for name in WAN_SERVICES):
        raise ValueError(f"{service_type!r} is not a WANIPConnection/WANPPPConnection service")
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in (args or {}).items())
    body = (
        '<?xml version="1.0"?>\r\n'
        f'<s:Envelope xmlns:s="{_ENVELOPE}" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
        f'<s:Body><u:{action} xmlns:u="{escape(service_type)}">{inner}</u:{action}></s:Body></s:Envelope>\r\n'
    )
    headers = {
        "Content-Type": 'text/xml; charset="utf-8"',
        "SOAPAction": f'"{service_type}#{action}"',
    }
    return headers, body.encode("utf-8")


def external_ip_request(service_type: str) -> tuple[dict[str, str], bytes]:
    return soap_request(service_type, "GetExternalIPAddress")


def mapping_request(service_type: str, index: int) -> tuple[dict[str, str], bytes]:
    if not 0 <= index < 65536:
        raise ValueError(f"mapping index {index} out of range")
    return soap_request(service_type, "GetGenericPortMappingEntry", {"NewPortMappingIndex": str(index)})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(xml: bytes) -> Element:
    if len(xml) > MAX_SOAP:
        raise ProtocolError(f"SOAP answer over {MAX_SOAP} bytes")
    try:
        return SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise ProtocolError(f"SOAP answer is not safe, well-formed XML: {type(exc).__name__}") from exc


def _response_args(xml: bytes, action: str) -> dict[str, str]:
    """The output arguments of ``<action>Response``, or the UPnP error as ``SoapFault``."""
    root = _parse(xml)
    if _local(root.tag) != "Envelope":
        raise ProtocolError(f"SOAP answer root is <{_local(root.tag)[:40]}>, not <Envelope>")
    body = next((c for c in root if _local(c.tag) == "Body"), None)
    if body is None or len(body) == 0:
        raise ProtocolError("SOAP answer has no Body")
    first = body[0]
    if _local(first.tag) == "Fault":
        code_text = next((n.text for n in first.iter() if _local(n.tag) == "errorCode"), None)
        desc = next((n.text for n in first.iter() if _local(n.tag) == "errorDescription"), None) or ""
        code = int(code_text.strip()) if code_text and code_text.strip().isdigit() and len(code_text) < 8 else None
        raise SoapFault(code, desc.strip()[:120])
    if _local(first.tag) != f"{action}Response":
        raise ProtocolError(f"SOAP answer is <{_local(first.tag)[:60]}>, not <{action}Response>")
    return {_local(c.tag): (c.text or "").strip()[:256] for c in list(first)[:32]}


def _port(value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or not 0 < int(value) < 65536:
        raise ProtocolError(f"{name} is not a port: {str(value)[:20]!r}")
    return int(value)


def parse_external_ip(xml: bytes) -> IPv4Address | None:
    """The WAN address the gateway reports; None when it reports none (empty, or not yet connected)."""
    value = _response_args(xml, "GetExternalIPAddress").get("NewExternalIPAddress", "")
    if not value:
        return None
    try:
        addr = ip_address(value)
    except ValueError as exc:
        raise ProtocolError(f"NewExternalIPAddress is not an address: {value[:40]!r}") from exc
    if not isinstance(addr, IPv4Address):
        raise ProtocolError("NewExternalIPAddress is not IPv4")
    return addr


def parse_mapping(xml: bytes) -> PortMapping:
    """One port-mapping entry; the end of the table is ``SoapFault`` with code 713."""
    a = _response_args(xml, "GetGenericPortMappingEntry")
    proto = a.get("NewProtocol", "").upper()
    if proto not in ("TCP", "UDP"):
        raise ProtocolError(f"NewProtocol is {proto[:10]!r}, not TCP/UDP")
    client = a.get("NewInternalClient", "")
    try:
        internal = ip_address(client)
    except ValueError as exc:
        raise ProtocolError(f"NewInternalClient is not an address: {client[:40]!r}") from exc
    lease = a.get("NewLeaseDuration", "0")
    return PortMapping(
        protocol="tcp" if proto == "TCP" else "udp",
        external_port=_port(a.get("NewExternalPort"), "NewExternalPort"),
        internal_client=str(internal),
        internal_port=_port(a.get("NewInternalPort"), "NewInternalPort"),
        remote_host=a.get("NewRemoteHost") or None,
        description=a.get("NewPortMappingDescription") or None,
        enabled=a.get("NewEnabled", "1") not in ("0", "false"),
        lease_seconds=int(lease) if lease.isdigit() and len(lease) < 10 else None,
    )


def wan_services(xml_root: Element, location: str) -> tuple[WanService, ...]:
    """WANIPConnection/WANPPPConnection services of a description tree, control URLs made absolute.

    UDA 1.1 §2.3: controlURL is relative to URLBase when present, else to the description's URL.
    """
    base = next((c.text.strip() for c in xml_root if _local(c.tag) == "URLBase" and c.text), None) or location
    found: list[WanService] = []
    for node in xml_root.iter():
        if _local(node.tag) != "service":
            continue
        fields = {_local(c.tag): (c.text or "").strip() for c in node}
        stype, control = fields.get("serviceType", ""), fields.get("controlURL", "")
        if control and any(f":service:{name}:" in stype for name in WAN_SERVICES):
            found.append(WanService(service_type=stype[:256], control_url=urljoin(base, control)[:1024]))
        if len(found) >= 8:
            break
    return tuple(found)
