"""The SQL pre-filter of resolve candidates (``site_state.may_cover``) never drops a covered address."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from duecare.collector.coverage import Coverage
from duecare.collector.site_state import ipv4_prefix, may_cover
from tests.collector.factories import asset, make_report

_T = Table("t", MetaData(), Column("ip", String(64)))


def test_prefixes_widen_to_whole_octets() -> None:
    assert ipv4_prefix(ipaddress.ip_network("10.0.5.0/24")) == "10.0.5."
    assert ipv4_prefix(ipaddress.ip_network("10.0.5.64/26")) == "10.0.5."
    assert ipv4_prefix(ipaddress.ip_network("10.0.0.0/20")) == "10.0."
    assert ipv4_prefix(ipaddress.ip_network("10.0.0.7/32")) == "10.0.0.7"
    assert ipv4_prefix(ipaddress.ip_network("0.0.0.0/0")) is None
    assert ipv4_prefix(ipaddress.ip_network("2001:db8::/64")) is None


def _kept(coverage: Coverage, ips: list[str]) -> set[str]:
    cond = may_cover(_T.c.ip, coverage)
    if cond is None:
        return set(ips)
    engine = create_engine("sqlite://")
    _T.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(_T), [{"ip": ip} for ip in ips])
        return set(conn.execute(select(_T.c.ip).where(cond)).scalars())


octet = st.integers(0, 255)
address = st.tuples(st.sampled_from([1, 10, 100, 198]), octet, octet, octet).map(lambda t: ".".join(map(str, t)))
target = st.one_of(
    st.tuples(address, st.integers(0, 32)).map(lambda t: str(ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False))),
    address,
    st.just("2001:db8::/64"),
    st.just("not a target"),
)


@settings(max_examples=150, deadline=None)
@given(
    targets=st.lists(target, max_size=3),
    listed=st.lists(address, max_size=3),
    ips=st.lists(address, min_size=1, max_size=30),
)
def test_every_covered_address_is_kept(targets: list[str], listed: list[str], ips: list[str]) -> None:
    report: Any = make_report(targets=targets, assets=[asset(ip) for ip in listed])
    coverage = Coverage.of(report)
    covered = {ip for ip in ips + listed if coverage.covers_address(ipaddress.ip_address(ip))}
    assert covered <= _kept(coverage, ips + listed)
