"""Pure printer facts from what the raw port and the IPP service answered (see pjl.py, ipp.py)."""

from __future__ import annotations

from typing import Literal

from duecare.probes.printer.facts import PrinterFacts
from duecare.probes.printer.ipp import IppResponse, Value
from duecare.probes.printer.pjl import parse_info_id


def jetdirect_facts(reply: bytes | None) -> PrinterFacts:
    """``reply`` None means the port accepted and stayed silent (product unknown)."""
    if not reply:
        return PrinterFacts(service="jetdirect", raw_port_open=True)
    return PrinterFacts(service="jetdirect", raw_port_open=True, pjl_answered=True, pjl_id=parse_info_id(reply))


def _texts(values: list[Value] | None, limit: int = 8) -> tuple[str, ...]:
    return tuple(str(v)[:256] for v in (values or [])[:limit])


def _first(values: list[Value] | None) -> str | None:
    texts = _texts(values, 1)
    return texts[0] if texts else None


IppOperation = Literal["get-printer-attributes", "cups-get-default"]


def ipp_facts(http_status: int, response: IppResponse | None, operation: IppOperation) -> PrinterFacts:
    if response is None:
        return PrinterFacts(service="ipp", ipp_http_status=http_status, ipp_operation=operation)
    a = response.attributes
    return PrinterFacts(
        service="ipp",
        ipp_http_status=http_status,
        ipp_operation=operation,
        ipp_status=response.status,
        make_and_model=_first(a.get("printer-make-and-model")),
        printer_name=_first(a.get("printer-name")),
        firmware=_texts(a.get("printer-firmware-name")) + _texts(a.get("printer-firmware-string-version")),
        uri_security_supported=_texts(a.get("uri-security-supported"), 16),
        printer_uri_supported=_texts(a.get("printer-uri-supported"), 16),
        ipp_versions_supported=_texts(a.get("ipp-versions-supported"), 16),
    )
