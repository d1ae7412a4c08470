"""What ``Nmap.ports`` asks nmap for when the scan asks for one half (TCP or UDP) at a time."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from duecare.probes.ports._nmap import Nmap
from duecare.probes.ports.facts import PortScan


def _asked(monkeypatch: pytest.MonkeyPatch, nmap: Nmap, tcp: str, udp: str) -> list[tuple[str | None, list[str]]]:
    calls: list[tuple[str | None, list[str]]] = []

    def run(hosts: Sequence[str], ports: str | None, args: list[str], timeout_s: float) -> PortScan:
        calls.append((ports, args))
        return PortScan()

    monkeypatch.setattr(nmap, "_run", run)
    nmap.ports(["198.18.0.10"], tcp=tcp, udp=udp, timeout_s=5)
    return calls


def test_tcp_half_is_a_syn_scan_only(monkeypatch: pytest.MonkeyPatch) -> None:
    ((ports, args),) = _asked(monkeypatch, Nmap(privileged=True), "22,80", "")
    assert ports == "T:22,80" and "-sS" in args and "-sU" not in args


def test_udp_half_is_a_udp_scan_only(monkeypatch: pytest.MonkeyPatch) -> None:
    ((ports, args),) = _asked(monkeypatch, Nmap(privileged=True), "", "161")
    assert ports == "U:161" and "-sU" in args and "-sS" not in args


def test_both_halves_in_one_run_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    ((ports, args),) = _asked(monkeypatch, Nmap(privileged=True, min_rate=2000), "22", "161")
    assert ports == "T:22,U:161" and {"-sS", "-sU"} <= set(args) and "2000" in args


def test_nothing_to_ask_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _asked(monkeypatch, Nmap(privileged=False), "", "161") == []
    assert _asked(monkeypatch, Nmap(privileged=True), "", "") == []
