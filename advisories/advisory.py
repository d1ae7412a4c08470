"""Advisory files: one published advisory (FBI PSA, CISA AA/ED/BOD, NSA CSI, US-CERT TA, MSRC…).

An advisory says which exposure ids it flags; detection itself lives in the exposure rules. An
advisory whose subject the LAN box cannot establish is ``observable = false`` and says what would
settle it, so the report can list it under "what we could not check".
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from duecare.advisories.errors import CatalogError
from duecare.advisories.kev import CveId
from duecare.advisories.loader import line_of_key, load_toml_model
from duecare.wire import AdvisoryRef, Exposure, Severity

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")]
CatalogEntry = Annotated[str, Field(pattern=r"^ADV-[0-9]{3}$")]
#: Day, or month only where the catalog could not confirm the day ("2021-04 (verify day)").
PublishedDate = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$")]
Url = Annotated[str, Field(pattern=r"^https://\S+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Link(_Strict):
    title: str
    url: Url


class Advisory(_Strict):
    id: Slug
    #: Directory the file lives in (``cisa``, ``fbi``, ``nsa``, ``us-cert``, ``microsoft``).
    publisher: Slug
    #: Who issued it, as printed on it ("NSA and CISA").
    issued_by: str
    #: The identifier exactly as the advisory catalog gives it ("AA22-137A", "I-092718-PSA").
    official_id: str
    title: str
    published: PublishedDate
    url: Url | None = None
    severity: Severity
    #: The advisory-catalog entries (ADV-001…ADV-031) this advisory is a source for.
    catalog_entries: tuple[CatalogEntry, ...] = Field(min_length=1)
    cves: tuple[CveId, ...] = ()
    #: When true, every exposure this advisory flags means these CVEs apply to the finding
    #: (MS17-010 → CVE-2017-0143…0148); otherwise the CVEs are context only.
    flag_cves: bool = False
    flags: tuple[Exposure, ...] = ()
    observable: bool = True
    what_would_settle_it: str | None = None
    summary: str
    remediation: str
    links: tuple[Link, ...] = ()
    #: Parts the catalog marks "(verify)": title, day, issuer…
    verify: tuple[str, ...] = ()

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field rules, as (field, message), so the loader can point at the line."""
        out = []
        if self.observable and not self.flags:
            out.append(("flags", "an observable advisory must flag at least one exposure id"))
        if not self.observable and self.flags:
            out.append(("flags", "an advisory with observable = false cannot flag exposures"))
        if not self.observable and not self.what_would_settle_it:
            out.append(("observable", "observable = false needs what_would_settle_it"))
        if self.flag_cves and not self.cves:
            out.append(("flag_cves", "flag_cves = true needs cves"))
        return out

    def ref(self) -> AdvisoryRef:
        return AdvisoryRef(
            id=self.id,
            publisher=self.issued_by,
            official_id=self.official_id,
            title=self.title,
            url=self.url or "",
        )


def load_advisory(path: Path) -> Advisory:
    adv = load_toml_model(path, Advisory)
    for field, message in adv.problems():
        raise CatalogError(path, message, line=line_of_key(path, field), field=field)
    if path.stem != adv.id:
        msg = f"file name must be the advisory id {adv.id!r}"
        raise CatalogError(path, msg, line=line_of_key(path, "id"), field="id")
    if path.parent.name != adv.publisher:
        msg = f"publisher {adv.publisher!r} must match its directory {path.parent.name!r}"
        raise CatalogError(path, msg, line=line_of_key(path, "publisher"), field="publisher")
    return adv


def advisory_paths(directory: Path) -> list[Path]:
    return sorted(directory.glob("*/*.toml"))
