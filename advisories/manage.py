"""Catalog administration as plain functions (the agent's CLI only parses arguments and calls these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from duecare.advisories.advisory import Advisory
from duecare.advisories.catalog import PACKAGED_DATA_DIR, Catalog, collect
from duecare.advisories.errors import CatalogError
from duecare.advisories.kev import kev_status
from duecare.advisories.kev_update import KevUpdateResult
from duecare.advisories.kev_update import update_kev as _update_kev
from duecare.advisories.ssvc import SsvcUpdateResult
from duecare.advisories.ssvc import update_ssvc as _update_ssvc
from duecare.advisories.unobservable import Unobservable
from duecare.wire import KevStatus


@dataclass(frozen=True, slots=True)
class AdvisoryDetail:
    advisory: Advisory
    kev: tuple[KevStatus, ...]
    #: (framework id, requirement id) pairs that cite this advisory.
    requirements: tuple[tuple[str, str], ...]


def list_advisories(catalog: Catalog) -> list[Advisory]:
    return sorted(catalog.advisories.values(), key=lambda a: (a.publisher, a.published, a.id))


def find_advisory(catalog: Catalog, key: str) -> Advisory:
    """By file id (``aa22-137a``), the ``publisher/id`` that ``duecare advisories list`` prints
    (``cisa/aa22-137a``), or official identifier (``AA22-137A``); case-insensitive."""
    wanted = key.strip().lower()
    for adv in catalog.advisories.values():
        if wanted in (adv.id, f"{adv.publisher}/{adv.id}".lower(), adv.official_id.lower()):
            return adv
    raise KeyError(f"no advisory {key!r} (`duecare advisories list` prints the ids)")


def show_advisory(catalog: Catalog, key: str, now: datetime) -> AdvisoryDetail:
    adv = find_advisory(catalog, key)
    reqs = tuple(
        (fw.id, req.id) for fw in catalog.frameworks.values() for req in fw.requirements if adv.id in req.advisories
    )
    return AdvisoryDetail(adv, tuple(kev_status(c, catalog.kev, now) for c in adv.cves), reqs)


def validate(data_dir: Path | None = None, state_dir: Path | None = None) -> list[CatalogError]:
    """Every problem in the data directory; a bad file never stops the others from being checked."""
    return collect(data_dir, state_dir)[1]


def cannot_check(catalog: Catalog) -> tuple[Unobservable | Advisory, ...]:
    """The report's "what we could not check": unobservable catalog entries, then such advisories."""
    advisories = tuple(a for a in list_advisories(catalog) if not a.observable)
    return (*catalog.unobservable, *advisories)


def update_kev(
    state_dir: Path,
    raw: bytes,
    source: str,
    *,
    data_dir: Path | None = None,
) -> KevUpdateResult:
    """Validate the feed read from ``source`` and install it under ``state_dir``."""
    return _update_kev((data_dir or PACKAGED_DATA_DIR) / "kev", state_dir, raw, source)


def update_ssvc(
    state_dir: Path,
    raw: bytes,
    source: str,
    *,
    data_dir: Path | None = None,
) -> SsvcUpdateResult:
    """Merge SSVC values read from ``source`` (our CSV or Vulnrichment records) into the state copy."""
    return _update_ssvc((data_dir or PACKAGED_DATA_DIR) / "ssvc", state_dir, raw, source)
