"""Profiles: the standard of care agreed in a contract, and the waivers (accepted risks) under it.

Built-ins live in ``data/profiles/`` (``baseline``, ``hipaa``, ``pci``, ``government``); an MSP can
write its own file and pass ``--profile path/to/file.toml``.
"""

from __future__ import annotations

from datetime import date, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork

from duecare.advisories.advisory import Slug
from duecare.advisories.errors import CatalogError
from duecare.advisories.loader import line_of_key, load_toml_model
from duecare.wire import Exposure, Finding, Severity

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
    """Days to remediate, counted from first seen; a severity left out has no deadline."""

    critical: Days | None = None
    high: Days | None = None
    medium: Days | None = None
    low: Days | None = None
    info: Days | None = None

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
    #: deadline = min(severity deadline, KEV dueDate) for findings that carry a KEV-listed CVE.
    kev_due_dates: bool = True
    waivers: tuple[Waiver, ...] = ()


class WaiverFile(_Strict):
    waivers: tuple[Waiver, ...] = ()


def load_profile(path: Path, known_frameworks: set[str] | None = None, *, name_must_match: bool = True) -> Profile:
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
    return profile


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """A separate waiver register (``[[waivers]]`` tables), e.g. kept by the MSP per client."""
    return load_toml_model(path, WaiverFile).waivers
