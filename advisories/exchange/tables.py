"""The two Exchange data tables (advisories/data/exchange), validated at load and indexed.

``exchange-builds.csv`` is Microsoft's build table (CU releases, and SU/HU builds from March 2021 on);
``exchange-vulns.csv`` maps CVEs to the builds that fix them (CSS-Exchange HealthChecker). SU builds that
only the second file knows (pre-2021 SUs, G4) are folded into the per-CU index, so "latest SU of a CU"
and "nearest lower known build" see them too.
"""

from __future__ import annotations

import csv
import enum
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from duecare.advisories.errors import CatalogError

DATA_DIR = Path(__file__).parent.parent / "data" / "exchange"
BUILDS_FILE = "exchange-builds.csv"
VULNS_FILE = "exchange-vulns.csv"


class ExchangeProduct(enum.StrEnum):
    EXCHANGE_2000 = "Exchange 2000 Server"
    EXCHANGE_2003 = "Exchange Server 2003"
    EXCHANGE_2007 = "Exchange Server 2007"
    EXCHANGE_2010 = "Exchange Server 2010"
    EXCHANGE_2013 = "Exchange Server 2013"
    EXCHANGE_2016 = "Exchange Server 2016"
    EXCHANGE_2019 = "Exchange Server 2019"
    EXCHANGE_SE = "Exchange Server SE"


#: End of extended support. 2013/2016/2019: CSS-Exchange HealthChecker ``extendedSupportDate``
#: (commit f88378b1); 2000–2010: Microsoft lifecycle dates (general knowledge, long past either way).
#: SE follows the Modern Lifecycle (no fixed end while kept current): None.
END_OF_SUPPORT: MappingProxyType[ExchangeProduct, date | None] = MappingProxyType(
    {
        ExchangeProduct.EXCHANGE_2000: date(2011, 1, 11),
        ExchangeProduct.EXCHANGE_2003: date(2014, 4, 8),
        ExchangeProduct.EXCHANGE_2007: date(2017, 4, 11),
        ExchangeProduct.EXCHANGE_2010: date(2020, 10, 13),
        ExchangeProduct.EXCHANGE_2013: date(2023, 4, 11),
        ExchangeProduct.EXCHANGE_2016: date(2025, 10, 14),
        ExchangeProduct.EXCHANGE_2019: date(2025, 10, 14),
        ExchangeProduct.EXCHANGE_SE: None,
    }
)
#: First 15.2 build that is Exchange SE, not 2019 (HealthChecker: ``Build -ge 2562``).
SE_FIRST_BUILD = 2562


class BuildNumber(NamedTuple):
    """A 4-part build; NamedTuple so comparisons are numeric and lexicographic, never on strings."""

    major: int
    minor: int
    build: int
    revision: int

    @classmethod
    def parse(cls, text: str) -> BuildNumber:
        parts = text.strip().split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 5 for p in parts):
            raise ValueError(f"not a 4-part build number: {text!r}")
        return cls(*(int(p) for p in parts))

    @property
    def cu_key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.build)

    def __str__(self) -> str:
        return ".".join(str(p) for p in self)


def product_of(parts: tuple[int, ...]) -> ExchangeProduct | None:
    """The product a build (3 or 4 parts) belongs to; None for numbers no Exchange ever had."""
    if len(parts) < 3:
        return None
    major, minor, build = parts[0], parts[1], parts[2]
    legacy = {6: ExchangeProduct.EXCHANGE_2003 if minor >= 5 else ExchangeProduct.EXCHANGE_2000}
    legacy |= {8: ExchangeProduct.EXCHANGE_2007, 14: ExchangeProduct.EXCHANGE_2010}
    if major in legacy:
        return legacy[major]
    if major != 15:
        return None
    if minor == 2:
        return ExchangeProduct.EXCHANGE_SE if build >= SE_FIRST_BUILD else ExchangeProduct.EXCHANGE_2019
    return {0: ExchangeProduct.EXCHANGE_2013, 1: ExchangeProduct.EXCHANGE_2016}.get(minor)


def _build(value: object) -> object:
    return BuildNumber.parse(value) if isinstance(value, str) else value


Build = Annotated[BuildNumber, BeforeValidator(_build)]
_LABEL_RE = re.compile(r"^(CU\d+|RTM|SP1|Preview)\b(?:\s+(\w+))?")
_SU_NAME_RE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(\d\d)(SU|HU)(v\d+)?$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BuildRow(_Row):
    """One row of Microsoft's build table: a CU/RTM release or one of its security/hotfix updates."""

    product: ExchangeProduct
    name: str = Field(min_length=1, max_length=120)
    release_date: date
    build_short: Build
    build_long: str
    #: "healthchecker": an SU build known only from exchange-vulns.csv; its date is the SU name's month.
    origin: Literal["docs", "healthchecker"] = "docs"

    @model_validator(mode="after")
    def _consistent(self) -> BuildRow:
        if product_of(tuple(self.build_short)) is not self.product:
            raise ValueError(f"build {self.build_short} does not belong to {self.product}")
        b = self.build_short
        if self.build_long != f"{b.major}.{b.minor:02d}.{b.build:04d}.{b.revision:03d}":
            raise ValueError(f"build_long {self.build_long!r} disagrees with {b}")
        if not self.name.startswith(f"{self.product} ") or _LABEL_RE.match(self.cu_and_update) is None:
            raise ValueError(f"name {self.name!r} is not '<product> <CU|RTM|SP1|Preview> [update]'")
        return self

    @property
    def cu_and_update(self) -> str:
        return self.name[len(self.product) + 1 :]

    @property
    def cu_label(self) -> str:
        """CU23, RTM, SP1 (= CU4 on 2013) or Preview."""
        m = _LABEL_RE.match(self.cu_and_update)
        return m.group(1) if m else ""

    @property
    def update(self) -> str | None:
        """The SU/HU name ("Nov22SU", "Apr24HU"), or None for the CU release itself."""
        m = _LABEL_RE.match(self.cu_and_update)
        word = m.group(2) if m else None
        return word if word is not None and _SU_NAME_RE.match(word) else None

    @property
    def is_security_update(self) -> bool:
        return self.update is not None and "SU" in self.update

    @property
    def when(self) -> str:
        """Release day, or only the month where that is all we know."""
        return self.release_date.isoformat()[: 7 if self.origin == "healthchecker" else 10]


class VulnRow(_Row):
    #: A CVE id, or a Microsoft advisory id (ADV190018) where HealthChecker lists one.
    cve: str = Field(pattern=r"^(CVE-\d{4}-\d{4,7}|ADV\d{6})$")
    product: ExchangeProduct
    cu_name: str = Field(min_length=1, max_length=40)
    fixed_in_build: Build | Literal["NONE", "CONFIG"]
    su_name: str = Field(max_length=40)
    note: str = Field(max_length=1000)


def _read_csv(path: Path, model: type[_Row]) -> list[_Row]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CatalogError(path, f"cannot read: {exc}") from exc
    out: list[_Row] = []
    for i, raw in enumerate(rows, start=2):  # line 1 is the header
        try:
            out.append(model.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or None
            raise CatalogError(path, err["msg"], line=i, field=where) from exc
    return out


def su_month(name: str) -> date | None:
    """First day of the month an SU/HU name stands for ("Mar21SU" → 2021-03-01)."""
    m = _SU_NAME_RE.match(name)
    return None if m is None else date(2000 + int(m.group(2)), _MONTHS.index(m.group(1)) + 1, 1)


@dataclass(frozen=True)
class CveFix:
    """One CVE's fix for one product: the builds that carry it and when it became known."""

    cve: str
    product: ExchangeProduct
    su_name: str
    builds: tuple[BuildNumber, ...]
    config_only: bool
    known_from: date | None


@dataclass(frozen=True)
class ExchangeTables:
    """Both CSVs, validated and indexed. Load once per engine (``load_exchange_tables``), pass it in."""

    builds: tuple[BuildRow, ...]
    vulns: tuple[VulnRow, ...]
    by_cu: dict[tuple[int, int, int], tuple[BuildRow, ...]] = field(init=False, repr=False)
    fixes: dict[ExchangeProduct, tuple[CveFix, ...]] = field(init=False, repr=False)
    _released: dict[tuple[ExchangeProduct | None, str], date] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_cu: defaultdict[tuple[int, int, int], list[BuildRow]] = defaultdict(list)
        for row in self.builds + self._healthchecker_rows():
            by_cu[row.build_short.cu_key].append(row)
        object.__setattr__(self, "by_cu", {k: tuple(sorted(v, key=lambda r: r.build_short)) for k, v in by_cu.items()})
        released: dict[tuple[ExchangeProduct | None, str], date] = {}
        for row in self.builds:
            if row.update is not None:
                for key in ((row.product, row.update), (None, row.update)):
                    released[key] = min(released.get(key, row.release_date), row.release_date)
        object.__setattr__(self, "_released", released)
        object.__setattr__(self, "fixes", self._index_fixes())

    def _healthchecker_rows(self) -> tuple[BuildRow, ...]:
        """SU builds named for one CU in the vulns table but absent from Microsoft's table."""
        known = {r.build_short for r in self.builds}
        extra: dict[BuildNumber, BuildRow] = {}
        for v in self.vulns:
            b, month = v.fixed_in_build, su_month(v.su_name)
            if not isinstance(b, BuildNumber) or b in known or b in extra or month is None:
                continue
            if not re.fullmatch(r"CU\d+|RTM|SP1", v.cu_name) or product_of(tuple(b)) is not v.product:
                continue
            extra[b] = BuildRow(
                product=v.product,
                name=f"{v.product} {v.cu_name} {v.su_name}",
                release_date=month,
                build_short=b,
                build_long=f"{b.major}.{b.minor:02d}.{b.build:04d}.{b.revision:03d}",
                origin="healthchecker",
            )
        return tuple(extra.values())

    def _su_date(self, product: ExchangeProduct, su_name: str, builds: list[BuildNumber]) -> date | None:
        """When a fix became public: its SU's release in the build table, else the month in its name."""
        released = self._released
        dated = released.get((product, su_name)) or released.get((None, su_name))
        month = su_month(su_name)  # pre-2021 SUs are not in the table; their name gives the month
        if dated is None and month is None:
            in_table = [r.release_date for r in self.builds if r.build_short in builds]
            dated = min(in_table) if in_table else None
        return dated or month

    def _index_fixes(self) -> dict[ExchangeProduct, tuple[CveFix, ...]]:
        grouped: defaultdict[tuple[str, ExchangeProduct], list[VulnRow]] = defaultdict(list)
        for v in self.vulns:
            grouped[(v.cve, v.product)].append(v)
        out: defaultdict[ExchangeProduct, list[CveFix]] = defaultdict(list)
        for (cve, product), rows in grouped.items():
            builds = sorted(r.fixed_in_build for r in rows if isinstance(r.fixed_in_build, BuildNumber))
            su = next((r.su_name for r in rows if r.su_name and isinstance(r.fixed_in_build, BuildNumber)), "")
            dates = [d for r in rows if r.su_name for d in [self._su_date(product, r.su_name, builds)] if d]
            out[product].append(
                CveFix(
                    cve=cve,
                    product=product,
                    su_name=su,
                    builds=tuple(builds),
                    config_only=any(r.fixed_in_build == "CONFIG" for r in rows),
                    known_from=min(dates) if dates else None,
                )
            )
        return {p: tuple(sorted(v, key=lambda f: f.cve)) for p, v in out.items()}

    @property
    def newest_release(self) -> date:
        return max(r.release_date for r in self.builds)


def load_exchange_tables(directory: Path = DATA_DIR) -> ExchangeTables:
    builds = [r for r in _read_csv(directory / BUILDS_FILE, BuildRow) if isinstance(r, BuildRow)]
    vulns = [r for r in _read_csv(directory / VULNS_FILE, VulnRow) if isinstance(r, VulnRow)]
    if not builds:
        raise CatalogError(directory / BUILDS_FILE, "no rows")
    return ExchangeTables(tuple(builds), tuple(vulns))
