"""A quick slice of bench/fuzz_all.py in CI: every parser, a few thousand inputs, no crash.

The full run (``python -m bench.fuzz_all``, ≥ 1,000,000 inputs) is a benchmark; this keeps the
discovery of entry points and the crash detector honest on every commit, and pins the inputs the
full run once crashed on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.fuzz_all import arm_hang_timer, call_once, run_hypothesis, run_mutator
from bench.fuzz_targets import Entry, discover, parser_modules
from duecare.probes.errors import ProtocolError
from duecare.probes.ports.parse import parse_nmap_xml
from duecare.probes.x509 import parse_certificate

TLS_CERT = Path(__file__).parents[1] / "probes" / "tls" / "fixtures" / "nginx1221_expired_cert.der"


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    arm_hang_timer()
    found, _skipped = discover()
    return found


def test_every_parser_module_has_entry_points(entries: list[Entry]) -> None:
    modules = {e.name.rsplit(".", 1)[0] for e in entries}
    assert set(parser_modules()) <= modules, sorted(set(parser_modules()) - modules)
    for name in (
        "duecare.probes.telnet.parse.parse_greeting",
        "duecare.probes.x509.parse_certificate",
        "duecare.probes.ntlm.parse_challenge",
        "duecare.probes.ports.parse.parse_nmap_xml",
        "duecare.probes.discovery.neighbors.parse_proc_net_arp",
        "duecare.probes.snmp.parse.decode_message",
    ):
        assert any(e.name == name for e in entries), name
    assert all(e.seeds for e in entries)


def test_crash_detector_tells_documented_errors_from_crashes() -> None:
    def documented(data: bytes) -> None:
        raise ProtocolError("bad")

    def crashing(data: bytes) -> None:
        raise KeyError("oops")

    arm_hang_timer()
    ok = Entry("documented", documented, "data", False, {}, "x", (b"",))
    bad = Entry("crashing", crashing, "data", False, {}, "x", (b"",))
    assert call_once(ok, b"abc", 2.0) is None
    crash = call_once(bad, b"abc", 2.0)
    assert crash is not None and crash.error.startswith("KeyError") and crash.data == b"abc"


def test_quick_slice_has_no_crash(entries: list[Entry]) -> None:
    counts, crashes = run_mutator(entries, per_entry=60, seed=7, hang_s=2.0)
    hcounts, hcrashes = run_hypothesis(entries, examples=12, hang_s=2.0)
    assert [(c.entry, c.error) for c in crashes + hcrashes] == []
    assert sum(counts.values()) + sum(hcounts.values()) >= 4000


def test_regression_unknown_xml_encoding_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_nmap_xml(b'<?xml version="1.0" encoding="UTF-TF-TF-8"?><nmaprun/>')


def test_regression_invalid_x509_version_never_escapes_as_a_crash() -> None:
    """Once a ValueError escaped here; now strict parsing refuses it and the tolerant read says so."""
    der = bytearray(TLS_CERT.read_bytes())
    at = der.find(bytes.fromhex("a003020102"))  # [0] EXPLICIT Version INTEGER 2 (v3)
    der[at + 4] = 120
    try:
        facts = parse_certificate(bytes(der), datetime.now(UTC))
    except ProtocolError:
        return
    assert facts.strict_der is False
