"""What a printer's raw (JetDirect, 9100) and IPP (631) ports tell an unauthenticated client."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts

_TEXT = 256


class PrinterFacts(Facts):
    service: Literal["jetdirect", "ipp"]
    #: JetDirect: the raw port accepted a TCP connection (it prints whatever it is sent).
    raw_port_open: bool = False
    #: JetDirect: the port answered ``@PJL INFO ID``; False = silent accept, product unknown.
    pjl_answered: bool = False
    pjl_id: str | None = Field(default=None, max_length=_TEXT)
    #: IPP: HTTP status of the POST and the IPP status code of the answer.
    ipp_http_status: int | None = None
    #: Which question was answered: Get-Printer-Attributes on /ipp/print, or CUPS-Get-Default on /.
    ipp_operation: Literal["get-printer-attributes", "cups-get-default"] | None = None
    ipp_status: int | None = Field(default=None, ge=0, le=0xFFFF)
    make_and_model: str | None = Field(default=None, max_length=_TEXT)
    printer_name: str | None = Field(default=None, max_length=_TEXT)
    #: printer-firmware-name / printer-firmware-string-version (PWG 5100.13), first 8 each.
    firmware: tuple[str, ...] = Field(default=(), max_length=16)
    #: uri-security-supported (RFC 8011 §5.4.3): "none" means cleartext IPP is offered.
    uri_security_supported: tuple[str, ...] = Field(default=(), max_length=16)
    printer_uri_supported: tuple[str, ...] = Field(default=(), max_length=16)
    ipp_versions_supported: tuple[str, ...] = Field(default=(), max_length=16)
