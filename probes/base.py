"""The probe interface: probes collect facts, they never judge them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from duecare.wire import Evidence, EvidenceKind, Proto
from duecare.wire.bounds import EXCERPT, SUMMARY, printable

if TYPE_CHECKING:
    from duecare.probes.context import ProbeContext


class ProbeClass(enum.StrEnum):
    """How far a probe goes. Only non-intrusive runs unless the config allows more."""

    NON_INTRUSIVE = "non-intrusive"
    VULN_SPECIFIC = "vuln-specific"


class Facts(BaseModel):
    """Base of every probe's facts model: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


F = TypeVar("F", bound=Facts)


@dataclass(frozen=True, slots=True)
class Target:
    ip: IPv4Address | IPv6Address
    port: int | None
    proto: Proto | None
    service: str | None = None
    tunnel: str | None = None

    @property
    def host(self) -> str:
        return str(self.ip)

    @property
    def authority(self) -> str:
        """``host:port`` as a URL authority: IPv6 literals in brackets (RFC 3986 §3.2.2)."""
        host = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Observation(Generic[F]):
    facts: F
    evidence: tuple[Evidence, ...] = field(default=())


def evidence(
    probe: str,
    kind: EvidenceKind,
    summary: str,
    excerpt: bytes | str = b"",
    *,
    limit: int = 1024,
) -> Evidence:
    """Evidence with a capped excerpt: printable text as text, anything else as hex."""
    if isinstance(excerpt, str):
        # A str excerpt is decoded peer text: controls are escaped, never passed on (wire/bounds.py).
        text, enc = printable(excerpt[:limit], EXCERPT), "text"
    else:
        raw = excerpt[: limit // 2]
        try:
            decoded = raw.decode("ascii")
            is_text = all(c.isprintable() or c in "\r\n\t" for c in decoded)
        except UnicodeDecodeError:
            is_text = False
        text, enc = (decoded, "text") if is_text else (raw.hex(" "), "hex")
    return Evidence(
        kind=kind,
        summary=printable(summary, SUMMARY),
        excerpt=text[:EXCERPT],
        encoding="text" if enc == "text" else "hex",
        observed_at=datetime.now(UTC),
        probe=probe,
    )


class Probe(Protocol[F]):
    """One probe = one package with facts.py, parse.py (pure) and probe.py (this, thin I/O)."""

    id: ClassVar[str]
    probe_class: ClassVar[ProbeClass]
    proto: ClassVar[Proto | None]
    #: Ports the probe needs scanned (always added to the port set).
    ports: ClassVar[frozenset[int]]
    #: nmap service names (nmap-services / -sV) that mean "this protocol", wherever it listens.
    services: ClassVar[frozenset[str]]
    facts_model: ClassVar[type[Facts]]

    def applies(self, target: Target) -> bool:
        """Whether this probe should run against an open service (by port or service name)."""
        ...

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[F]: ...


class ServiceProbe:
    """The usual shape of a probe: it claims a target of its transport on one of its ``ports`` or
    named as one of its ``services``. Subclasses set the ClassVars and write ``run``."""

    id: ClassVar[str]
    probe_class: ClassVar[ProbeClass] = ProbeClass.NON_INTRUSIVE
    proto: ClassVar[Proto | None] = Proto.TCP
    ports: ClassVar[frozenset[int]]
    services: ClassVar[frozenset[str]] = frozenset()
    facts_model: ClassVar[type[Facts]]

    def applies(self, target: Target) -> bool:
        return target.proto is self.proto and (target.port in self.ports or target.service in self.services)
