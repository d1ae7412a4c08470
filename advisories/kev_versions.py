"""ADV-031, the generic rule: a disclosed product+version whose product KEV lists.

Banner versions miss distro backports (nmap#2619; vulnersCom/nmap-vulners#18/#32/#44/#63), and KEV
carries no version ranges, so a match only ever says "version disclosed; KEV lists exploited CVEs
for this product — verify the patch level", with confidence ``tentative``. Never "vulnerable".
No version, or only a wildcard range such as nmap's ``3.X - 4.X``, gives no finding at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from duecare.advisories.engine import FactsRecord
from duecare.advisories.kev import Kev, KevEntry, entries_for, normalize_name
from duecare.advisories.loader import load_toml_model
from duecare.wire import (
    Confidence,
    Evidence,
    EvidenceKind,
    Exposure,
    Finding,
    KevStatus,
    PortState,
    ProbeStatus,
    Proto,
    Service,
    Severity,
    Verdict,
)
from duecare.wire.bounds import REASON, SUMMARY, json_safe, printable

WORDING = "version disclosed; KEV lists exploited CVEs for this product — verify the patch level"
TITLE = "Disclosed product version: CISA KEV lists exploited CVEs for this product"
OWNER_SUMMARY = (
    "A device announces the name and version of its software, and CISA's list of vulnerabilities that "
    "attackers are known to exploit has entries for that product. The version shown may already be "
    "patched; someone needs to check."
)
REMEDIATION = (
    "Confirm the installed patch level against the vendor's advisories for the KEV entries listed "
    "(a credentialed check or the vendor's build table; the banner alone cannot show backported "
    "fixes). Patch where needed, and stop the service from announcing its version."
)
SEVERITY = Severity.MEDIUM
#: Enough to act on; the count of all matching entries goes in ``details``.
MAX_CVES = 25

_VERSION = re.compile(r"^v?\d+(\.\d+)*")
_WILDCARD = re.compile(r"\d\.[xX]\b|\b[xX]\.\d")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProductAlias(_Strict):
    """Names a banner or nmap uses for a product, and the KEV (vendorProject, product) pairs it is."""

    observed: tuple[str, ...] = Field(min_length=1)
    vendor_project: str
    kev_products: tuple[str, ...] = Field(min_length=1)


class ProductAliases(_Strict):
    products: tuple[ProductAlias, ...] = ()


def load_product_aliases(path: Path) -> ProductAliases:
    return load_toml_model(path, ProductAliases) if path.is_file() else ProductAliases()


@dataclass(frozen=True, slots=True)
class VersionMatch:
    product: str
    version: str
    kev_products: tuple[tuple[str, str], ...]
    entries: tuple[KevEntry, ...]


def is_disclosed_version(version: str | None) -> bool:
    """A concrete version: starts with a number, and is not a wildcard range."""
    if version is None:
        return False
    v = version.strip()
    return bool(_VERSION.match(v)) and not _WILDCARD.search(v)


def _kev_pairs(product: str, kev: Kev, aliases: ProductAliases) -> list[tuple[str, str]]:
    name = normalize_name(product)
    pairs: list[tuple[str, str]] = []
    for alias in aliases.products:
        if name in {normalize_name(o) for o in alias.observed}:
            pairs.extend((alias.vendor_project, p) for p in alias.kev_products)
    for vendor, prod in kev.by_product:
        # Exact name equality only (KEV "OpenSSL" / banner "OpenSSL"); substring matching would
        # turn "Microsoft Windows RPC" into every Windows entry.
        if name and name in (prod, f"{vendor} {prod}"):
            pairs.append((vendor, prod))
    return list(dict.fromkeys(pairs))


def match_disclosed_version(
    product: str | None, version: str | None, kev: Kev | None, aliases: ProductAliases | None = None
) -> VersionMatch | None:
    """Pure: the KEV entries for a disclosed product+version, or None (no version, no KEV, no match)."""
    if kev is None or not product or not product.strip() or not is_disclosed_version(version):
        return None
    assert version is not None
    pairs = _kev_pairs(product, kev, aliases or ProductAliases())
    entries = entries_for(kev, pairs)
    if not entries:
        return None
    return VersionMatch(product.strip(), version.strip(), tuple(pairs), entries)


IP = IPv4Address | IPv6Address


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One product+version claim about one service, and where it came from."""

    ip: IP
    port: int | None
    proto: Proto | None
    product: str | None
    version: str | None
    source: str
    evidence: tuple[Evidence, ...] = ()


def disclosures(
    records: Iterable[FactsRecord], services: Iterable[tuple[IP, Service]], observed_at: datetime
) -> list[Disclosure]:
    """Probe facts that carry ``product``/``version`` fields first, then nmap -sV's guesses."""
    out: list[Disclosure] = []
    for rec in records:
        if rec.status is not ProbeStatus.COMPLETED or rec.facts is None:
            continue
        product, version = getattr(rec.facts, "product", None), getattr(rec.facts, "version", None)
        if isinstance(product, str) and isinstance(version, str):
            src = f"probe {rec.probe}"
            out.append(Disclosure(rec.ip, rec.port, rec.proto, product, version, src, rec.evidence))
    for ip, svc in services:
        if svc.state is not PortState.OPEN:
            continue
        ev = Evidence(
            kind=EvidenceKind.VERSION,
            summary=printable(f"nmap -sV: {svc.product} {svc.version}", SUMMARY),
            observed_at=observed_at,
            probe="nmap",
        )
        out.append(Disclosure(ip, svc.port, svc.proto, svc.product, svc.version, "nmap -sV", (ev,)))
    return out


def _finding(d: Disclosure, m: VersionMatch, matches: Sequence[VersionMatch]) -> Finding:
    entries = entries_for_all(matches)
    names = sorted({f"{v} / {p}" for mm in matches for v, p in mm.kev_products})
    return Finding(
        exposure=Exposure.KEV_VERSION_DISCLOSED,
        ip=d.ip,
        port=d.port,
        proto=d.proto,
        severity=SEVERITY,
        verdict=Verdict.AFFECTED,
        confidence=Confidence.TENTATIVE,
        title=TITLE,
        reason=printable(f"{WORDING} ({m.product} {m.version} via {d.source}; KEV product {', '.join(names)})", REASON),
        evidence=d.evidence,
        remediation=REMEDIATION,
        summary=OWNER_SUMMARY,
        cves=tuple(
            KevStatus(
                cve=e.cve_id,
                known_exploited=True,
                kev_date_added=e.date_added,
                kev_due_date=e.due_date,
                known_ransomware_campaign_use=e.known_ransomware_campaign_use,
                forensic_triage=e.forensic_triage,
                note="listed for this product; this version not confirmed affected",
            )
            for e in entries[:MAX_CVES]
        ),
        details=json_safe(
            {
                "product": m.product,
                "version": m.version,
                "source": d.source,
                "kev_products": list(names),
                "kev_entries": len(entries),
            }
        ),
    )


def entries_for_all(matches: Sequence[VersionMatch]) -> tuple[KevEntry, ...]:
    seen: dict[str, KevEntry] = {}
    for m in matches:
        for e in m.entries:
            seen.setdefault(e.cve_id, e)
    return tuple(sorted(seen.values(), key=lambda e: (e.date_added, e.cve_id), reverse=True))


def version_disclosure_findings(
    records: Iterable[FactsRecord],
    services: Iterable[tuple[IP, Service]],
    kev: Kev | None,
    aliases: ProductAliases,
    observed_at: datetime,
) -> list[Finding]:
    """One ``kev-version-disclosed`` finding per service whose disclosed version matches KEV."""
    by_service: dict[tuple[IP, int | None, Proto | None], list[tuple[Disclosure, VersionMatch]]] = {}
    for d in disclosures(records, services, observed_at):
        m = match_disclosed_version(d.product, d.version, kev, aliases)
        if m is not None:
            by_service.setdefault((d.ip, d.port, d.proto), []).append((d, m))
    findings = []
    for hits in by_service.values():
        first, match = hits[0]  # probe facts come before nmap's guess
        findings.append(_finding(first, match, [m for _, m in hits]))
    findings.sort(key=lambda f: (f.ip.version, int(f.ip), f.port or 0))
    return findings
