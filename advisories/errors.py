"""Errors of the advisories family. Catalog errors name the file, the line where we can find it, and the field."""

from __future__ import annotations

from pathlib import Path

from duecare.errors import DuecareError


class AdvisoriesError(DuecareError):
    """Root of the advisories family."""


class CatalogError(AdvisoriesError):
    def __init__(self, path: Path, message: str, *, line: int | None = None, field: str | None = None):
        self.path = path
        self.line = line
        self.field = field
        where = f"{path}" + (f":{line}" if line else "")
        what = f" [{field}]" if field else ""
        super().__init__(f"{where}{what}: {message}")
