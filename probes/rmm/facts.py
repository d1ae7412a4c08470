"""Remote-access / RMM tools listening on a port (CISA AA23-025A, MSP supply-chain risk)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts


class RmmMatch(Facts):
    product: str = Field(max_length=80)
    #: "firm": banner or page matched the product; "tentative": only the port number fits.
    confidence: Literal["firm", "tentative"]
    basis: str = Field(max_length=200)


class RmmFacts(Facts):
    matches: tuple[RmmMatch, ...] = Field(default=(), max_length=16)
    #: What the port said on its own (first bytes), for a person to judge a tentative match.
    banner: str | None = Field(default=None, max_length=512)
    http_status: int | None = None
    http_title: str | None = Field(default=None, max_length=200)
