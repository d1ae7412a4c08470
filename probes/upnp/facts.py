"""What a UPnP device tells anyone on the LAN (US-CERT TA14-017A; UPnP Device Architecture 1.1)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts

_TEXT = 256


class SsdpResponse(Facts):
    server: str | None = Field(default=None, max_length=_TEXT)
    st: str | None = Field(default=None, max_length=_TEXT)
    usn: str | None = Field(default=None, max_length=_TEXT)
    location: str | None = Field(default=None, max_length=1024)


class WanService(Facts):
    """A WANIPConnection/WANPPPConnection service of an IGD and its absolute control URL."""

    service_type: str = Field(max_length=_TEXT)
    control_url: str = Field(max_length=1024)


class PortMapping(Facts):
    """One entry of the gateway's UPnP port-mapping table (GetGenericPortMappingEntry)."""

    protocol: Literal["tcp", "udp"]
    external_port: int = Field(ge=1, le=65535)
    internal_client: str = Field(max_length=64)
    internal_port: int = Field(ge=1, le=65535)
    #: Empty on the wire means "any remote host".
    remote_host: str | None = Field(default=None, max_length=_TEXT)
    description: str | None = Field(default=None, max_length=_TEXT)
    enabled: bool = True
    #: 0 is a permanent mapping; None when the gateway sent no number.
    lease_seconds: int | None = Field(default=None, ge=0)


class IgdFacts(Facts):
    """What the gateway's read-only IGD actions answered."""

    service_type: str = Field(max_length=_TEXT)
    control_url: str = Field(max_length=1024)
    external_ip: str | None = Field(default=None, max_length=64)
    mappings: tuple[PortMapping, ...] = Field(default=(), max_length=64)
    #: True when the table was read to its end (fault 713); False when a cap or an error stopped it.
    complete: bool = False
    #: Why the read stopped early or an action failed, in the gateway's words where it gave any.
    note: str | None = Field(default=None, max_length=300)


class UpnpDevice(Facts):
    """The root device of the description document (UDA 1.1 §2.3)."""

    device_type: str | None = Field(default=None, max_length=_TEXT)
    friendly_name: str | None = Field(default=None, max_length=_TEXT)
    manufacturer: str | None = Field(default=None, max_length=_TEXT)
    model_name: str | None = Field(default=None, max_length=_TEXT)
    model_number: str | None = Field(default=None, max_length=_TEXT)
    model_description: str | None = Field(default=None, max_length=_TEXT)
    #: Every deviceType and serviceType in the tree (embedded devices included), first 64.
    device_types: tuple[str, ...] = Field(default=(), max_length=64)
    service_types: tuple[str, ...] = Field(default=(), max_length=64)
    wan_services: tuple[WanService, ...] = Field(default=(), max_length=8)


class UpnpFacts(Facts):
    responses: tuple[SsdpResponse, ...] = Field(max_length=32)
    #: The LOCATION we fetched, or would have fetched.
    location: str | None = Field(default=None, max_length=1024)
    #: Why the description was not fetched or not parsed (another host, not http, too big…).
    description_skipped: str | None = Field(default=None, max_length=300)
    device: UpnpDevice | None = None
    #: An InternetGatewayDevice (or its WAN connection services) answered: the router's
    #: port-forward table is readable and writable by any LAN host (UPnP IGD).
    internet_gateway: bool = False
    #: The gateway's external address and port-mapping table, read with read-only IGD actions.
    igd: IgdFacts | None = None
    #: Why the IGD table was not read (no WAN service, control URL on another host…).
    igd_skipped: str | None = Field(default=None, max_length=300)
