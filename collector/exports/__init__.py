"""Export formats for the MSP pull: JSON, CSV and OCSF. Pure functions over the public models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from duecare.wire.api import ExportFormat

__all__ = ["MEDIA_TYPES", "ExportFormat", "Names"]


MEDIA_TYPES = {
    ExportFormat.JSON: "application/json",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.OCSF: "application/json",
}


@dataclass(frozen=True)
class Names:
    """Display names the exports add to ids: tenants and sites."""

    tenants: Mapping[str, str] = field(default_factory=dict)
    sites: Mapping[str, str] = field(default_factory=dict)

    def tenant(self, client_id: str) -> str:
        return self.tenants.get(client_id, client_id)

    def site(self, site_id: str) -> str:
        return self.sites.get(site_id, site_id)
