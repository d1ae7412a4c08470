from __future__ import annotations

from ipaddress import ip_address

from hypothesis import given
from hypothesis import strategies as st

from duecare.collector.coverage import Coverage, parse_ports, parse_targets
from duecare.wire import Proto
from tests.collector.factories import asset, make_report


def test_parse_ports_nmap_notation() -> None:
    assert parse_ports("22,80,8000-8100") == ((22, 22), (80, 80), (8000, 8100))
    assert parse_ports("-1024, 60000-") == ((1, 1024), (60000, 65535))
    assert parse_ports("") == ()
    assert parse_ports("top1000") is None
    assert parse_ports("90-80") is None
    assert parse_ports("70000") is None


@given(st.text(max_size=60))
def test_parse_ports_never_raises(text: str) -> None:
    result = parse_ports(text)
    assert result is None or all(0 <= lo <= hi <= 65535 for lo, hi in result)


@given(st.lists(st.text(max_size=40), max_size=4))
def test_parse_targets_never_raises(specs: list[str]) -> None:
    parse_targets(specs)


def test_targets_ranges_and_exclusions() -> None:
    cov = Coverage.of(make_report(targets=["198.18.0.10-20", "10.9.0.0/30"], exclusions=["198.18.0.15"]))
    assert cov.covers_address(ip_address("198.18.0.12"))
    assert not cov.covers_address(ip_address("198.18.0.15"))
    assert not cov.covers_address(ip_address("198.18.0.21"))
    assert cov.covers_address(ip_address("10.9.0.3"))


def test_listed_asset_is_covered_even_outside_targets() -> None:
    cov = Coverage.of(make_report(targets=["198.18.0.0/30"], assets=[asset("198.18.0.99")]))
    assert cov.covers_address(ip_address("198.18.0.99"))


def test_port_must_have_been_scanned() -> None:
    cov = Coverage.of(make_report(tcp_ports="22,80"))
    ip = ip_address("198.18.0.5")
    assert cov.covers(ip, 80, Proto.TCP)
    assert not cov.covers(ip, 23, Proto.TCP)
    assert not cov.covers(ip, 161, Proto.UDP)  # no UDP scan in this report
    assert cov.covers(ip, None, None)


def test_unreadable_port_list_covers_no_port() -> None:
    cov = Coverage.of(make_report(tcp_ports="top1000"))
    assert not cov.covers(ip_address("198.18.0.5"), 23, Proto.TCP)


def test_unreadable_targets_cover_only_listed_assets() -> None:
    cov = Coverage.of(make_report(targets=["office-printer.local"], assets=[asset("198.18.0.7")]))
    assert cov.covers_address(ip_address("198.18.0.7"))
    assert not cov.covers_address(ip_address("198.18.0.8"))
