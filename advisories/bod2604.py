"""BOD 26-04 Table 1: four facts about a vulnerability on an asset → a remediation timeline. Pure.

The rows are data (``data/bod-26-04/``) with their provenance: CERT/CC's encoding of the directive's
decision table, not the directive's own text, which cisa.gov publishes as an image. While the table
is not verified against the directive, a tier is *indicative*: it is shown with its real source and
never turned into a deadline (``Table1.verified``).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from duecare.advisories.errors import CatalogError
from duecare.advisories.loader import load_toml_model
from duecare.wire import Bod2604Tier, KevStatus

TechnicalImpact = Literal["partial", "total"]

#: What settles "publicly exposed" while a finding's ``internet_exposed`` is unknown.
SETTLE_EXPOSURE = (
    "an outside view: the site's gateway port mappings, or a scan of its public addresses from an agent "
    "with internet vantage, shows whether this service is reachable from the internet"
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Outcome(_Strict):
    label: str
    #: Calendar days; None for "fix on system upgrade" (the next scheduled major upgrade).
    days: int | None = Field(default=None, ge=1, le=365)
    forensic_triage: bool = False


class Table1File(_Strict):
    directive: str
    verified_against_directive: bool
    verified_note: str
    source: str
    rows_file: str
    rows_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    outcomes: tuple[Outcome, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Inputs:
    in_kev: bool
    publicly_exposed: bool
    automatable: bool
    technical_impact: TechnicalImpact


@dataclass(frozen=True)
class Table1:
    rows: dict[Inputs, Outcome]
    verified: bool
    source: str
    note: str

    def tier(self, inputs: Inputs) -> Outcome:
        return self.rows[inputs]

    @property
    def provenance(self) -> str:
        """The sentence every tier is shown with."""
        if self.verified:
            return f"BOD 26-04 Table 1 ({self.source})"
        return f"{self.source} gives this tier; the directive's text was not verified"


_COLUMNS = {
    "kev": "In KEV v1.0.0 (cisa)",
    "exposed": "Publicly Exposed v1.0.0 (cisa)",
    "automatable": "Automatable v2.0.0",
    "impact": "Technical Impact v1.0.0",
    "outcome": "CISA BOD 26-04 Remediation Timelines v1.0.0 (cisa)",
}


def _yes_no(value: str, path: Path, row: int) -> bool:
    if value not in ("yes", "no"):
        raise CatalogError(path, f"row {row}: expected yes/no, got {value!r}")
    return value == "yes"


def parse_rows(raw: bytes, outcomes: Iterable[Outcome], path: Path) -> dict[Inputs, Outcome]:
    """CERT/CC's CSV (one row per combination) → inputs → outcome; every combination exactly once."""
    by_label = {o.label: o for o in outcomes}
    rows: dict[Inputs, Outcome] = {}
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    missing = [c for c in _COLUMNS.values() if c not in (reader.fieldnames or ())]
    if missing:
        raise CatalogError(path, f"missing columns: {', '.join(missing)}")
    for n, rec in enumerate(reader, start=2):
        impact = rec[_COLUMNS["impact"]]
        if impact not in ("partial", "total"):
            raise CatalogError(path, f"row {n}: technical impact must be partial/total, got {impact!r}")
        key = Inputs(
            in_kev=_yes_no(rec[_COLUMNS["kev"]], path, n),
            publicly_exposed=_yes_no(rec[_COLUMNS["exposed"]], path, n),
            automatable=_yes_no(rec[_COLUMNS["automatable"]], path, n),
            technical_impact="total" if impact == "total" else "partial",
        )
        label = rec[_COLUMNS["outcome"]]
        if label not in by_label:
            raise CatalogError(path, f"row {n}: outcome {label!r} is not in table1.toml's outcomes")
        if key in rows:
            raise CatalogError(path, f"row {n}: combination {key} given twice")
        rows[key] = by_label[label]
    if len(rows) != 16:
        raise CatalogError(path, f"{len(rows)} combinations; Table 1 has 16 (2 × 2 × 2 × 2)")
    return rows


def load_table1(directory: Path) -> Table1:
    meta_path = directory / "table1.toml"
    meta = load_toml_model(meta_path, Table1File)
    rows_path = directory / meta.rows_file
    try:
        raw = rows_path.read_bytes()
    except OSError as exc:
        raise CatalogError(rows_path, f"cannot read: {exc}") from exc
    if hashlib.sha256(raw).hexdigest() != meta.rows_sha256:
        raise CatalogError(rows_path, "sha256 differs from table1.toml's rows_sha256: the rows changed without review")
    return Table1(
        parse_rows(raw, meta.outcomes, rows_path), meta.verified_against_directive, meta.source, meta.verified_note
    )


def _rank(o: Outcome) -> tuple[int, int]:
    """Most urgent first: triage, then fewer days; "fix on system upgrade" last."""
    return (0 if o.forensic_triage else 1, o.days if o.days is not None else 10_000)


def finding_tier(table: Table1, cves: Iterable[KevStatus], internet_exposed: bool | None) -> Bod2604Tier | None:
    """The most urgent tier over a finding's CVEs; both tiers while exposure is unknown.

    A CVE without SSVC values (Automatable, Technical Impact) cannot be placed in the table and is
    named in the note; None when the finding has no CVE at all.
    """
    cves = list(cves)
    if not cves:
        return None
    placed = [c for c in cves if c.ssvc is not None]
    unplaced = [c.cve for c in cves if c.ssvc is None]
    note = f"no SSVC values for {', '.join(unplaced)}" if unplaced else ""
    if not placed:
        return Bod2604Tier(
            cve=None,
            in_kev=any(c.known_exploited for c in cves),
            automatable=None,
            technical_impact=None,
            publicly_exposed=internet_exposed,
            table_verified=table.verified,
            source=table.provenance,
            settle="CISA's SSVC values (Vulnrichment) for these CVEs: duecare advisories update-ssvc",
            note=note,
        )

    def worst(exposed: bool) -> tuple[KevStatus, Outcome]:
        options = []
        for c in placed:
            assert c.ssvc is not None
            inputs = Inputs(c.known_exploited is True, exposed, c.ssvc.automatable, c.ssvc.technical_impact)
            options.append((c, table.tier(inputs)))
        return min(options, key=lambda co: (_rank(co[1]), co[0].cve))

    if internet_exposed is None:
        (c_yes, yes), (_c_no, no) = worst(True), worst(False)
        ssvc = c_yes.ssvc
        assert ssvc is not None
        return Bod2604Tier(
            cve=c_yes.cve,
            in_kev=c_yes.known_exploited is True,
            automatable=ssvc.automatable,
            technical_impact=ssvc.technical_impact,
            publicly_exposed=None,
            if_exposed=yes.label,
            if_not_exposed=no.label,
            forensic_triage=True
            if yes.forensic_triage and no.forensic_triage
            else (None if yes.forensic_triage else False),
            settle=SETTLE_EXPOSURE,
            table_verified=table.verified,
            source=table.provenance,
            note=note,
        )
    c, out = worst(internet_exposed)
    assert c.ssvc is not None
    return Bod2604Tier(
        cve=c.cve,
        in_kev=c.known_exploited is True,
        automatable=c.ssvc.automatable,
        technical_impact=c.ssvc.technical_impact,
        publicly_exposed=internet_exposed,
        tier=out.label,
        days=out.days,
        forensic_triage=out.forensic_triage,
        table_verified=table.verified,
        source=table.provenance,
        note=note,
    )
