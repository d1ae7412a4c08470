"""Query parameters shared by the read endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from duecare.wire import ObligationStatus
from duecare.wire.api import AssetStatus, FindingStatus

ClientParam = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="Client id")]
SiteParam = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="Site id")]
Cursor = Annotated[
    str,
    Query(
        max_length=32,
        # 0, an opaque cursor, or digits: a cursor of a collector before 0006, answered by name.
        pattern=r"^(0|[0-9]{1,18}|[0-9a-f]{32})$",
        description="Opaque, per key and scope: pass back next_cursor (0: from the start)",
    ),
]
Limit = Annotated[int, Query(ge=1, le=100_000, description="Page size (capped by the collector)")]
FindingStatusParam = Annotated[FindingStatus | None, Query()]
AssetStatusParam = Annotated[AssetStatus | None, Query()]
ObligationStatusParam = Annotated[ObligationStatus | None, Query()]
