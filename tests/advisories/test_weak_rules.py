"""Weak-rule checks (nuclei's honeypot lesson): a host that shows nothing, or shows everything
without versions, must not produce confident findings or version advisories."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from duecare.advisories.catalog import Catalog
from duecare.advisories.engine import FactsRecord
from duecare.advisories.obligations import apply_profile
from duecare.wire import Exposure, PortState, ProbeStatus, Proto, Service, Verdict
from tests.advisories.conftest import NOW

TARPIT = ip_address("198.18.0.120")  # lab host: accepts on many ports, never speaks
PORTS = (21, 23, 80, 443, 445, 3389, 5900, 6379)


def _records(catalog: Catalog, status: ProbeStatus) -> list[FactsRecord]:
    """One failed attempt per facts model the rules read, on every tarpit port."""
    models = {c.spec.facts for _, conds in catalog.rules for c in conds}
    return [
        FactsRecord(m.__name__.lower(), m, TARPIT, port, Proto.TCP, status, f"{status.value} (tarpit)", None)
        for m in models
        for port in PORTS
    ]


def _open_services(product: str | None, version: str | None) -> list[tuple[IPv4Address | IPv6Address, Service]]:
    return [
        (
            TARPIT,
            Service(port=p, proto=Proto.TCP, state=PortState.OPEN, name="unknown", product=product, version=version),
        )
        for p in PORTS
    ]


@pytest.mark.parametrize("status", [ProbeStatus.TIMED_OUT, ProbeStatus.NOT_PERMITTED, ProbeStatus.BUG])
def test_nothing_observed_yields_only_indeterminate(packaged: Catalog, status: ProbeStatus) -> None:
    findings = packaged.findings(_records(packaged, status), _open_services(None, None), NOW)
    assert findings, "an open question must be reported, not dropped"
    assert {f.verdict for f in findings} == {Verdict.INDETERMINATE}
    assert Exposure.KEV_VERSION_DISCLOSED not in {f.exposure for f in findings}
    _, summary = apply_profile(findings, packaged, "hipaa", NOW)
    assert summary.not_met == 0
    assert summary.unknown > 0


@pytest.mark.parametrize("status", [ProbeStatus.PROTOCOL_ERROR, ProbeStatus.UNREACHABLE, ProbeStatus.SKIPPED])
def test_silent_ports_give_no_findings(packaged: Catalog, status: ProbeStatus) -> None:
    assert packaged.findings(_records(packaged, status), [], NOW) == []


def test_everything_open_versions_unknown_triggers_no_version_advisory(packaged: Catalog) -> None:
    for product, version in [("Apache httpd", None), ("Samba smbd", "3.X - 4.X"), (None, None), ("tcpwrapped", "")]:
        findings = packaged.findings([], _open_services(product, version), NOW)
        assert findings == [], (product, version)
