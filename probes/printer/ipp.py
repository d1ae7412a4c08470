"""Pure IPP/1.1 binary encoding (RFC 8010 §3) for one request and a bounded response decoder."""

from __future__ import annotations

from dataclasses import dataclass, field

from duecare.probes.errors import ProtocolError

GET_PRINTER_ATTRIBUTES = 0x000B
#: CUPS extension: the default destination's attributes, for CUPS servers that have no
#: /ipp/print resource (CUPS Implementation of IPP, "CUPS-Get-Default Operation").
CUPS_GET_DEFAULT = 0x4001
CLIENT_ERROR_NOT_FOUND = 0x0406
_OPERATION_GROUP, _END = 0x01, 0x03
_TAG_KEYWORD, _TAG_URI, _TAG_CHARSET, _TAG_LANGUAGE = 0x44, 0x45, 0x47, 0x48
_INTEGER_TAGS = {0x21, 0x23}  # integer, enum
_BOOLEAN = 0x22
_WITH_LANGUAGE = {0x35, 0x36}  # textWithLanguage, nameWithLanguage
_STRING_TAGS = {0x41, 0x42, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49}
_BEG_COLLECTION, _END_COLLECTION, _MEMBER_NAME = 0x34, 0x37, 0x4A
_MAX_VALUES = 2048
_MAX_DEPTH = 8

REQUESTED = (
    "printer-make-and-model",
    "printer-name",
    "printer-info",
    "printer-firmware-name",
    "printer-firmware-string-version",
    "uri-security-supported",
    "printer-uri-supported",
    "ipp-versions-supported",
)

Value = str | int | bool


def _attr(tag: int, name: str, value: bytes) -> bytes:
    raw_name = name.encode("ascii")
    return bytes((tag,)) + len(raw_name).to_bytes(2, "big") + raw_name + len(value).to_bytes(2, "big") + value


def _request(operation: int, request_id: int, printer_uri: str | None) -> bytes:
    out = bytearray(b"\x01\x01")  # IPP/1.1: every printer since 2000 answers it
    out += operation.to_bytes(2, "big") + request_id.to_bytes(4, "big")
    out.append(_OPERATION_GROUP)
    out += _attr(_TAG_CHARSET, "attributes-charset", b"utf-8")
    out += _attr(_TAG_LANGUAGE, "attributes-natural-language", b"en")
    if printer_uri is not None:
        out += _attr(_TAG_URI, "printer-uri", printer_uri.encode("utf-8"))
    for i, name in enumerate(REQUESTED):
        # Additional values of a 1setOf repeat the tag with an empty name (RFC 8010 §3.1.5).
        out += _attr(_TAG_KEYWORD, "requested-attributes" if i == 0 else "", name.encode("ascii"))
    out.append(_END)
    return bytes(out)


def get_printer_attributes(printer_uri: str, request_id: int = 1) -> bytes:
    """Get-Printer-Attributes (RFC 8011 §4.2.5) asking only for identification attributes."""
    return _request(GET_PRINTER_ATTRIBUTES, request_id, printer_uri)


def cups_get_default(request_id: int = 2) -> bytes:
    return _request(CUPS_GET_DEFAULT, request_id, None)


@dataclass(frozen=True)
class IppResponse:
    version: tuple[int, int]
    status: int
    request_id: int
    attributes: dict[str, list[Value]] = field(default_factory=dict)


def _decode(tag: int, value: bytes) -> Value:
    if tag in _INTEGER_TAGS:
        if len(value) != 4:
            raise ProtocolError(f"integer value of {len(value)} bytes")
        return int.from_bytes(value, "big", signed=True)
    if tag == _BOOLEAN:
        if len(value) != 1:
            raise ProtocolError("boolean value not 1 byte")
        return value != b"\x00"
    if tag in _WITH_LANGUAGE:
        if len(value) < 4:
            raise ProtocolError("textWithLanguage value truncated")
        lang_len = int.from_bytes(value[0:2], "big")
        pos = 2 + lang_len
        if pos + 2 > len(value):
            raise ProtocolError("textWithLanguage language overruns the value")
        text_len = int.from_bytes(value[pos : pos + 2], "big")
        if pos + 2 + text_len != len(value):
            raise ProtocolError("textWithLanguage text length does not match")
        return value[pos + 2 :].decode("utf-8", "replace")
    if tag in _STRING_TAGS:
        return value.decode("utf-8", "replace")
    return value.hex()  # octetString, dateTime, resolution, rangeOfInteger…: kept, not interpreted


def parse_response(data: bytes) -> IppResponse:
    if len(data) < 9:
        raise ProtocolError("IPP response shorter than its header")
    version = (data[0], data[1])
    if version[0] not in (1, 2):
        raise ProtocolError(f"not IPP (version byte {data[0]})")
    status = int.from_bytes(data[2:4], "big")
    request_id = int.from_bytes(data[4:8], "big")
    attrs: dict[str, list[Value]] = {}
    pos, depth, count, name = 8, 0, 0, ""
    while True:
        if pos >= len(data):
            raise ProtocolError("IPP response ends without end-of-attributes")
        tag = data[pos]
        pos += 1
        if tag == _END and depth == 0:
            return IppResponse(version, status, request_id, attrs)
        if tag < 0x10:  # a delimiter: the next attribute group begins
            if depth:
                raise ProtocolError("attribute group delimiter inside a collection")
            continue
        if tag == 0x7F:
            raise ProtocolError("extended value tags are not supported")
        if pos + 2 > len(data):
            raise ProtocolError("attribute name length truncated")
        name_len = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        raw_name = data[pos : pos + name_len]
        pos += name_len
        if pos + 2 > len(data):
            raise ProtocolError("attribute value length truncated")
        value_len = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + value_len > len(data):
            raise ProtocolError("attribute value overruns the response")
        value = data[pos : pos + value_len]
        pos += value_len
        count += 1
        if count > _MAX_VALUES:
            raise ProtocolError(f"more than {_MAX_VALUES} attribute values")
        if tag == _BEG_COLLECTION:
            if depth == 0 and raw_name:
                name = raw_name.decode("utf-8", "replace")
            depth += 1
            if depth > _MAX_DEPTH:
                raise ProtocolError("collections nested too deep")
            continue
        if tag == _END_COLLECTION:
            if depth == 0:
                raise ProtocolError("endCollection without begCollection")
            depth -= 1
            continue
        if depth:  # members of a collection: skipped, only top-level attributes are facts
            continue
        if raw_name:
            name = raw_name.decode("utf-8", "replace")
        elif not name:
            raise ProtocolError("additional value before any attribute name")
        attrs.setdefault(name, []).append(_decode(tag, value))
