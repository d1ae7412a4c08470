"""Scope: the only addresses duecare may ever send a packet to.

Every stage takes its targets from ``Scope.addresses()`` and every socket the probes open is
checked against ``Scope.__contains__`` (see ``ProbeContext.guard``): two locks on one door.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TYPE_CHECKING

from duecare.agent.errors import AgentError

if TYPE_CHECKING:
    from duecare.agent.config import AgentConfig

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


class ScopeError(AgentError, ValueError):
    pass


#: Digits with dots, or hex with colons, and an optional /prefix: meant as an address.
_ADDRESS_LIKE = re.compile(r"^(?:[0-9.]+|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)(?:/\S*)?$")


def parse_spec(spec: str) -> list[IPNetwork]:
    """ "198.18.0.0/24", "198.18.0.5", "198.18.0.10-198.18.0.20" or "198.18.0.10-20"."""
    text = spec.strip()
    if not text:
        raise ScopeError("empty target")
    if "-" in text and "/" not in text:
        lo_s, _, hi_s = text.partition("-")
        try:
            lo = ipaddress.ip_address(lo_s.strip())
            hi_part = hi_s.strip()
            if hi_part.isdigit() and isinstance(lo, IPv4Address):
                hi: IPAddress = IPv4Address(int(lo) & ~0xFF | int(hi_part))
            else:
                hi = ipaddress.ip_address(hi_part)
        except ValueError as exc:
            raise ScopeError(f"{spec!r}: not an address range ({exc})") from exc
        if lo.version != hi.version or int(hi) < int(lo):
            raise ScopeError(f"{spec!r}: range end before its start")
        return list(ipaddress.summarize_address_range(lo, hi))
    try:
        return [ipaddress.ip_network(text, strict=False)]
    except ValueError as exc:
        if _ADDRESS_LIKE.match(text):  # a typo in an address, not a host name: say what is wrong with it
            raise ScopeError(f"{spec!r}: {_address_problem(text)}") from exc
        raise ScopeError(
            f"{spec!r}: not an IP address, CIDR or range (host names are not accepted: "
            "name resolution would send traffic we do not control)"
        ) from exc


def _address_problem(text: str) -> str:
    addr, slash, prefix = text.partition("/")
    try:
        version = ipaddress.ip_address(addr).version
    except ValueError:
        return f"{addr!r} is not a valid IPv4 or IPv6 address"
    top = 32 if version == 4 else 128
    if slash and not (prefix.isdigit() and int(prefix) <= top):
        return f"prefix length /{prefix} is out of range for IPv{version} (0-{top})"
    return "not a valid IP network"


def _hosts(net: IPNetwork) -> Iterator[IPAddress]:
    # Network and broadcast addresses of an IPv4 LAN are not hosts; /31 and /32 have none such.
    if net.version == 4 and net.prefixlen < 31:
        yield from net.hosts()
    else:
        yield from net


@dataclass(frozen=True, slots=True)
class Scope:
    include: tuple[IPNetwork, ...]
    exclude: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, targets: Iterable[str], exclude: Iterable[str] = ()) -> Scope:
        inc = [n for t in targets for n in parse_spec(t)]
        exc = [n for t in exclude for n in parse_spec(t)]
        if not inc:
            raise ScopeError("no targets: give TARGET arguments or [scope] targets in the config")
        return cls(tuple(inc), tuple(exc))

    def __contains__(self, ip: object) -> bool:
        if isinstance(ip, str):
            try:
                ip = ipaddress.ip_address(ip)
            except ValueError:
                return False
        if not isinstance(ip, IPv4Address | IPv6Address):
            return False
        if any(ip.version == n.version and ip in n for n in self.exclude):
            return False
        return any(ip.version == n.version and ip in n for n in self.include)

    def narrow(self, other: Scope) -> Scope:
        """Targets asked for on the command line, kept only where the configured scope allows.

        Two CIDR blocks either nest or are disjoint, so each intersection is the smaller block.
        """
        kept: list[IPNetwork] = []
        for a in other.include:
            for b in self.include:
                if _overlaps(a, b):
                    kept.append(a if a.prefixlen >= b.prefixlen else b)
        if not kept:
            raise ScopeError("none of the targets lies inside the configured scope")
        return Scope(tuple(dict.fromkeys(kept)), self.exclude + other.exclude)

    def addresses(self) -> Iterator[IPAddress]:
        """Every in-scope host address, each once, in order; exclusions never yielded."""
        seen: set[IPAddress] = set()
        for net in self.include:
            for ip in _hosts(net):
                if ip not in seen and ip in self:
                    seen.add(ip)
                    yield ip

    def size(self) -> int:
        return sum(n.num_addresses for n in self.include)

    def check_scannable(self) -> Scope:
        """Refuse, before any packet, what a scan cannot honour: IPv6 targets (discovery and port
        scans are IPv4 only, so they would come back silently empty) and a scope whose every address
        is excluded (a scan of nothing would read as a clean network)."""
        v6 = [str(n) for n in self.include if n.version == 6]
        if v6:
            raise ScopeError(f"{v6[0]!r}: IPv6 targets are not supported yet (discovery and port scans are IPv4)")
        if next(self.addresses(), None) is None:
            raise ScopeError("nothing to scan: every address of the targets is excluded")
        return self


def _overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    return a.version == b.version and a.overlaps(b)


def daemon_scope(config: AgentConfig, source: str = "the config") -> Scope:
    """The agent's scope, from its config only; checked when the agent starts, not at the first cycle."""
    if not config.scope.targets:
        raise ScopeError(
            f"{source}: [scope] targets is empty; set the addresses this agent may scan, "
            'e.g. targets = ["192.0.2.0/24"]'
        )
    return Scope.parse(config.scope.targets, config.scope.exclude).check_scannable()


@dataclass(frozen=True)
class OutsideScope:
    """What an agent with internet vantage scans: the site's declared public addresses inside its own scope."""

    scope: Scope
    refused: tuple[str, ...]

    def notes(self) -> list[str]:
        return [
            f"refused {a}: declared public for the site but outside this agent's configured scope; not scanned"
            for a in self.refused
        ]


def outside_scope(configured: Scope, declared: Iterable[str]) -> OutsideScope:
    """The intersection, address by address (issue 14). Never an address the site does not declare,
    never one outside the agent's own scope; each declared address outside it is refused by name."""
    kept: list[str] = []
    refused: list[str] = []
    for raw in declared:
        try:
            addr = ipaddress.ip_address(raw)
        except ValueError:
            refused.append(raw[:60])
            continue
        (kept if addr in configured else refused).append(str(addr))
    if not kept:
        listed = ", ".join(refused) if refused else "none"
        raise ScopeError(
            f"nothing to scan from the internet: the site's declared public addresses ({listed}) are not inside "
            "this agent's configured scope; declare them with `duecare collector set-site-public` and list them "
            "in [scope] targets"
        )
    return OutsideScope(Scope.parse(kept).check_scannable(), tuple(refused))
