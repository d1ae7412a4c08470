"""A target outside the scope, or inside an exclusion, is never yielded nor allowed."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.agent.scope import Scope, ScopeError, parse_spec

octet = st.integers(0, 255)
net24 = st.builds(lambda a, b: f"10.{a}.{b}.0/24", octet, octet)
small_net = st.builds(lambda a, b, p: f"10.{a}.{b}.0/{p}", st.integers(0, 3), octet, st.integers(24, 32))
addr = st.builds(lambda a, b, c: f"10.{a}.{b}.{c}", st.integers(0, 3), octet, octet)


@given(st.lists(small_net, min_size=1, max_size=3), st.lists(st.one_of(small_net, addr), max_size=4), addr)
def test_addresses_and_guard_respect_scope(include: list[str], exclude: list[str], probe: str) -> None:
    scope = Scope.parse(include, exclude)
    inc = [ipaddress.ip_network(n, strict=False) for n in include]
    exc = [ipaddress.ip_network(n, strict=False) for n in exclude]
    for ip in scope.addresses():
        assert any(ip in n for n in inc)
        assert not any(ip in n for n in exc)
    ip = ipaddress.ip_address(probe)
    assert (ip in scope) == (any(ip in n for n in inc) and not any(ip in n for n in exc))


@given(st.lists(small_net, min_size=1, max_size=3), st.lists(small_net, min_size=1, max_size=3), addr)
def test_cli_targets_never_widen_the_configured_scope(cfg: list[str], cli: list[str], probe: str) -> None:
    configured = Scope.parse(cfg)
    try:
        narrowed = configured.narrow(Scope.parse(cli))
    except ScopeError:
        return
    for ip in narrowed.addresses():
        assert ip in configured
    if probe in narrowed:
        assert probe in configured and probe in Scope.parse(cli)


def test_ranges_and_short_ranges() -> None:
    assert [str(n) for n in parse_spec("198.18.0.10-198.18.0.11")] == ["198.18.0.10/31"]
    assert sum(n.num_addresses for n in parse_spec("198.18.0.10-20")) == 11


@pytest.mark.parametrize("bad", ["", "fileserver.local", "198.18.0.20-198.18.0.10", "1.2.3.4/33"])
def test_bad_targets_are_named(bad: str) -> None:
    with pytest.raises(ScopeError):
        parse_spec(bad)


def test_network_and_broadcast_are_not_hosts() -> None:
    ips = [str(i) for i in Scope.parse(["198.18.0.0/30"]).addresses()]
    assert ips == ["198.18.0.1", "198.18.0.2"]


def test_no_target_is_an_error() -> None:
    with pytest.raises(ScopeError, match="no targets"):
        Scope.parse([])


def test_outside_scope_keeps_only_declared_addresses_inside_the_configured_scope() -> None:
    from duecare.agent.scope import outside_scope

    out = outside_scope(Scope.parse(["203.0.113.0/30"]), ["203.0.113.1", "198.51.100.7", "not-an-ip"])
    assert [str(ip) for ip in out.scope.addresses()] == ["203.0.113.1"]
    assert out.refused == ("198.51.100.7", "not-an-ip")
    assert (
        "refused 198.51.100.7: declared public for the site but outside this agent's configured scope"
        in (out.notes()[0])
    )


def test_outside_scope_with_nothing_in_scope_refuses_the_cycle() -> None:
    from duecare.agent.scope import outside_scope

    with pytest.raises(ScopeError, match=r"declared public addresses \(198.51.100.7\) are not inside"):
        outside_scope(Scope.parse(["203.0.113.0/30"]), ["198.51.100.7"])
    with pytest.raises(ScopeError, match=r"\(none\)"):
        outside_scope(Scope.parse(["203.0.113.0/30"]), [])
