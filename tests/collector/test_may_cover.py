"""The SQL pre-filter of resolve candidates (``site_state.may_cover``) never drops a covered address,
IPv4 or IPv6, and each of its terms is one range of the (site, ip_key) index."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Index, LargeBinary, MetaData, String, Table, create_engine, insert, select

from duecare.collector.coverage import Coverage
from duecare.collector.rows import ip_key
from duecare.collector.site_state import MAX_RANGES, _point, _span, key_ranges, may_cover
from tests.collector.factories import asset, make_report

_T = Table(
    "t",
    MetaData(),
    Column("site", String(8)),
    Column("ip", String(64)),
    Column("ip_key", LargeBinary(16)),
    Index("ix_t_site_key", "site", "ip_key"),
)
_ENGINE = create_engine("sqlite://")
_T.metadata.create_all(_ENGINE)


def _kept(coverage: Coverage, ips: list[str]) -> set[str]:
    cond = may_cover(_T.c.site == "s", _T.c.ip_key, coverage)
    with _ENGINE.begin() as conn:
        conn.execute(_T.delete())
        rows = [{"site": site, "ip": ip, "ip_key": ip_key(ip)} for ip in ips for site in ("s", "other")]
        conn.execute(insert(_T), rows)
        return set(conn.execute(select(_T.c.ip).where(cond)).scalars())


def test_keys_sort_like_addresses() -> None:
    ips = ["0.0.0.0", "10.0.5.7", "10.0.5.255", "255.255.255.255", "::", "::1", "2001:db8::1", "ffff::"]
    by_key = sorted(ips, key=ip_key)
    assert [ipaddress.ip_address(ip) for ip in by_key if ":" not in ip] == sorted(
        ipaddress.ip_address(ip) for ip in ips if ":" not in ip
    )
    assert all(len(ip_key(ip)) == 16 for ip in ips)
    assert ip_key("10.0.5.7") == ipaddress.ip_address("::ffff:10.0.5.7").packed


def test_ranges_merge_and_stay_bounded() -> None:
    report: Any = make_report(targets=["10.0.5.0/25", "10.0.5.128/25", "10.0.7.1"])
    assert key_ranges(Coverage.of(report)) == [
        (ip_key("10.0.5.0"), ip_key("10.0.5.255")),
        (ip_key("10.0.7.1"), ip_key("10.0.7.1")),
    ]
    many: Any = make_report(targets=[f"10.{i}.0.1" for i in range(0, 250, 2)])
    ranges = key_ranges(Coverage.of(many))
    assert len(ranges) == MAX_RANGES
    assert ranges[0][0] == ip_key("10.0.0.1") and ranges[-1][1] == ip_key("10.248.0.1")
    unreadable: Any = make_report(targets=["not a target"], assets=[asset("10.0.0.9")])
    assert key_ranges(Coverage.of(unreadable)) == [(ip_key("10.0.0.9"), ip_key("10.0.0.9"))]


def test_each_term_is_an_index_range() -> None:
    report: Any = make_report(targets=["10.0.5.0/24", "2001:db8::/64"], assets=[asset("10.0.9.9")])
    cond = may_cover(_T.c.site == "s", _T.c.ip_key, Coverage.of(report))
    stmt = select(_T.c.ip).where(cond).compile(_ENGINE)
    params = tuple(stmt.params[k] for k in stmt.positiontup or ())
    with _ENGINE.connect() as conn:
        plan = [r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {stmt}", params)]
    assert any("MULTI-INDEX OR" in p for p in plan), plan
    assert sum("ix_t_site_key (site=? AND ip_key" in p for p in plan) == 3, plan
    assert not any(p.startswith("SCAN") for p in plan), plan


octet = st.integers(0, 255)
v4 = st.tuples(st.sampled_from([0, 1, 10, 100, 198, 255]), octet, octet, octet).map(lambda t: ".".join(map(str, t)))
v6 = st.tuples(st.sampled_from(["2001:db8", "2001:db8:0:1", "fe80", "::ffff"]), st.integers(0, 0xFFFF)).map(
    lambda t: str(ipaddress.ip_address(f"{t[0]}::{t[1]:x}" if t[0] != "::ffff" else f"::ffff:{t[1]:x}"))
)
address = st.one_of(v4, v4, v6)


def _net(ip: str, bits: int) -> str:
    top = 32 if ":" not in ip else 128
    return str(ipaddress.ip_network(f"{ip}/{min(bits, top) if ':' not in ip else bits * 4}", strict=False))


target = st.one_of(
    st.tuples(address, st.integers(0, 32)).map(lambda t: _net(*t)),
    address,
    st.tuples(v4, v4).map(lambda t: "-".join(sorted(t, key=ip_key))),
    st.just("not a target"),
)


@settings(max_examples=300, deadline=None)
@given(
    targets=st.lists(target, max_size=40),
    exclusions=st.lists(target, max_size=2),
    listed=st.lists(address, max_size=5),
    ips=st.lists(address, min_size=1, max_size=40),
)
def test_every_covered_address_is_kept(
    targets: list[str], exclusions: list[str], listed: list[str], ips: list[str]
) -> None:
    report: Any = make_report(targets=targets, assets=[asset(ip) for ip in listed])
    report = report.model_copy(update={"scope": report.scope.model_copy(update={"exclusions": tuple(exclusions)})})
    coverage = Coverage.of(report)
    covered = {ip for ip in ips + listed if coverage.covers_address(ipaddress.ip_address(ip))}
    assert covered <= _kept(coverage, ips + listed)


@given(st.ip_addresses())
def test_ip_key_is_the_mapped_address_for_every_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """The ``inet_pton`` fast path and the ``ipaddress`` one give the same 16 bytes."""
    mapped = addr if isinstance(addr, ipaddress.IPv6Address) else ipaddress.IPv6Address(f"::ffff:{addr}")
    assert ip_key(str(addr)) == mapped.packed


@given(ip=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_an_asset_is_the_range_of_its_own_network(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """``_point`` (an asset's key range, built without a network object) is ``_span`` of its /32 or /128."""
    assert _point(ip) == _span(ipaddress.ip_network(ip))
