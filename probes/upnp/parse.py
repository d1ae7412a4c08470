"""Pure SSDP and UPnP description parsing (UPnP Device Architecture 1.1, §1.3 and §2.3).

SSDP answers are HTTP over UDP. The description is XML from a device we do not trust, so it is
parsed with defusedxml with DTDs forbidden: no entity expansion, no external fetches.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from duecare.probes.errors import ProtocolError
from duecare.probes.upnp.facts import IgdFacts, SsdpResponse, UpnpDevice, UpnpFacts
from duecare.probes.upnp.igd import wan_services

MAX_DESCRIPTION = 64 * 1024
_MAX_HEADERS = 64
_IGD_MARKERS = ("InternetGatewayDevice", "WANIPConnection", "WANPPPConnection", "WANCommonInterfaceConfig")


def m_search(host: str, port: int = 1900, mx: int = 1) -> bytes:
    """A unicast M-SEARCH for everything (UDA 1.1 §1.3.2): HOST names the target itself."""
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {hostport}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {mx}\r\n"
        "ST: ssdp:all\r\n"
        "USER-AGENT: duecare/0.1 UPnP/1.1 audit/0.1\r\n\r\n"
    ).encode("ascii")


def parse_ssdp_response(data: bytes) -> SsdpResponse:
    text = data.decode("utf-8", "replace")
    head, _, _ = text.partition("\r\n\r\n")
    lines = head.split("\r\n") if "\r\n" in head else head.split("\n")
    status = lines[0].split(None, 2)
    if len(status) < 2 or not status[0].upper().startswith("HTTP/1.") or status[1] != "200":
        raise ProtocolError(f"not an SSDP answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1 : _MAX_HEADERS + 1]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().upper(), value.strip())
    if "ST" not in headers and "USN" not in headers:
        raise ProtocolError("SSDP answer without ST or USN")
    return SsdpResponse(
        server=_cap(headers.get("SERVER"), 256),
        st=_cap(headers.get("ST"), 256),
        usn=_cap(headers.get("USN"), 256),
        location=_cap(headers.get("LOCATION"), 1024),
    )


def _cap(value: str | None, n: int) -> str | None:
    return None if value is None else value[:n]


def location_refusal(location: str, target: IPv4Address | IPv6Address) -> str | None:
    """Why we will not fetch ``location`` (None when it is plain http on the target itself).

    A LOCATION pointing elsewhere would make us a request forwarder for whoever answers SSDP
    (the CallStranger family, CVE-2020-12695): we never follow it to another host.
    """
    try:
        parts = urlsplit(location)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return "LOCATION is not a valid URL"
    if parts.scheme != "http":
        return f"LOCATION scheme {parts.scheme!r} is not http"
    if parts.username is not None or parts.password is not None:
        return "LOCATION carries credentials"
    if host is None:
        return "LOCATION has no host"
    try:
        addr = ip_address(host)
    except ValueError:
        return "LOCATION names a host by name; only the target's own address is fetched"
    if addr != target:
        return f"LOCATION points to {addr}, not the target"
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(el: Element, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            text = (child.text or "").strip()
            return text[:256] or None
    return None


def _walk(el: Element, name: str) -> Iterable[str]:
    for node in el.iter():
        if _local(node.tag) == name and node.text and node.text.strip():
            yield node.text.strip()[:256]


def parse_device_description(xml: bytes, location: str = "") -> UpnpDevice:
    """The root device; ``location`` (where it was fetched) resolves relative control URLs."""
    if len(xml) > MAX_DESCRIPTION:
        raise ProtocolError(f"device description over {MAX_DESCRIPTION} bytes")
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise ProtocolError(f"device description is not safe, well-formed XML: {type(exc).__name__}") from exc
    if _local(root.tag) != "root":
        raise ProtocolError(f"device description root is <{_local(root.tag)[:40]}>, not <root>")
    device = next((c for c in root if _local(c.tag) == "device"), None)
    if device is None:
        raise ProtocolError("device description has no <device>")
    return UpnpDevice(
        device_type=_child_text(device, "deviceType"),
        friendly_name=_child_text(device, "friendlyName"),
        manufacturer=_child_text(device, "manufacturer"),
        model_name=_child_text(device, "modelName"),
        model_number=_child_text(device, "modelNumber"),
        model_description=_child_text(device, "modelDescription"),
        device_types=tuple(dict.fromkeys(_walk(device, "deviceType")))[:64],
        service_types=tuple(dict.fromkeys(_walk(device, "serviceType")))[:64],
        wan_services=wan_services(root, location),
    )


def build_facts(
    responses: Iterable[SsdpResponse],
    location: str | None,
    device: UpnpDevice | None,
    skipped: str | None,
    igd: IgdFacts | None = None,
    igd_skipped: str | None = None,
) -> UpnpFacts:
    answers = tuple(responses)[:32]
    markers = [r.st or "" for r in answers] + [r.usn or "" for r in answers]
    if device is not None:
        markers += [*device.device_types, *device.service_types]
    return UpnpFacts(
        responses=answers,
        location=location,
        description_skipped=None if skipped is None else skipped[:300],
        device=device,
        internet_gateway=any(m in s for s in markers for m in _IGD_MARKERS),
        igd=igd,
        igd_skipped=None if igd_skipped is None else igd_skipped[:300],
    )
