"""Exchange build → product, CU, security-update level and missing CVE fixes. Pure; tables passed in.

Rules (shared/reference/detection-methods.md §1.4–1.5, after CSS-Exchange HealthChecker):
* product from the build: 15.0 → 2013, 15.1 → 2016, 15.2 below 2562 → 2019, 15.2.2562+ → SE (G1);
* the CU is major.minor.build; a revision not in the tables is named after the nearest lower known
  build of that CU, and one below the CU's own release is read as that release (OwaVersion may lag
  ExSetup, CSS-Exchange #396, G3); comparisons are numeric, never on strings;
* "latest SU" = the highest known build of that CU released by the day judged;
* a CVE is fixed when the build is ≥ the newest build of its SU for the product, or the CU has a build
  of that SU and the build is ≥ it; otherwise it is missing
  (CSS-Exchange ``Test-ExchangeBuildGreaterOrEqualThanSecurityPatch``).
Everything is judged "as of" the day the facts were observed, so a scan can be re-judged later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from duecare.advisories.exchange.tables import (
    END_OF_SUPPORT,
    BuildNumber,
    BuildRow,
    ExchangeProduct,
    ExchangeTables,
    product_of,
)


@dataclass(frozen=True)
class Identified:
    """A disclosed build placed in the table."""

    version: tuple[int, ...]
    product: ExchangeProduct | None
    #: Rows of the build's CU (all dates), lowest first; empty when the CU is not in the table.
    cu_rows: tuple[BuildRow, ...]
    #: 4-part builds only: the row the build is read as (exact, nearest lower, or the CU release, G3).
    installed: BuildRow | None
    exact: bool
    #: The day judged: the observation day, or the installed row's release if the clock is behind it.
    as_of: date

    @property
    def cu_label(self) -> str | None:
        row = self.installed or next((r for r in self.cu_rows if r.update is None), None)
        return None if row is None else row.cu_label

    @property
    def effective(self) -> BuildNumber | None:
        """The 4-part build compared with fixes: as observed, but never below its CU's release (G3)."""
        if len(self.version) != 4:
            return None
        observed = BuildNumber(*self.version)
        return max(observed, self.cu_rows[0].build_short) if self.cu_rows else observed


def identify(tables: ExchangeTables, version: tuple[int, ...], observed_on: date) -> Identified:
    product = product_of(version)
    rows = tables.by_cu.get((version[0], version[1], version[2]), ()) if len(version) >= 3 else ()
    installed, exact = None, False
    if len(version) == 4 and rows:
        below = [r for r in rows if r.build_short <= BuildNumber(*version)]
        installed = below[-1] if below else rows[0]
        exact = installed.build_short == BuildNumber(*version)
    as_of = max(observed_on, installed.release_date) if installed is not None else observed_on
    return Identified(tuple(version), product, rows, installed, exact, as_of)


@dataclass(frozen=True)
class Support:
    product: ExchangeProduct
    end_of_support: date | None
    ended: bool
    #: The CU still gets SUs: it is in the product's newest SU wave or newer than it. None = unknown.
    cu_serviced: bool | None
    newest_su: BuildRow | None


def support(tables: ExchangeTables, ident: Identified) -> Support | None:
    if ident.product is None:
        return None
    eos = END_OF_SUPPORT[ident.product]
    sus = [
        r
        for r in tables.builds
        if r.product is ident.product and r.is_security_update and r.release_date <= ident.as_of
    ]
    newest = max(sus, key=lambda r: (r.release_date, r.build_short), default=None)
    serviced: bool | None = None
    if newest is not None and ident.cu_rows:
        month = (newest.release_date.year, newest.release_date.month)
        wave = [r for r in sus if (r.release_date.year, r.release_date.month) == month]
        cu_release = ident.cu_rows[0].release_date
        serviced = any(r.build_short.cu_key == ident.cu_rows[0].build_short.cu_key for r in wave) or (
            cu_release >= min(r.release_date for r in wave)
        )
    return Support(ident.product, eos, eos is not None and ident.as_of >= eos, serviced, newest)


@dataclass(frozen=True)
class MissingFix:
    cve: str
    su_name: str
    #: Some SU of this CU carries the fix (False: only a newer CU does).
    on_this_cu: bool


def missing_fixes(
    tables: ExchangeTables, product: ExchangeProduct, build: BuildNumber, as_of: date
) -> tuple[tuple[MissingFix, ...], tuple[str, ...]]:
    """(CVE fixes this build lacks, CVEs only configuration can settle), for fixes public by ``as_of``."""
    missing: list[MissingFix] = []
    config: list[str] = []
    for fix in tables.fixes.get(product, ()):
        if fix.known_from is not None and fix.known_from > as_of:
            continue
        if fix.builds and build >= fix.builds[-1]:
            continue
        if fix.config_only:
            config.append(fix.cve)
            continue
        same_cu = [b for b in fix.builds if b.cu_key == build.cu_key]
        if any(build >= b for b in same_cu):
            continue
        missing.append(MissingFix(fix.cve, fix.su_name, bool(same_cu)))
    return tuple(missing), tuple(config)


@dataclass(frozen=True)
class Patch:
    #: Highest build of the CU released by the day judged.
    latest: BuildRow | None
    #: 4-part: the build is below ``latest``. None with a CU-only build.
    behind: bool | None
    #: 4-part: fixes the build lacks. CU-only: fixes even the CU's latest SU lacks (never reached it).
    missing: tuple[MissingFix, ...]
    config_dependent: tuple[str, ...]


def patch(tables: ExchangeTables, ident: Identified) -> Patch | None:
    """None when the product is not covered by the table or the CU is unknown."""
    if ident.product is None or not ident.cu_rows:
        return None
    known = [r for r in ident.cu_rows if r.release_date <= ident.as_of] or [ident.cu_rows[0]]
    latest = known[-1]
    effective = ident.effective
    probe = effective if effective is not None else latest.build_short
    missing, config = missing_fixes(tables, ident.product, probe, ident.as_of)
    behind = None if effective is None else effective < latest.build_short
    return Patch(latest, behind, missing, config)
