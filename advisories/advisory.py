"""Advisory files: one published advisory (FBI PSA, CISA AA/ED/BOD, NSA CSI, US-CERT TA, MSRC…).

An advisory says which exposure ids it flags; detection itself lives in the exposure rules. An
advisory whose subject the LAN box cannot establish is ``observable = false`` and says what would
settle it, so the report can list it under "what we could not check".
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from duecare.advisories.errors import CatalogError
from duecare.advisories.kev import CveId
from duecare.advisories.loader import line_of_key, load_toml_model
from duecare.wire import AdvisoryRef, Exposure, Severity, Vantage

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")]
CatalogEntry = Annotated[str, Field(pattern=r"^ADV-[0-9]{3}$")]
Url = Annotated[str, Field(pattern=r"^https://\S+$")]

#: Identifiers a court can look up: the publisher's own document number, or, for documents that
#: have none (blog posts, guides, current-activity alerts), "YYYY-MM-DD short title".
OFFICIAL_ID = re.compile(
    r"^(?:(?:AA|TA)\d{2}-\d{3}[A-Z]"
    r"|(?:BOD|ED) \d{2}-\d{2}"
    r"|I-\d{6}-PSA"
    r"|MS\d{2}-\d{3}"
    r"|ADV\d{6}"
    r"|U/OO/\d{6}-\d{2}"
    r"|\d{4}-\d{2}-\d{2} \S.{2,80})$"
)


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
    #: The publisher's document number ("AA22-137A", "I-092718-PSA"), or "YYYY-MM-DD short title".
    official_id: str
    #: The title exactly as published.
    title: str
    published: date
    #: Directives only: the day it was revoked, and the directive that replaced it. A report about a
    #: day before ``revoked_on`` cites it; one after cites its successor.
    revoked_on: date | None = None
    superseded_by: Slug | None = None
    url: Url | None = None
    severity: Severity
    #: The view its subject needs: a LAN observation never decides an internet-only advisory.
    vantage: Vantage
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
    #: What is not confirmed from the document itself, and why (an empty ``url`` must say why here).
    verify: tuple[str, ...] = ()

    def in_force(self, day: date) -> bool:
        """Published by ``day`` and not yet revoked: the guidance of that period."""
        return self.published <= day and (self.revoked_on is None or day < self.revoked_on)

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field rules, as (field, message), so the loader can point at the line."""
        out = []
        if not OFFICIAL_ID.match(self.official_id):
            out.append(
                (
                    "official_id",
                    f"{self.official_id!r} is not a citable identifier (document number or 'YYYY-MM-DD title')",
                )
            )
        if self.url is None and not self.verify:
            out.append(("url", "no url: say in `verify` why the official address is missing"))
        if (self.revoked_on is None) != (self.superseded_by is None):
            out.append(("revoked_on", "revoked_on and superseded_by go together"))
        if self.revoked_on is not None and self.revoked_on <= self.published:
            out.append(("revoked_on", "revoked_on must be after published"))
        if self.observable and not self.flags:
            out.append(("flags", "an observable advisory must flag at least one exposure id"))
        if not self.observable and self.flags:
            out.append(("flags", "an advisory with observable = false cannot flag exposures"))
        if not self.observable and not self.what_would_settle_it:
            out.append(("observable", "observable = false needs what_would_settle_it"))
        if self.flag_cves and not self.cves:
            out.append(("flag_cves", "flag_cves = true needs cves"))
        return out

    def ref(self, missing_cves: tuple[str, ...] = ()) -> AdvisoryRef:
        return AdvisoryRef(
            id=self.id,
            publisher=self.issued_by,
            official_id=self.official_id,
            title=self.title,
            url=self.url or "",
            published=self.published,
            vantage=self.vantage,
            missing_cves=missing_cves,
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
