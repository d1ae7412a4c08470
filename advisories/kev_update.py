"""Refreshing the KEV snapshot: validate a newer feed, then replace the state copy atomically.

The packaged snapshot is read-only; updates go to ``<state_dir>/kev/``. A feed that fails CISA's
JSON Schema, or that is older than what we already have, is refused and nothing is written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from advisories.errors import CatalogError
from advisories.kev import KEV_SCHEMA_FILE, Kev, load_kev, parse_kev, state_kev_path

#: CISA's published feed (advisory catalog, Appendix B).
KEV_FEED_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
#: The 2025 feed is ~1.3 MB; anything far beyond that is not the catalog.
MAX_FEED_BYTES = 32 * 1024 * 1024

Fetcher = Callable[[str], bytes]


class KevUpdateError(Exception):
    """The feed could not be fetched, parsed or validated; the existing snapshot is untouched."""


@dataclass(frozen=True, slots=True)
class KevUpdateResult:
    path: Path
    catalog_version: str
    count: int
    previous_version: str | None
    changed: bool


def fetch_url(url: str, *, timeout: float = 30.0) -> bytes:
    """GET a feed with a size cap. Only http(s); redirects are not followed (say the final URL)."""
    if not url.startswith(("http://", "https://")):
        raise KevUpdateError(f"not an http(s) URL: {url}")
    try:
        client = httpx.Client(timeout=timeout, follow_redirects=False)
        with client, client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise KevUpdateError(f"GET {url}: HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise KevUpdateError(f"GET {url}: body larger than {MAX_FEED_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise KevUpdateError(f"GET {url}: {type(exc).__name__}: {exc}") from exc


def read_source(source: str, fetch: Fetcher = fetch_url) -> bytes:
    if source.startswith(("http://", "https://")):
        return fetch(source)
    path = Path(source)
    try:
        if path.stat().st_size > MAX_FEED_BYTES:
            raise KevUpdateError(f"{path}: larger than {MAX_FEED_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise KevUpdateError(f"cannot read {path}: {exc}") from exc


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


def write_atomically(path: Path, data: bytes) -> None:
    """tmp file in the same directory + fsync + rename + directory fsync: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def update_kev(
    packaged_dir: Path,
    state_dir: Path,
    source: str = KEV_FEED_URL,
    *,
    fetch: Fetcher = fetch_url,
) -> KevUpdateResult:
    """Validate ``source`` (file path or URL) and install it as the state-dir snapshot.

    Refuses a feed released before the snapshot in use, so a stale mirror cannot roll us back.
    """
    raw = read_source(source, fetch)
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
        write_atomically(target, raw)
    return KevUpdateResult(
        path=target,
        catalog_version=new.version,
        count=new.catalog.count,
        previous_version=current.version if current else None,
        changed=changed,
    )
