"""Framework files: requirements by official identifier, our own one-line paraphrase, and the
advisories and exposure ids that bear on each.

The paraphrases are ours (CIS and PCI text may not be copied, CISecurity/CISControls_OSCAL LICENSE),
and a report says a finding is "relevant to" a requirement, never that anything is "compliant".
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from duecare.advisories.advisory import Slug
from duecare.advisories.errors import CatalogError
from duecare.advisories.loader import line_of_key, load_toml_model
from duecare.wire import Exposure, Vantage


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Requirement(_Strict):
    #: The official identifier ("4.8", "PR.IR-01", "164.312(e)(1)", "2.2.4", "AA22-137A").
    id: str = Field(min_length=1)
    #: Our own one-line paraphrase.
    title: str = Field(min_length=1, max_length=200)
    #: Advisory ids (file names) that bear on this requirement.
    advisories: tuple[Slug, ...] = ()
    #: Exposure ids whose findings decide this requirement; each must be flagged by one of
    #: ``advisories``.
    exposures: tuple[Exposure, ...] = ()
    #: Only findings that carry a KEV-listed CVE count (BOD 22-01, BOD 26-04).
    kev_only: bool = False
    #: The view it needs: an ``internet`` requirement is never decided by what the LAN alone shows.
    vantage: Vantage
    #: A process duty (contracts, risk analysis, incident response, backups…) no network scan can
    #: judge: always ``attestation_required``, with the signed attestation printed when supplied.
    attestation: bool = False
    #: A scan sees only part of the duty: findings can show it is not met, absence never that it is.
    partial: bool = False
    #: For an attestation: what it should rest on (the document, record or test).
    what_would_settle_it: str | None = None

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if not self.attestation and not self.exposures:
            out.append(("exposures", "a requirement judged by the scan needs exposure ids (or attestation = true)"))
        if self.attestation and self.exposures:
            out.append(("exposures", "an attestation requirement cannot list exposures: no scan decides it"))
        if self.attestation and not self.what_would_settle_it:
            out.append(("attestation", "attestation = true needs what_would_settle_it (what the attestation rests on)"))
        if self.attestation and self.partial:
            out.append(("partial", "partial applies to scan-judged requirements only"))
        if self.exposures and not self.advisories:
            out.append(("advisories", "say which advisories bear on these exposures"))
        return out


class Framework(_Strict):
    id: Slug
    title: str
    publisher: str
    version: str
    #: How the identifiers were checked and what the paraphrases are (and are not).
    note: str
    requirements: tuple[Requirement, ...] = Field(min_length=1)

    def requirement(self, req_id: str) -> Requirement:
        for r in self.requirements:
            if r.id == req_id:
                return r
        raise KeyError(f"{self.id} has no requirement {req_id!r}")


def load_framework(path: Path) -> Framework:
    fw = load_toml_model(path, Framework)
    if path.stem != fw.id:
        msg = f"file name must be the framework id {fw.id!r}"
        raise CatalogError(path, msg, line=line_of_key(path, "id"), field="id")
    seen: set[str] = set()
    for i, req in enumerate(fw.requirements):
        if req.id in seen:
            where = f"requirements.{i}.id"
            raise CatalogError(path, f"duplicate requirement {req.id!r}", line=line_of_key(path, where), field=where)
        seen.add(req.id)
        for field, message in req.problems():
            where = f"requirements.{i}.{field}"
            raise CatalogError(path, f"{req.id}: {message}", line=line_of_key(path, where), field=where)
    return fw
