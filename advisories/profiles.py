"""Profiles: the standard of care agreed in a contract, and the waivers (accepted risks) under it.

Built-ins live in ``data/profiles/`` (``baseline``, ``hipaa``, ``pci``, ``government``); an MSP can
write its own file and pass ``--profile path/to/file.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, model_validator

from duecare.advisories.advisory import Slug
from duecare.advisories.errors import CatalogError
from duecare.advisories.loader import line_of_key, load_toml_model
from duecare.wire import Attestation, Exposure, Finding, Severity

Days = Annotated[int, Field(ge=0, le=3650)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Waiver(_Strict):
    """An accepted risk: one exposure on an address range (optionally one port), until ``expires``."""

    id: str = Field(min_length=1)
    #: One address ("10.0.0.5") or a network ("10.0.0.0/24").
    scope: IPvAnyNetwork
    exposure: Exposure
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    owner: Literal["client", "msp"]
    approved_by: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    compensating_control: str = Field(min_length=1)
    #: Last day the waiver holds; from the next day the obligation re-opens.
    expires: date

    def covers(self, finding: Finding) -> bool:
        return (
            finding.exposure is self.exposure
            and ip_address(finding.ip) in self.scope
            and (self.port is None or finding.port == self.port)
        )

    def active(self, now: datetime) -> bool:
        return now.date() <= self.expires


class Deadlines(_Strict):
    """Days to remediate by severity, counted from the clock start (max(engagement start, first
    seen)); a severity left out has no deadline. ``source`` cites where the days come from."""

    critical: Days | None = None
    high: Days | None = None
    medium: Days | None = None
    low: Days | None = None
    info: Days | None = None
    source: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _cited(self) -> Deadlines:
        if self.source is None and any(self.days(s) is not None for s in Severity):
            raise ValueError("deadlines need a `source`: the directive, standard or contract clause the days come from")
        return self

    def days(self, severity: Severity) -> int | None:
        value: int | None = getattr(self, severity.value)
        return value


class Profile(_Strict):
    id: Slug
    title: str
    description: str
    frameworks: tuple[Slug, ...] = Field(min_length=1)
    #: Findings at or above this severity count against obligations.
    severity_threshold: Severity
    deadlines: Deadlines = Deadlines()
    #: The day this engagement began: the clock runs from max(engagement start, first seen), and a
    #: due date that fell before it is inherited, never "past the agreed deadline".
    engagement_start: date | None = None
    #: Findings with a CVE: BOD 26-04's Table 1 ("bod-26-04"; the severity days apply while its tier
    #: cannot give a date) or the severity days alone ("severity").
    cve_timeline: Literal["bod-26-04", "severity"] = "bod-26-04"
    #: CISA's published KEV dueDate also binds when it falls within the engagement.
    kev_due_dates: bool = True
    waivers: tuple[Waiver, ...] = ()
    #: Signed statements for duties no scan can judge, printed verbatim in the report.
    attestations: tuple[Attestation, ...] = ()


class WaiverFile(_Strict):
    waivers: tuple[Waiver, ...] = ()


class AttestationFile(_Strict):
    attestations: tuple[Attestation, ...] = ()


def check_attestations(
    path: Path, attestations: tuple[Attestation, ...], requirements: Mapping[str, Mapping[str, bool]]
) -> None:
    """Each attestation names a known attestation requirement; ``requirements`` is framework → id → attestation."""
    for i, a in enumerate(attestations):
        where = f"attestations.{i}.requirement"
        known = requirements.get(a.framework)
        if known is None or a.requirement not in known:
            msg = f"attestation for unknown requirement {a.framework} {a.requirement!r}"
            raise CatalogError(path, msg, line=line_of_key(path, where), field=where)
        if not known[a.requirement]:
            msg = f"{a.framework} {a.requirement} is judged by the scan: an attestation cannot settle it"
            raise CatalogError(path, msg, line=line_of_key(path, where), field=where)


def load_profile(
    path: Path,
    known_frameworks: set[str] | Mapping[str, Mapping[str, bool]] | None = None,
    *,
    name_must_match: bool = True,
) -> Profile:
    profile = load_toml_model(path, Profile)
    if name_must_match and path.stem != profile.id:
        msg = f"file name must be the profile id {profile.id!r}"
        raise CatalogError(path, msg, line=line_of_key(path, "id"), field="id")
    if known_frameworks is not None:
        for i, fw in enumerate(profile.frameworks):
            if fw not in known_frameworks:
                msg = f"unknown framework {fw!r} (known: {', '.join(sorted(known_frameworks))})"
                raise CatalogError(path, msg, line=line_of_key(path, "frameworks"), field=f"frameworks.{i}")
    seen: set[str] = set()
    for i, w in enumerate(profile.waivers):
        if w.id in seen:
            where = f"waivers.{i}.id"
            raise CatalogError(path, f"duplicate waiver {w.id!r}", line=line_of_key(path, where), field=where)
        seen.add(w.id)
    if isinstance(known_frameworks, Mapping):
        check_attestations(path, profile.attestations, known_frameworks)
    return profile


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """A separate waiver register (``[[waivers]]`` tables), e.g. kept by the MSP per client."""
    return load_toml_model(path, WaiverFile).waivers


def load_attestations(
    path: Path, requirements: Mapping[str, Mapping[str, bool]] | None = None
) -> tuple[Attestation, ...]:
    """A separate attestation file (``[[attestations]]`` tables), signed by the MSP or the owner."""
    attestations = load_toml_model(path, AttestationFile).attestations
    if requirements is not None:
        check_attestations(path, attestations, requirements)
    return attestations
