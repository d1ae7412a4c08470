"""``duecare pull``: the MSP's nightly pull of the change feed, as JSON, CSV or OCSF.

The cursor file moves only after the output is safely written (temp file, fsync, rename), so a
pull that dies half-way is simply repeated by the next one: changes may be delivered twice,
never skipped.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from collector.exports import ExportFormat, Names
from collector.exports import csv as csv_export
from collector.exports import ocsf as ocsf_export
from collector.schemas import ChangeOut, ChangesPage, ClientsList
from collector.state import product_version


class PullError(Exception):
    """The collector refused or could not be reached; the message says which."""


@dataclass(frozen=True)
class PullSummary:
    changes: int
    cursor_before: str
    cursor_after: str


def read_cursor(path: Path | None) -> str:
    if path is None or not path.exists():
        return "0"
    text = path.read_text(encoding="utf-8").strip()
    if not text.isdigit():
        raise PullError(f"{path}: not a cursor (expected digits, got {text[:40]!r})")
    return text


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, rename over, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class CollectorClient:
    def __init__(self, base_url: str, read_key: str, *, transport: httpx.BaseTransport | None = None,
                 timeout_s: float = 60.0) -> None:  # fmt: skip
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s,
            headers={"authorization": f"Bearer {read_key}"},
        )  # fmt: skip

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, str | int] | None = None) -> bytes:
        try:
            resp = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise PullError(f"collector unreachable: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text[:200]
            raise PullError(f"collector answered {resp.status_code}: {detail}")
        return resp.content

    def names(self) -> Names:
        clients = ClientsList.model_validate_json(self._get("/v1/clients")).clients
        return Names({c.id: c.name for c in clients}, {s.id: s.name for c in clients for s in c.sites})

    def changes(self, cursor: str, page_size: int = 1000) -> Iterator[ChangesPage]:
        while True:
            page = ChangesPage.model_validate_json(self._get("/v1/changes", {"cursor": cursor, "limit": page_size}))
            yield page
            if not page.has_more or page.next_cursor == cursor:
                return
            cursor = page.next_cursor


def render(changes: list[ChangeOut], fmt: ExportFormat, names: Names, cursor_before: str, cursor_after: str) -> bytes:
    if fmt is ExportFormat.CSV:
        return b"".join(csv_export.changes_csv(changes, names))
    if fmt is ExportFormat.OCSF:
        events = list(ocsf_export.change_events(changes, names, product_version=product_version()))
        return json.dumps(events, separators=(",", ":")).encode()
    doc = {
        "cursor_before": cursor_before, "cursor": cursor_after,
        "clients": names.tenants, "sites": names.sites,
        "changes": [c.model_dump(mode="json", exclude_none=True) for c in changes],
    }  # fmt: skip
    return json.dumps(doc, separators=(",", ":")).encode()


def pull(
    collector: str, read_key: str, *, cursor_file: Path | None, fmt: ExportFormat, output: Path | None,
    page_size: int = 1000, transport: httpx.BaseTransport | None = None,
) -> PullSummary:  # fmt: skip
    before = read_cursor(cursor_file)
    with CollectorClient(collector, read_key, transport=transport) as client:
        names = client.names()
        changes: list[ChangeOut] = []
        after = before
        for page in client.changes(before, page_size):
            changes.extend(page.changes)
            after = page.next_cursor
    data = render(changes, fmt, names, before, after)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomically(output, data)
    if cursor_file is not None:
        write_atomically(cursor_file, after.encode() + b"\n")
    return PullSummary(len(changes), before, after)
