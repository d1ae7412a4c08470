"""The lifecycle data (advisories/data/lifecycle), validated at load: one bad row names file, line and field.

``windows.csv``: one row per (announced NTLM version, release, edition group) with Microsoft's end of
support and, where Microsoft sells them, the end of Extended Security Updates. ``iis.csv``: the IIS
version each Windows release ships. ``exposures.toml``: the owner-facing wording of both exposures.
"""

from __future__ import annotations

import csv
import enum
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from duecare.advisories.errors import CatalogError
from duecare.advisories.loader import load_toml_model
from duecare.wire import Exposure, Severity

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "lifecycle"
WINDOWS_FILE = "windows.csv"
IIS_FILE = "iis.csv"
WORDING_FILE = "exposures.toml"

Version3 = Annotated[str, Field(pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,5}$")]
Url = Annotated[str, Field(pattern=r"^https://\S+$")]


class Kind(enum.StrEnum):
    """Client or server release; ``both`` for the one release (Windows 2000) sold as either."""

    CLIENT = "client"
    SERVER = "server"
    BOTH = "both"


class Edition(enum.StrEnum):
    """Edition groups whose end dates differ (Windows 10/11 Home/Pro vs Enterprise/Education vs LTSC)."""

    ALL = "all"
    HOME_PRO = "home-pro"
    ENTERPRISE = "enterprise"
    LTSC = "ltsc"
    IOT_LTSC = "iot-ltsc"


def version_key(text: str) -> tuple[int, int, int]:
    major, minor, build = (int(p) for p in text.split("."))
    return (major, minor, build)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowsRelease(_Strict):
    #: The release's own version (major.minor.build).
    version: Version3
    #: What its NTLM CHALLENGE announces when that differs (enablement packages announce their base build).
    announced_as: Version3 | None = None
    release: str = Field(min_length=3, max_length=80)
    kind: Kind
    editions: tuple[Edition, ...] = Field(min_length=1)
    end_of_support: date
    #: Last day Microsoft's paid Extended Security Updates cover it (None: no ESU programme).
    esu_until: date | None = None
    #: The Microsoft lifecycle page the date belongs to.
    source: Url
    #: The page actually read to confirm the date and build (a dated copy: Microsoft's pages were not fetched).
    evidence: Url
    #: ``search``: confirmed against ``evidence``; ``memory``: not re-checked (kept only until someone checks it).
    checked: Literal["search", "memory"]

    @model_validator(mode="after")
    def _dates(self) -> WindowsRelease:
        if self.esu_until is not None and self.esu_until <= self.end_of_support:
            raise ValueError("esu_until must be after end_of_support")
        return self

    @property
    def announced(self) -> str:
        return self.announced_as or self.version

    @property
    def label(self) -> str:
        eds = "/".join(e.value for e in self.editions if e is not Edition.ALL)
        return f"{self.release} ({eds})" if eds else self.release


class IisRelease(_Strict):
    iis: str = Field(pattern=r"^\d{1,2}\.\d$")
    #: Windows major.minor that ships this IIS version.
    windows: str = Field(pattern=r"^\d{1,2}\.\d$")
    source: Url


class Wording(_Strict):
    id: Exposure
    title: str
    severity: Severity
    summary: str
    remediation: str


class WordingFile(_Strict):
    exposures: tuple[Wording, ...] = Field(min_length=2, max_length=2)


@dataclass(frozen=True)
class LifecycleTables:
    windows: tuple[WindowsRelease, ...]
    iis: tuple[IisRelease, ...]
    wording: dict[Exposure, Wording]
    by_announced: dict[str, tuple[WindowsRelease, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        idx: defaultdict[str, list[WindowsRelease]] = defaultdict(list)
        for r in self.windows:
            idx[r.announced].append(r)
            if r.announced_as is not None:
                idx[r.version].append(r)
        object.__setattr__(self, "by_announced", {k: tuple(v) for k, v in idx.items()})

    def candidates(self, version: str) -> tuple[WindowsRelease, ...]:
        """Every release that announces ``version`` in NTLM (or is that release's own build)."""
        return self.by_announced.get(version, ())

    def major_minor(self, major_minor: str) -> tuple[WindowsRelease, ...]:
        return tuple(r for r in self.windows if r.version.rsplit(".", 1)[0] == major_minor)

    def iis_windows(self, iis: str) -> str | None:
        return next((r.windows for r in self.iis if r.iis == iis), None)


def _rows(path: Path, model: type[_Strict], listed: frozenset[str] = frozenset()) -> list[dict[str, object]]:
    """CSV rows as dicts; a missing/extra column or a bad row raises naming its line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(path, f"cannot read: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    want = set(model.model_fields)
    got = set(reader.fieldnames or ())
    if got != want:
        missing, extra = sorted(want - got), sorted(got - want)
        raise CatalogError(path, f"columns: missing {missing}, unexpected {extra}", line=1)
    out: list[dict[str, object]] = []
    for line, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise CatalogError(path, "wrong number of columns", line=line)
        raw: dict[str, object] = {k: (v.strip() or None) for k, v in row.items()}
        for key in listed:
            raw[key] = tuple((str(raw[key]) if raw[key] else "").split())
        raw = {k: v for k, v in raw.items() if v is not None}
        out.append(raw)
    return out


def _validate(path: Path, model: type[_Strict], rows: list[dict[str, object]]) -> list[_Strict]:
    items = []
    for line, raw in enumerate(rows, start=2):
        try:
            items.append(model.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or None
            raise CatalogError(path, f"{err['msg']} (value {err.get('input')!r})", line=line, field=where) from exc
    return items


_SAME_BUILD = re.compile(r"^(\d+\.\d+)\.")


def _check_windows(path: Path, rows: list[WindowsRelease]) -> None:
    seen: set[tuple[str, str, tuple[Edition, ...]]] = set()
    for line, r in enumerate(rows, start=2):
        key = (r.version, r.release, r.editions)
        if key in seen:
            raise CatalogError(path, f"duplicate row {r.version} {r.release}", line=line, field="release")
        seen.add(key)
        if r.announced_as is not None:
            base, own = _SAME_BUILD.match(r.announced_as), _SAME_BUILD.match(r.version)
            if base is None or own is None or base.group(1) != own.group(1):
                raise CatalogError(
                    path, "announced_as must share major.minor with version", line=line, field="announced_as"
                )


def load_lifecycle(data_dir: Path = DATA_DIR) -> LifecycleTables:
    win_path, iis_path, wording_path = data_dir / WINDOWS_FILE, data_dir / IIS_FILE, data_dir / WORDING_FILE
    rows = _validate(win_path, WindowsRelease, _rows(win_path, WindowsRelease, frozenset({"editions"})))
    win = [r for r in rows if isinstance(r, WindowsRelease)]
    if not win:
        raise CatalogError(win_path, "no rows")
    _check_windows(win_path, win)
    iis = [r for r in _validate(iis_path, IisRelease, _rows(iis_path, IisRelease)) if isinstance(r, IisRelease)]
    known = {r.version.rsplit(".", 1)[0] for r in win}
    for line, r in enumerate(iis, start=2):
        if r.windows not in known:
            raise CatalogError(iis_path, f"no Windows {r.windows} row in {WINDOWS_FILE}", line=line, field="windows")
    wording = load_toml_model(wording_path, WordingFile)
    ids = {w.id for w in wording.exposures}
    if ids != {Exposure.OS_END_OF_LIFE, Exposure.PRODUCT_END_OF_LIFE}:
        raise CatalogError(wording_path, "must word exactly os-end-of-life and product-end-of-life", field="id")
    return LifecycleTables(tuple(win), tuple(iis), {w.id: w for w in wording.exposures})
