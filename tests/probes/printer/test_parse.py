"""Printer parsing: IPP answers recorded from cupsd 2.4.2, PJL per HP's documented format, fuzz."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.printer.ipp import (
    CLIENT_ERROR_NOT_FOUND,
    REQUESTED,
    cups_get_default,
    get_printer_attributes,
    parse_response,
)
from duecare.probes.printer.parse import ipp_facts, jetdirect_facts
from duecare.probes.printer.pjl import INFO_ID, UEL, parse_info_id

FIXTURES = Path(__file__).parent / "fixtures"


def _bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_request_encoding_round_trips_through_our_decoder() -> None:
    req = parse_response(get_printer_attributes("ipp://198.18.0.5:631/ipp/print", request_id=7))
    # A request has the same layout; its operation-id sits where a response has its status.
    assert (req.version, req.status, req.request_id) == ((1, 1), 0x000B, 7)
    assert req.attributes["printer-uri"] == ["ipp://198.18.0.5:631/ipp/print"]
    assert req.attributes["requested-attributes"] == list(REQUESTED)
    assert parse_response(cups_get_default()).status == 0x4001


def test_cups_has_no_ipp_print_resource() -> None:
    r = parse_response(_bytes("cups242_gpa_ipp_print.bin"))
    assert r.status == CLIENT_ERROR_NOT_FOUND
    assert r.attributes["status-message"] == ["The printer or class does not exist."]


@pytest.mark.parametrize("name", ["cups242_cups_get_default.bin", "cups242_gpa_printers_lab.bin"])
def test_cups_printer_attributes(name: str) -> None:
    facts = ipp_facts(200, parse_response(_bytes(name)), "cups-get-default")
    assert facts.ipp_status == 0
    assert facts.make_and_model == "Local Raw Printer"
    assert facts.printer_name == "lab"
    assert facts.uri_security_supported == ("none",)
    assert facts.printer_uri_supported == ("ipp://198.19.77.1:631/printers/lab",)
    assert facts.ipp_versions_supported == ("1.0", "1.1", "2.0", "2.1")


def test_probe_sends_only_pjl_to_the_raw_port() -> None:
    # What p910nd wrote to its "printer": exactly our UEL-wrapped INFO ID, nothing printable.
    assert _bytes("p910nd097_device_received.bin") == INFO_ID
    assert INFO_ID.startswith(UEL)
    assert INFO_ID.endswith(UEL)


def test_silent_raw_port() -> None:
    assert _bytes("p910nd097_info_id_reply.bin") == b""
    facts = jetdirect_facts(None)
    assert facts.raw_port_open
    assert not facts.pjl_answered


def test_pjl_info_id_answer() -> None:
    facts = jetdirect_facts(_bytes("spec_hp_pjl_techref_info_id_format.bin"))
    assert facts.pjl_answered
    assert facts.pjl_id == "HP LaserJet 4250"


@pytest.mark.parametrize("data", [b"SSH-2.0-OpenSSH_9.2\r\n", b"@PJL INFO ID\r\n\x0c", b"\x00" * 10])
def test_non_pjl_answers(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_info_id(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01\x01\x00\x00\x00\x00\x00\x01", b"HTTP/1.1 200 OK\r\n\r\n", b"\x01\x01\x00\x00\x00\x00\x00\x01\x04"],
)
def test_broken_ipp(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(data)


def test_value_overrun_is_refused() -> None:
    with pytest.raises(ProtocolError, match="overruns"):
        parse_response(b"\x01\x01\x00\x00\x00\x00\x00\x01\x04\x41\x00\x01a\xff\xffxyz\x03")


@given(st.binary(max_size=1024))
def test_fuzz_garbage(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_response(data)
    with contextlib.suppress(ProtocolError):
        parse_info_id(data)


@given(st.sampled_from(["cups242_cups_get_default.bin", "cups242_gpa_ipp_print.bin"]), st.data())
def test_fuzz_mutated_cups_answers(name: str, data: st.DataObject) -> None:
    raw = bytearray(_bytes(name))
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ProtocolError):
        response = parse_response(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
        ipp_facts(200, response, "get-printer-attributes")
