"""The table of remote-access / RMM listeners (products.toml beside this file).

It lives in the probe package, not under advisories/data: the probe needs the ports and the
banner/title patterns to collect facts, and probes may not import advisories. Which tools a
client sanctions is the advisory side's business (the ``rmm.tool_listening`` params).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TABLE = Path(__file__).with_name("products.toml")


class Product(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=80)
    ports: tuple[int, ...] = Field(min_length=1)
    check: Literal["banner", "http", "none"]
    banner_regex: str | None = None
    http_regex: str | None = None
    sources: tuple[str, ...] = Field(min_length=1)

    @field_validator("banner_regex", "http_regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            re.compile(v, re.DOTALL)
        return v

    def matches(self, banner: bytes | None, http_text: str | None) -> bool:
        if self.check == "banner" and banner and self.banner_regex:
            return re.search(self.banner_regex, banner.decode("latin-1"), re.DOTALL) is not None
        if self.check == "http" and http_text and self.http_regex:
            return re.search(self.http_regex, http_text, re.DOTALL) is not None
        return False


class Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product: tuple[Product, ...]

    def for_port(self, port: int | None) -> tuple[Product, ...]:
        return tuple(p for p in self.product if port in p.ports)

    @property
    def ports(self) -> frozenset[int]:
        return frozenset(port for p in self.product for port in p.ports)


@cache
def load_table(path: Path = TABLE) -> Table:
    return Table.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
