"""The one client of the collector's read API (``/v1``): ``duecare pull``, ``duecare report --collector``.

Read keys come from a file by one rule (:func:`read_key_file`). Every answer is validated against the
read API's own models (``duecare.wire.api``); a refusal becomes one ``ReadClientError`` line that says
what the collector answered.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from duecare.files import write_atomic, write_atomic_stream
from duecare.report.errors import ReadClientError
from duecare.wire.api import (
    COUNT_HEADER,
    CURSOR_HEADER,
    ChangeOut,
    ChangesPage,
    ClientsList,
    ExportFormat,
    FindingOut,
    FindingsPage,
    StoredReport,
)

M = TypeVar("M", bound=BaseModel)
PAGE = 1000


def read_key_file(path: Path) -> str:
    """The key is the last non-empty line: ``duecare collector add-reader > reader.key`` works as is."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise ReadClientError(f"{path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ReadClientError(f"{path}: not a text file (expected a collector read key)") from exc
    if not lines:
        raise ReadClientError(f"{path}: empty (expected a collector read key)")
    return lines[-1]


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("detail", resp.text[:200])) if isinstance(body, dict) else resp.text[:200]
    except ValueError:
        return resp.text[:200]


@dataclass(frozen=True)
class SiteRef:
    client_id: str
    client: str
    site_id: str
    site: str


class ReadClient:
    """A read-key session with one collector."""

    def __init__(
        self, base_url: str, read_key: str, *, transport: httpx.BaseTransport | None = None, timeout_s: float = 60.0
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout_s,
            headers={"authorization": f"Bearer {read_key}"},
        )

    def __enter__(self) -> ReadClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def get(self, path: str, model: type[M], params: dict[str, str | int] | None = None) -> M:
        try:
            resp = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ReadClientError(f"collector unreachable: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise ReadClientError(f"collector answered {resp.status_code} for {path}: {_detail(resp)}")
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise ReadClientError(f"unexpected answer from {path}: {exc.errors()[0]['msg']}") from exc

    def clients(self) -> ClientsList:
        return self.get("/v1/clients", ClientsList)

    def find_site(self, wanted: str) -> SiteRef:
        """A site by id, or by name when the name is unique among the sites this key may read."""
        pairs = [(c, s) for c in self.clients().clients for s in c.sites]
        for c, s in pairs:
            if s.id == wanted:
                return SiteRef(c.id, c.name, s.id, s.name)
        named = [(c, s) for c, s in pairs if s.name.casefold() == wanted.casefold()]
        if len(named) == 1:
            c, s = named[0]
            return SiteRef(c.id, c.name, s.id, s.name)
        if named:
            ids = ", ".join(f"{s.id} ({c.name})" for c, s in named)
            raise ReadClientError(f"site name {wanted!r} is ambiguous; use one of the ids: {ids}")
        known = ", ".join(f"{s.id} {s.name!r}" for _, s in pairs) or "none"
        raise ReadClientError(f"no site {wanted!r} readable with this key (sites: {known})")

    def changes(self, *, site: str | None = None, cursor: str = "0") -> Iterator[ChangeOut]:
        while True:
            params: dict[str, str | int] = {"cursor": cursor, "limit": PAGE}
            if site is not None:
                params["site"] = site
            page = self.get("/v1/changes", ChangesPage, params)
            yield from page.changes
            if not page.has_more or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    def findings(self, *, site: str | None = None) -> Iterator[FindingOut]:
        cursor: str | None = "0"
        while cursor is not None:
            params: dict[str, str | int] = {"cursor": cursor, "limit": PAGE}
            if site is not None:
                params["site"] = site
            page = self.get("/v1/findings", FindingsPage, params)
            yield from page.findings
            cursor = page.next_cursor

    def stored_report(self, report_id: str) -> StoredReport:
        return self.get(f"/v1/reports/{report_id}", StoredReport)

    def export_changes(self, fmt: ExportFormat, cursor: str, sink: Path | None) -> tuple[str, int]:
        """Stream ``/v1/export/changes`` into ``sink`` (atomically) or stdout; returns (new cursor, count)."""
        params = {"format": fmt.value, "cursor": cursor}
        try:
            with self._http.stream("GET", "/v1/export/changes", params=params) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise ReadClientError(f"collector answered {resp.status_code}: {_detail(resp)}")
                after = resp.headers.get(CURSOR_HEADER, "")
                count = resp.headers.get(COUNT_HEADER, "")
                if not _CURSOR.fullmatch(after) or not count.isdigit():
                    raise ReadClientError("collector answered without a cursor: is it an older version?")
                _stream_to(resp.iter_bytes(), sink)
        except httpx.HTTPError as exc:
            raise ReadClientError(f"collector unreachable: {type(exc).__name__}: {exc}") from exc
        return after, int(count)


def _stream_to(chunks: Iterator[bytes], sink: Path | None) -> None:
    if sink is not None:
        write_atomic_stream(sink, chunks)
        return
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


@dataclass(frozen=True)
class PullSummary:
    changes: int
    cursor_before: str
    cursor_after: str


#: An opaque cursor (collector 0006 and later), or ``0`` for the start; an older collector's cursor
#: was digits, which the collector now answers with a 422 that names it.
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,40}")


def read_cursor(path: Path | None) -> str:
    if path is None or not path.exists():
        return "0"
    text = path.read_text(encoding="utf-8").strip()
    if not _CURSOR.fullmatch(text):
        raise ReadClientError(f"{path}: not a cursor (expected the collector's opaque cursor, got {text[:40]!r})")
    return text


def pull(
    collector: str,
    read_key: str,
    *,
    cursor_file: Path | None,
    fmt: ExportFormat,
    output: Path | None,
    transport: httpx.BaseTransport | None = None,
) -> PullSummary:
    """Every change since the saved cursor; the cursor file moves only after the output is stored,
    so a pull that dies half-way is simply repeated: changes may come twice, never go missing."""
    before = read_cursor(cursor_file)
    with ReadClient(collector, read_key, transport=transport) as client:
        after, count = client.export_changes(fmt, before, output)
    if cursor_file is not None:
        write_atomic(cursor_file, after.encode() + b"\n")
    return PullSummary(count, before, after)
