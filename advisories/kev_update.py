"""Refreshing the KEV snapshot: validate a newer feed, then replace the state copy atomically.

The packaged snapshot is read-only; updates go to ``<state_dir>/kev/``. A feed that fails CISA's
JSON Schema, or that is older than what we already have, is refused and nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from duecare.advisories.errors import AdvisoriesError, CatalogError
from duecare.advisories.kev import KEV_SCHEMA_FILE, Kev, load_kev, parse_kev, state_kev_path
from duecare.files import write_atomic

#: CISA's published feed (advisory catalog, Appendix B).
KEV_FEED_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"


class KevUpdateError(AdvisoriesError):
    """The feed could not be fetched, parsed or validated; the existing snapshot is untouched."""


@dataclass(frozen=True, slots=True)
class KevUpdateResult:
    path: Path
    catalog_version: str
    count: int
    previous_version: str | None
    changed: bool


def schema_errors(document: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of CISA's schema (draft-07, with date formats checked), path first."""
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    out = []
    for err in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{where}: {err.message}")
    return out


def validate_feed(raw: bytes, schema_path: Path, source: str) -> Kev:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KevUpdateError(f"{source}: not JSON: {exc}") from exc
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    errors = schema_errors(document, schema)
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise KevUpdateError(f"{source}: fails the KEV schema: {'; '.join(errors[:3])}{more}")
    try:
        return parse_kev(raw, Path(source))
    except CatalogError as exc:
        raise KevUpdateError(str(exc)) from exc


def update_kev(
    packaged_dir: Path,
    state_dir: Path,
    raw: bytes,
    source: str,
) -> KevUpdateResult:
    """Validate the feed ``raw`` (read from ``source``, named in errors) and install it as the state-dir snapshot.

    Refuses a feed released before the snapshot in use, so a stale mirror cannot roll us back.
    """
    new = validate_feed(raw, packaged_dir / KEV_SCHEMA_FILE, source)
    try:
        current = load_kev(packaged_dir, state_dir)
    except CatalogError:
        current = None  # a damaged state copy is exactly what an update should replace
    target = state_kev_path(state_dir)
    if current is not None and new.catalog.date_released < current.catalog.date_released:
        raise KevUpdateError(
            f"{source}: catalog {new.version} (released {new.catalog.date_released.isoformat()}) is older "
            f"than the one in use, {current.version} ({current.catalog.date_released.isoformat()})"
        )
    changed = current is None or new.catalog.date_released > current.catalog.date_released
    if changed or not target.is_file():
        write_atomic(target, raw, mode=0o644)
    return KevUpdateResult(
        path=target,
        catalog_version=new.version,
        count=new.catalog.count,
        previous_version=current.version if current else None,
        changed=changed,
    )
