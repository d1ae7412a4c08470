"""Each probe's common alternate ports (alternates.toml beside this file), with their sources."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

TABLE = Path(__file__).with_name("alternates.toml")


class Alternate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    probe: str = Field(min_length=1, max_length=40)
    port: int = Field(ge=1, le=65535)
    source: str = Field(min_length=10, max_length=400)


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alternate: tuple[Alternate, ...]


@cache
def load_alternates(path: Path = TABLE) -> tuple[Alternate, ...]:
    return _File.model_validate(tomllib.loads(path.read_text(encoding="utf-8"))).alternate


def alternate_ports(probe_ids: Iterable[str], table: tuple[Alternate, ...] | None = None) -> frozenset[int]:
    """The alternate ports of these probes (the disabled ones' are not scanned for them)."""
    wanted = set(probe_ids)
    return frozenset(a.port for a in (table or load_alternates()) if a.probe in wanted)


def hinted(port: int, table: tuple[Alternate, ...] | None = None) -> tuple[str, ...]:
    """Probes that list ``port`` as an alternate: whose protocol a silent port is tried with first."""
    return tuple(a.probe for a in (table or load_alternates()) if a.port == port)
