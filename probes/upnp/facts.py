"""What a UPnP device tells anyone on the LAN (US-CERT TA14-017A; UPnP Device Architecture 1.1)."""

from __future__ import annotations

from pydantic import Field

from duecare.probes.base import Facts

_TEXT = 256


class SsdpResponse(Facts):
    server: str | None = Field(default=None, max_length=_TEXT)
    st: str | None = Field(default=None, max_length=_TEXT)
    usn: str | None = Field(default=None, max_length=_TEXT)
    location: str | None = Field(default=None, max_length=1024)


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
