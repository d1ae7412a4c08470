"""Query parameters shared by the read endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

ClientParam = Annotated[str | None, Query(max_length=32, description="Client id")]
SiteParam = Annotated[str | None, Query(max_length=32, description="Site id")]
Cursor = Annotated[str, Query(pattern=r"^[0-9]{1,18}$", description="Opaque: pass back next_cursor")]
Limit = Annotated[int, Query(ge=1, le=100_000, description="Page size (capped by the collector)")]
FindingStatusParam = Annotated[Literal["new", "open", "resolved", "reopened"] | None, Query()]
AssetStatusParam = Annotated[Literal["new", "present", "vanished", "returned"] | None, Query()]
ObligationStatusParam = Annotated[Literal["met", "not_met", "unknown", "waived"] | None, Query()]
