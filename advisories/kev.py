"""CISA's Known Exploited Vulnerabilities (KEV) catalog: typed snapshot, lookups, staleness.

KEV fields are kept exactly as CISA published them (``dateAdded``, ``dueDate``,
``knownRansomwareCampaignUse``); due dates are never recomputed — some precede ``dateAdded``
because they were inherited from an Emergency Directive (advisory catalog §3).

"Not in KEV" (``known_exploited=False``) is only said when the snapshot is fresh; a stale or missing
snapshot gives ``known_exploited=None`` with a note, because entries are added every weekday.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from duecare.advisories.errors import CatalogError
from duecare.wire import KevStatus

KEV_FILE = "known_exploited_vulnerabilities.json"
KEV_SCHEMA_FILE = "known_exploited_vulnerabilities_schema.json"
#: Grype refuses a DB older than 5 days; the ecosystem notes settle on a 7-day warning.
DEFAULT_MAX_AGE = timedelta(days=7)

CveId = Annotated[str, Field(pattern=r"^CVE-[0-9]{4}-[0-9]{4,19}$")]


class _Published(BaseModel):
    # CISA adds optional fields over time (``cwes``, ``forensicTriage``) and the schema does not
    # forbid extras, so unknown fields are ignored here rather than rejected (cisagov/kev-data
    # schema has no additionalProperties=false).
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class KevEntry(_Published):
    cve_id: CveId = Field(alias="cveID")
    vendor_project: str = Field(alias="vendorProject")
    product: str
    vulnerability_name: str = Field(alias="vulnerabilityName")
    date_added: date = Field(alias="dateAdded")
    short_description: str = Field(alias="shortDescription")
    required_action: str = Field(alias="requiredAction")
    due_date: date = Field(alias="dueDate")
    known_ransomware_campaign_use: str | None = Field(default=None, alias="knownRansomwareCampaignUse")
    #: "Yes"/"No" per BOD 26-04 (schema d98075f2: an optional string, no enum); absent in older feeds.
    forensic_triage: str | None = Field(default=None, alias="forensicTriage")
    notes: str | None = None
    cwes: tuple[str, ...] = ()


class KevCatalog(_Published):
    title: str | None = None
    catalog_version: str = Field(alias="catalogVersion")
    date_released: AwareDatetime = Field(alias="dateReleased")
    count: int
    vulnerabilities: tuple[KevEntry, ...]


def normalize_name(name: str) -> str:
    """Case- and punctuation-insensitive form of a product name ("SimpleHelp " == "simplehelp")."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.lower()).split())


@dataclass(frozen=True)
class Kev:
    """A loaded snapshot with its indexes. ``source`` says where it came from (for the report)."""

    catalog: KevCatalog
    source: Path
    by_cve: dict[str, KevEntry] = field(init=False, repr=False)
    by_product: dict[tuple[str, str], tuple[KevEntry, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_cve = {e.cve_id: e for e in self.catalog.vulnerabilities}
        grouped: dict[tuple[str, str], list[KevEntry]] = {}
        for e in self.catalog.vulnerabilities:
            grouped.setdefault((normalize_name(e.vendor_project), normalize_name(e.product)), []).append(e)
        object.__setattr__(self, "by_cve", by_cve)
        object.__setattr__(self, "by_product", {k: tuple(v) for k, v in grouped.items()})

    @property
    def version(self) -> str:
        return self.catalog.catalog_version

    def age(self, now: datetime) -> timedelta:
        return now - self.catalog.date_released

    def is_stale(self, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> bool:
        return self.age(now) > max_age

    def staleness_warning(self, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> str | None:
        if not self.is_stale(now, max_age):
            return None
        return (
            f"KEV snapshot {self.version} is {self.age(now).days} days old (limit {max_age.days}); "
            "run `duecare advisories update-kev` — absence from KEV is reported as unknown until then"
        )


def kev_status(cve: str, kev: Kev | None, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> KevStatus:
    """The KEV facts for one CVE: listed (as published), not listed, or unknown (stale/missing)."""
    if kev is None:
        return KevStatus(cve=cve, known_exploited=None, note="KEV catalog unavailable: status unknown")
    entry = kev.by_cve.get(cve)
    if entry is not None:
        # Listing is durable (entries are rarely retracted), so a stale snapshot still proves it.
        return KevStatus(
            cve=cve,
            known_exploited=True,
            kev_date_added=entry.date_added,
            kev_due_date=entry.due_date,
            known_ransomware_campaign_use=entry.known_ransomware_campaign_use,
            forensic_triage=entry.forensic_triage,
            note=f"KEV {kev.version}",
        )
    if kev.is_stale(now, max_age):
        return KevStatus(
            cve=cve,
            known_exploited=None,
            note=f"not in KEV {kev.version}, but that snapshot is stale ({kev.age(now).days} days old)",
        )
    return KevStatus(cve=cve, known_exploited=False, note=f"not in KEV {kev.version}")


def parse_kev(raw: bytes, source: Path) -> Kev:
    """Typed snapshot from the published JSON bytes."""
    try:
        catalog = KevCatalog.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        raise CatalogError(source, f"KEV catalog does not validate: {err['msg']}", field=where) from exc
    if catalog.count != len(catalog.vulnerabilities):
        raise CatalogError(source, f"count {catalog.count} != {len(catalog.vulnerabilities)} entries", field="count")
    return Kev(catalog=catalog, source=source)


def load_kev_file(path: Path) -> Kev:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(path, f"cannot read KEV snapshot: {exc}") from exc
    return parse_kev(raw, path)


def state_kev_path(state_dir: Path) -> Path:
    return state_dir / "kev" / KEV_FILE


def load_kev(packaged_dir: Path, state_dir: Path | None = None) -> Kev | None:
    """The newest of the packaged snapshot and the state-dir copy (by ``dateReleased``).

    A corrupt state copy never hides the packaged one: it was validated when written, so damage
    later on (disk, hand edit) raises rather than silently downgrading.
    """
    candidates: list[Kev] = []
    packaged = packaged_dir / KEV_FILE
    if packaged.is_file():
        candidates.append(load_kev_file(packaged))
    if state_dir is not None and state_kev_path(state_dir).is_file():
        candidates.append(load_kev_file(state_kev_path(state_dir)))
    if not candidates:
        return None
    return max(candidates, key=lambda k: k.catalog.date_released)


def entries_for(kev: Kev, pairs: Iterable[tuple[str, str]]) -> tuple[KevEntry, ...]:
    """KEV entries for (vendorProject, product) pairs, newest first, each CVE once."""
    seen: dict[str, KevEntry] = {}
    for vendor, product in pairs:
        for e in kev.by_product.get((normalize_name(vendor), normalize_name(product)), ()):
            seen.setdefault(e.cve_id, e)
    return tuple(sorted(seen.values(), key=lambda e: (e.date_added, e.cve_id), reverse=True))
