"""Catalog entries the LAN box cannot establish on its own: the report's "what we could not check".

Each names what would settle it (a credentialed check, an attestation, a router export…), so an
absent finding is never read as a pass.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from duecare.advisories.advisory import CatalogEntry, Slug
from duecare.advisories.loader import load_toml_model
from duecare.wire import Exposure


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Unobservable(_Strict):
    entry: CatalogEntry
    title: str
    why: str
    what_would_settle_it: str
    advisories: tuple[Slug, ...] = Field(min_length=1)
    #: Exposure ids that cover part of the entry (e.g. telnet-exposed for management planes).
    partly_covered_by: tuple[Exposure, ...] = ()


class UnobservableFile(_Strict):
    entries: tuple[Unobservable, ...] = Field(min_length=1)


def load_unobservable(path: Path) -> tuple[Unobservable, ...]:
    return load_toml_model(path, UnobservableFile).entries if path.is_file() else ()
