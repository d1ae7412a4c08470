"""The alternate-port table and the port plan it feeds."""

from __future__ import annotations

from duecare.agent.config import AgentConfig
from duecare.agent.run import with_tcp_range
from duecare.agent.scan import ALL_TCP, plan_ports
from duecare.probes.identify.alternates import alternate_ports, hinted, load_alternates
from duecare.probes.identify.session import HELLOS
from duecare.probes.ports.parse import expand_ranges
from duecare.probes.registry import all_probes, needed_ports


def test_every_alternate_names_a_registered_probe_and_a_source() -> None:
    ids = {p.id for p in all_probes()}
    table = load_alternates()
    assert table
    for alt in table:
        assert alt.probe in ids, alt
        assert alt.source.strip(), alt
    ports = [(a.probe, a.port) for a in table]
    assert len(ports) == len(set(ports)), "an alternate listed twice"


def test_an_alternate_is_never_a_standard_port() -> None:
    """Alternates are scanned and hinted, never claimed: the standard ports are the claims."""
    standard = {p for probe in all_probes() for p in probe.ports}
    assert not standard & {a.port for a in load_alternates()}


def test_hinted_client_first_probes_have_a_hello() -> None:
    server_first = {"ftp", "telnet", "vnc", "ssh"}
    for alt in load_alternates():
        assert alt.probe in server_first or alt.probe in HELLOS, alt


def test_default_plan_holds_top_1000_standard_and_alternate_ports() -> None:
    probes = all_probes()
    plan = set(expand_ranges(plan_ports(AgentConfig(), probes).tcp))
    tcp_needed, _udp = needed_ports(probes)
    assert tcp_needed <= plan
    assert alternate_ports(p.id for p in probes) <= plan
    assert {26379, 6379, 3390, 2323, 2121, 5902} <= plan
    assert 1000 < len(plan) < 1100


def test_disabled_probes_bring_no_alternates() -> None:
    cfg = AgentConfig.model_validate({"probes": {"disabled": ["redis"]}, "ports": {"top_tcp": 0}})
    probes = [p for p in all_probes() if p.id != "redis"]
    plan = set(expand_ranges(plan_ports(cfg, probes).tcp))
    assert 26379 not in plan and 5902 in plan
    assert hinted(26379) == ("redis",)


def test_all_ports() -> None:
    cfg = with_tcp_range(AgentConfig(), "all")
    assert plan_ports(cfg, all_probes()).tcp == ALL_TCP == "1-65535"
    assert AgentConfig().ports.nightly_tcp_range == "all"
    assert AgentConfig().ports.tcp_range == "default"
